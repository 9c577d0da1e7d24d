"""Background grid, encoder mask construction, background merge, descriptor initialiser."""

import pytest
import torch
import torch.nn.functional as F

from hodor.modeling.descriptor_init import init_descriptors
from hodor.modeling.masks import (
    encoder_masks_from_index,
    encoder_masks_from_probs,
    grid_cells,
    merge_bg_logits,
)


def test_grid_cells_remainder_rule():
    cells = grid_cells(8, 11, 9)  # cell 2x3, last row 4 rows, last column 5 columns
    assert cells.shape == (9, 8, 11)
    assert torch.equal(cells.sum(0), torch.ones(8, 11))  # a partition
    areas = cells.sum((1, 2)).tolist()
    assert areas == [6, 6, 10, 6, 6, 10, 12, 12, 20]
    assert cells[4, 2:4, 3:6].all() and cells[8, 4:, 6:].all()


@pytest.mark.parametrize("n,rows,cols", [(1, 1, 1), (2, 1, 2), (4, 2, 2), (12, 3, 4), (16, 4, 4)])
def test_grid_cells_supported_shapes(n, rows, cols):
    cells = grid_cells(12, 16, n)
    assert torch.equal(cells.sum(0), torch.ones(12, 16))
    assert cells[cols - 1, 0, -1] == 1 and cells[(rows - 1) * cols, -1, 0] == 1


def test_grid_cells_rejects_unsupported():
    with pytest.raises(ValueError, match="supported"):
        grid_cells(8, 8, 5)


def test_encoder_masks_from_index_matches_explicit_construction():
    torch.manual_seed(0)
    index = torch.zeros(2, 32, 48, dtype=torch.long)
    index[0, 3:20, 5:30] = 1
    index[0, 10:30, 25:47] = 2
    index[1, 0:9, 0:9] = 2
    fg, bg = encoder_masks_from_index(index, 3, 9)
    assert fg.shape == (2, 3, 4, 6) and bg.shape == (2, 9, 4, 6)
    # per output pixel: mean of the 2x2 block at rows 8i+3, 8i+4, cols 8j+3, 8j+4
    full = (index[:, None] == torch.arange(1, 4)[None, :, None, None]).float()
    block = full[..., 3::8, 3::8] + full[..., 4::8, 3::8] + full[..., 3::8, 4::8] + full[..., 4::8, 4::8]
    torch.testing.assert_close(fg, block / 4)
    assert fg[:, 2].sum() == 0  # object 3 absent
    assert set(torch.unique(torch.cat([fg.flatten(), bg.flatten()])).tolist()) <= {0, 0.25, 0.5, 0.75, 1}
    cells = grid_cells(32, 48, 9)
    bg_full = cells[None] * (index == 0)[:, None].float()
    torch.testing.assert_close(bg, F.interpolate(bg_full, size=(4, 6), mode="bilinear", align_corners=False))
    with pytest.raises(ValueError, match="multiple"):
        encoder_masks_from_index(index[:, :30], 2, 9)


def test_encoder_masks_from_probs_and_merge():
    probs = torch.softmax(torch.randn(1, 12, 6, 8), dim=1)
    fg, bg = encoder_masks_from_probs(probs[:, 10:], 9)
    assert fg.shape == (1, 2, 6, 8)
    torch.testing.assert_close(bg.sum(1), 1 - probs[:, 10:].sum(1))
    logits = torch.randn(2, 1 + 9 + 3, 5, 5)
    merged = merge_bg_logits(logits, 9)
    assert merged.shape == (2, 4, 5, 5)
    torch.testing.assert_close(merged[:, 0], logits[:, :10].amax(1))
    torch.testing.assert_close(merged[:, 1:], logits[:, 10:])


def test_init_descriptors_rules():
    torch.manual_seed(0)
    f8 = torch.randn(2, 5, 4, 6)
    fg = torch.zeros(2, 3, 4, 6)
    fg[0, 0, 1:3, 2:4] = 1.0  # mean of 4 pixels
    fg[0, 0, 0, 0] = 0.5  # exact 0.5 does not count
    fg[0, 1, 2, 5] = 0.4  # no pixel > 0.5 -> argmax fallback
    fg[0, 1, 3, 1] = 0.3
    # fg[0, 2] all zero -> pixel (0, 0); fg[1, 0] ties -> first maximum (row-major)
    fg[1, 0, 1, 1] = 0.25
    fg[1, 0, 2, 0] = 0.25
    bg = torch.zeros(2, 9, 4, 6)
    bg[:, 0, :, :3] = 0.75
    fgd, bgd = init_descriptors(f8, fg, bg)
    torch.testing.assert_close(fgd[0, 0], f8[0, :, 1:3, 2:4].mean((1, 2)))
    torch.testing.assert_close(fgd[0, 1], f8[0, :, 2, 5])
    torch.testing.assert_close(fgd[0, 2], f8[0, :, 0, 0])
    torch.testing.assert_close(fgd[1, 0], f8[1, :, 1, 1])
    torch.testing.assert_close(bgd[:, 0], f8[:, :, :, :3].mean((2, 3)))
    assert torch.equal(bgd[:, 1:], torch.zeros(2, 8, 5))
    assert not fgd.requires_grad
