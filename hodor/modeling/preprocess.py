"""Input normalisation and padding shared by data loading and inference."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def normalize(images: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """RGB images on the 0-255 scale [..., 3, H, W] (uint8 or float) -> float32 (x - mean) / std.

    The original normalised BGR with the mmdetection statistics and flipped to RGB; with the
    statistics given in RGB order (``INPUT.PIXEL_MEAN/STD``) this is the same computation
    (subtract, then divide, in float32).
    """
    if images.shape[-3] != 3:
        raise ValueError(f"expected 3 channels at dim -3, got shape {list(images.shape)}")
    x = images.to(torch.float32)
    m = torch.as_tensor(mean, dtype=torch.float32, device=x.device).view(3, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32, device=x.device).view(3, 1, 1)
    return (x - m) / s


def pad_to_multiple(x: Tensor, multiple: int = 32, value: float = 0) -> tuple[Tensor, tuple[int, int]]:
    """Pad the last two dims bottom/right to a multiple -> (padded, (h, w) before padding).

    Images are padded *after* normalisation with 0 (= the mean colour), index masks with 0.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    if x.dtype in (torch.uint8, torch.bool, torch.int8, torch.int16, torch.int32, torch.int64):
        out = x.new_full((*x.shape[:-2], h + ph, w + pw), value)
        out[..., :h, :w] = x
        return out, (h, w)
    return F.pad(x, (0, pw, 0, ph), value=value), (h, w)
