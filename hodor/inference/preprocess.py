"""Test-time preprocessing of frames and object masks, exactly as the original inference.

The original resizes every frame of a sequence so that its shorter side is ``min_dim`` unless
the longer side would then exceed ``max_dim``, bilinearly on the float 0-255 image, normalises,
and zero-pads bottom/right to a multiple of 32. Reference masks are resized bilinearly as float
and thresholded at 0.5 (so an object keeps roughly its shape at any scale), then zero-padded.
Matching these steps exactly matters: the parity fixture (case e) compares decoder logits at
1e-4 relative, and the bilinear sampling grid of a different resize would already exceed that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..modeling.preprocess import normalize, pad_to_multiple


def resized_hw(height: int, width: int, min_dim: int, max_dim: int) -> tuple[int, int]:
    """Size the network sees: shorter side -> ``min_dim``, capped so the longer side <= ``max_dim``.

    Uses Python's ``round`` on ``scale * side`` as the original does, e.g. 90x150 with
    (108, 208) -> (108, 180) and DAVIS 480x854 with (512, 987) -> (512, 911).
    """
    if height < 1 or width < 1:
        raise ValueError(f"frame size must be positive, got {height}x{width}")
    if min_dim < 1 or max_dim < min_dim:
        raise ValueError(f"need 1 <= MIN_DIM <= MAX_DIM, got MIN_DIM={min_dim} MAX_DIM={max_dim}")
    scale = min_dim / min(height, width)
    if max(height, width) * scale > max_dim:
        scale = max_dim / max(height, width)
    return int(round(scale * height)), int(round(scale * width))


def padded_hw(height: int, width: int, divisibility: int) -> tuple[int, int]:
    """Next multiple of ``divisibility`` in each dimension (zero padding goes bottom/right)."""
    d = max(int(divisibility), 1)
    return -(-height // d) * d, -(-width // d) * d


def preprocess_frame(
    frame_rgb: np.ndarray | Tensor,
    size_hw: Sequence[int],
    pixel_mean: Sequence[float],
    pixel_std: Sequence[float],
    size_divisibility: int,
    device: torch.device | str = "cpu",
) -> Tensor:
    """RGB uint8 frame [H,W,3] -> normalised, resized, padded network input [1,3,Hp,Wp] float32.

    Resizing happens before normalisation on the 0-255 scale (bilinear, align_corners=False, no
    antialias), as the original; zero padding after normalisation equals the mean colour.
    """
    x = torch.as_tensor(np.ascontiguousarray(frame_rgb)) if isinstance(frame_rgb, np.ndarray) else frame_rgb
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"expected an RGB frame [H,W,3], got shape {tuple(x.shape)}")
    x = x.to(device=device).permute(2, 0, 1).unsqueeze(0).float()  # [1,3,H,W]
    if tuple(x.shape[-2:]) != tuple(size_hw):
        x = F.interpolate(x, size=tuple(size_hw), mode="bilinear", align_corners=False)
    x = normalize(x, pixel_mean, pixel_std)
    return pad_to_multiple(x, size_divisibility)[0]


def preprocess_mask(
    mask: np.ndarray | Tensor, size_hw: Sequence[int], pad_hw: Sequence[int], keep_thin: bool = True
) -> Tensor:
    """Binary mask [H,W] -> resized (bilinear as float, > 0.5) and zero-padded mask [Hp,Wp] float32.

    ``keep_thin``: a non-empty mask that the 0.5 threshold would erase completely (a hairline
    object shrunk to the network size) keeps every pixel with a positive resized value instead,
    so the object is not lost before it is even encoded (the original lost it). Masks that
    survive the threshold are unaffected.
    """
    m = torch.as_tensor(np.ascontiguousarray(mask)) if isinstance(mask, np.ndarray) else mask
    m = (m != 0).float()[None, None]
    if tuple(m.shape[-2:]) != tuple(size_hw):
        soft = F.interpolate(m, size=tuple(size_hw), mode="bilinear", align_corners=False)
        m = (soft > 0.5).float()
        if keep_thin and not bool(m.any()):
            m = (soft > 0).float()
    out = m.new_zeros((1, 1, int(pad_hw[0]), int(pad_hw[1])))
    out[..., : size_hw[0], : size_hw[1]] = m
    return out[0, 0]


def to_original_size(maps: Tensor, size_hw: Sequence[int], orig_hw: Sequence[int]) -> Tensor:
    """Padded full-resolution maps [N,C,Hp,Wp] -> crop to the resized size -> bilinear to original."""
    x = maps[..., : size_hw[0], : size_hw[1]]
    if tuple(size_hw) != tuple(orig_hw):
        x = F.interpolate(x, size=tuple(orig_hw), mode="bilinear", align_corners=False)
    return x
