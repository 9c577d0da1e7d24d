"""Deformable convolution v1 (stride 1, no modulation) computed with ``F.grid_sample``.

Why a second implementation next to ``torchvision.ops.deform_conv2d``: torchvision's CPU kernel
loops over every output position in its backward pass, which made the decoder's deformable conv
~40% of a CPU training step. The same maths expressed as one ``grid_sample`` (bilinear, zero
padding) plus one matmul uses PyTorch's vectorised kernels: 3.5-11x faster forward+backward on CPU
(``python scripts/bench_deform_conv.py``), equal to torchvision to ~1e-6 relative error
(tests/modeling/test_deform_conv.py). The price is memory: the sampled columns
[B, C*taps, H*W] are materialised for the whole batch, up to ~2.3x torchvision's peak for this op
on full-size maps. On CUDA the ``auto`` choice keeps torchvision's kernel.

Sampling point of tap t = (i, j) for output pixel (y, x), with padding p and dilation d:
``(y - p + i*d + dy_t, x - p + j*d + dx_t)``; offset channel 2t is dy and 2t+1 is dx
(torchvision's layout). Points outside the map read zeros, corner by corner, exactly like
torchvision's ``bilinear_interpolate``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from ..config import CHOICES

DEFORM_CONV_IMPLS = CHOICES["MODEL.DECODER.DEFORM_CONV_IMPL"]


def deform_conv2d_grid_sample(
    x: Tensor,
    offset: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    padding: int = 1,
    dilation: int = 1,
) -> Tensor:
    """x [B,C,H,W], offset [B,2*kh*kw,H',W'], weight [O,C,kh,kw] -> [B,O,H',W'] (stride 1).

    H' = H + 2p - d(kh-1) (likewise W'), as for an ordinary convolution."""
    b, c, h, w = x.shape
    o, c_w, kh, kw = weight.shape
    if c_w != c:
        raise ValueError(f"weight expects {c_w} input channels, x has {c} (grouped conv is not supported)")
    taps = kh * kw
    ho, wo = h + 2 * padding - dilation * (kh - 1), w + 2 * padding - dilation * (kw - 1)
    if offset.shape != (b, 2 * taps, ho, wo):
        raise ValueError(f"offset must be {(b, 2 * taps, ho, wo)}, got {tuple(offset.shape)}")
    dev, dt = x.device, x.dtype
    rows = torch.arange(ho, device=dev, dtype=dt).view(1, 1, ho, 1) - padding
    cols = torch.arange(wo, device=dev, dtype=dt).view(1, 1, 1, wo) - padding
    tap_i = (torch.arange(kh, device=dev, dtype=dt) * dilation).repeat_interleave(kw).view(1, taps, 1, 1)
    tap_j = (torch.arange(kw, device=dev, dtype=dt) * dilation).repeat(kh).view(1, taps, 1, 1)
    off = offset.view(b, taps, 2, ho, wo)
    py = rows + tap_i + off[:, :, 0]  # [B,taps,H',W'] pixel coordinates
    px = cols + tap_j + off[:, :, 1]
    # Pixel -> normalised coordinates for align_corners=False (valid for any size, even 1).
    grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1)
    sampled = F.grid_sample(
        x, grid.view(b, taps * ho, wo, 2), mode="bilinear", padding_mode="zeros", align_corners=False
    )
    columns = sampled.view(b, c * taps, ho * wo)  # channel-major, tap-minor: matches weight.view(O, C*taps)
    out = torch.matmul(weight.reshape(o, c * taps), columns).view(b, o, ho, wo)
    if bias is not None:
        out = out + bias.view(1, o, 1, 1)
    return out


def deform_conv2d(
    x: Tensor,
    offset: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    padding: int,
    impl: str = "auto",
) -> Tensor:
    """Dispatch: ``grid_sample`` (CPU default), ``torchvision`` (CUDA default), or forced by ``impl``."""
    if impl not in DEFORM_CONV_IMPLS:
        raise ValueError(f"unknown deformable conv implementation {impl!r}; choose one of {DEFORM_CONV_IMPLS}")
    if impl == "grid_sample" or (impl == "auto" and x.device.type == "cpu"):
        return deform_conv2d_grid_sample(x, offset, weight, bias, padding=padding)
    return tv_deform_conv2d(x, offset, weight, bias, padding=(padding, padding))
