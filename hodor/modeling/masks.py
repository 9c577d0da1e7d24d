"""Mask construction shared by the encoder input, the training regimes and the video predictor.

Conventions (those of the original HODOR, verified by the parity fixture):

* background descriptors belong to cells of a regular grid over the frame (3x3 for the default
  9 descriptors), cell K = row * cols + col;
* ground-truth masks are built at (padded) full resolution -- fg_i = (index == i), bg_K = cell_K
  * (index == 0) -- and then bilinearly resized by 1/8 (align_corners=False, no antialias), which
  gives soft values in {0, .25, .5, .75, 1} near edges;
* masks from a prediction are built directly at stride 8: bg_K = cell_K * (1 - sum_i p_i).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# Supported numbers of background descriptors -> (rows, cols) of the grid (original §1.5).
GRID_SHAPES: dict[int, tuple[int, int]] = {1: (1, 1), 2: (1, 2), 4: (2, 2), 9: (3, 3), 12: (3, 4), 16: (4, 4)}


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, cols) of the background grid for ``n`` descriptors."""
    if n not in GRID_SHAPES:
        raise ValueError(f"unsupported number of background descriptors {n}; supported: {sorted(GRID_SHAPES)}")
    return GRID_SHAPES[n]


def grid_cells(
    h: int, w: int, n: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Indicator maps of the ``n`` background grid cells on an h x w map -> [n, h, w].

    Original remainder rule: every cell is floor(h/rows) x floor(w/cols) and the last row / last
    column absorb the remainder (so the bottom-right cells can be noticeably larger). On maps
    smaller than the grid, the leading cells are empty and the last row/column gets everything.
    """
    rows, cols = grid_shape(n)
    ch, cw = h // rows, w // cols
    r = torch.clamp(torch.arange(h, device=device) // max(ch, 1), max=rows - 1) if ch > 0 else None
    c = torch.clamp(torch.arange(w, device=device) // max(cw, 1), max=cols - 1) if cw > 0 else None
    if r is None:
        r = torch.full((h,), rows - 1, device=device, dtype=torch.long)
    if c is None:
        c = torch.full((w,), cols - 1, device=device, dtype=torch.long)
    cell_of_pixel = r[:, None] * cols + c[None, :]  # [h, w]
    ids = torch.arange(n, device=device)
    return (cell_of_pixel[None] == ids[:, None, None]).to(dtype)


def downsample_masks(masks: Tensor, stride: int = 8) -> Tensor:
    """Bilinear resize [..., H, W] -> [..., H/stride, W/stride] (align_corners=False, no antialias).

    This is the original's resize of full-resolution masks to the encoder's stride. H and W must
    be multiples of ``stride`` (inputs are padded to a multiple of 32).
    """
    h, w = masks.shape[-2:]
    if h % stride or w % stride:
        raise ValueError(f"mask size {h}x{w} is not a multiple of {stride}; pad the input first")
    lead = masks.shape[:-2]
    x = masks.reshape(-1, 1, h, w)
    x = F.interpolate(x, size=(h // stride, w // stride), mode="bilinear", align_corners=False, antialias=False)
    return x.reshape(*lead, h // stride, w // stride)


def encoder_masks_from_index(
    index: Tensor, num_objects: int, num_bg: int, stride: int = 8, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """Ground-truth encoder masks from an index map.

    index: [B, H, W] int (0 = background, i = object i, padded with 0) ->
    (fg [B, I, H/8, W/8], bg [B, Qb, H/8, W/8]) with I = ``num_objects`` (objects 1..I, ascending).
    Objects absent from the map get an all-zero mask (the initialiser then falls back to pixel (0,0)).
    """
    if index.dim() != 3:
        raise ValueError(f"index must be [B, H, W], got shape {list(index.shape)}")
    b, h, w = index.shape
    ids = torch.arange(1, num_objects + 1, device=index.device)
    fg = (index[:, None] == ids[None, :, None, None]).to(dtype)  # [B, I, H, W]
    cells = grid_cells(h, w, num_bg, device=index.device, dtype=dtype)  # [Qb, H, W]
    bg = cells[None] * (index == 0)[:, None].to(dtype)  # [B, Qb, H, W]
    both = downsample_masks(torch.cat([fg, bg], dim=1), stride)
    return both[:, :num_objects], both[:, num_objects:]


def encoder_masks_from_probs(fg_probs: Tensor, num_bg: int) -> tuple[Tensor, Tensor]:
    """Encoder masks from predicted foreground probabilities at the encoder's stride.

    fg_probs: [B, I, h, w] (softmax over all decoder channels, object channels only) ->
    (fg = fg_probs, bg [B, Qb, h, w] = grid cell x (1 - sum_i p_i)).
    """
    h, w = fg_probs.shape[-2:]
    cells = grid_cells(h, w, num_bg, device=fg_probs.device, dtype=fg_probs.dtype)
    bg = cells[None] * (1.0 - fg_probs.sum(dim=1, keepdim=True))
    return fg_probs, bg


def first_object_channel(num_bg: int) -> int:
    """Index of the first object channel in the decoder's output layout ``[B, 1+Qb+I, ...]``:
    one catch-all background channel, ``Qb = num_bg`` background-descriptor channels, then one
    channel per object. The one place that knows the layout (training regimes, the predictor)."""
    return 1 + num_bg


def merge_bg_logits(logits: Tensor, num_bg: int) -> Tensor:
    """[B, 1+Qb+I, ...] decoder logits -> [B, 1+I, ...]: max over catch-all + Qb background channels.

    The original merges the background channels with a max for the loss and for logging.
    """
    nb = first_object_channel(num_bg)
    if logits.shape[1] < nb:
        raise ValueError(f"logits have {logits.shape[1]} channels, expected at least {nb}")
    bg = logits[:, :nb].amax(dim=1, keepdim=True)
    return torch.cat([bg, logits[:, nb:]], dim=1)
