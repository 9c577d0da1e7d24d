"""Initial descriptors by masked average pooling (the original ``AvgPoolingInitializer``)."""

from __future__ import annotations

import torch
from torch import Tensor


def _masked_mean(feats: Tensor, masks: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    # feats [B, C, S], masks [B, N, S] -> (mean over pixels with mask > threshold [B, N, C], count [B, N])
    sel = (masks > threshold).to(feats.dtype)
    count = sel.sum(dim=-1)
    summed = torch.einsum("bns,bcs->bnc", sel, feats)
    return summed / count.clamp(min=1.0).unsqueeze(-1), count


@torch.no_grad()
def init_descriptors(f8: Tensor, fg_masks: Tensor, bg_masks: Tensor, threshold: float = 0.5) -> tuple[Tensor, Tensor]:
    """Masked average pooling of stride-8 features into one vector per object / background cell.

    f8 [B, C, h, w], fg_masks [B, I, h, w], bg_masks [B, Qb, h, w] -> (fg [B, I, C], bg [B, Qb, C]).

    Reproduces the original's rules (which change outputs, so they are kept):
      * a pixel counts when its mask value is strictly > 0.5 (an exact 0.5, frequent after the
        1/8 bilinear resize of a binary mask, does not count);
      * an object with no such pixel falls back to the feature at the argmax of its mask
        (row-major, first maximum wins, so an all-zero mask picks pixel (0, 0));
      * a background cell with no such pixel gets a zero vector.
    Runs without gradient, as the original: the initial descriptors are constants for the loss
    (gradients reach the features through the encoder's attention instead). Vectorised over
    batch and objects (the original looped in Python with ``nonzero``).
    """
    b, c, h, w = f8.shape
    feats = f8.flatten(2)  # [B, C, S]
    fg = fg_masks.flatten(2).to(feats.dtype)
    bg = bg_masks.flatten(2).to(feats.dtype)

    fg_mean, fg_count = _masked_mean(feats, fg, threshold)
    idx = fg.argmax(dim=-1)  # [B, I]; first maximum
    fallback = feats.gather(2, idx[:, None, :].expand(-1, c, -1)).transpose(1, 2)  # [B, I, C]
    fg_desc = torch.where((fg_count > 0).unsqueeze(-1), fg_mean, fallback)

    bg_desc, _ = _masked_mean(feats, bg, threshold)  # empty cell: 0 / 1 = zero vector
    return fg_desc, bg_desc
