"""Deformable convolution v1 (stride 1, no modulation) computed with ``F.grid_sample`` or with
``F.embedding_bag`` (``gather``, the CPU default).

Why a second implementation next to ``torchvision.ops.deform_conv2d``: torchvision's CPU kernel
loops over every output position in its backward pass, which made the decoder's deformable conv
~40% of a CPU training step. The same maths expressed as one ``grid_sample`` (bilinear, zero
padding) plus one matmul uses PyTorch's vectorised kernels: 3.5-11x faster forward+backward on CPU
(``python scripts/bench_deform_conv.py``), equal to torchvision to ~1e-6 relative error
(tests/modeling/test_deform_conv.py). The price is memory: the sampled columns
[B, C*taps, H*W] are materialised for the whole batch, up to ~2.3x torchvision's peak for this op
on full-size maps. On CUDA the ``auto`` choice keeps torchvision's kernel. The ``gather`` variant
(:func:`deform_conv2d_gather`) computes the same columns with one embedding-bag gather of
channels-last rows; it is faster still and the only one that can run in bf16 (the others upcast).

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


def _tap_positions(
    offset: Tensor, h: int, w: int, kh: int, kw: int, padding: int, dilation: int
) -> tuple[Tensor, Tensor, int, int]:
    """Sampling positions in pixels, float32 (never lower: bf16 cannot address pixels of a
    100-wide map), laid out pixel-major, tap-minor: (py, px) [B, H', W', taps], H', W'."""
    b = offset.shape[0]
    taps = kh * kw
    ho, wo = h + 2 * padding - dilation * (kh - 1), w + 2 * padding - dilation * (kw - 1)
    if offset.shape != (b, 2 * taps, ho, wo):
        raise ValueError(f"offset must be {(b, 2 * taps, ho, wo)}, got {tuple(offset.shape)}")
    dev, dt = offset.device, torch.float32 if offset.dtype != torch.float64 else torch.float64
    rows = torch.arange(ho, device=dev, dtype=dt).view(1, ho, 1, 1) - padding
    cols = torch.arange(wo, device=dev, dtype=dt).view(1, 1, wo, 1) - padding
    tap_i = (torch.arange(kh, device=dev, dtype=dt) * dilation).repeat_interleave(kw).view(1, 1, 1, taps)
    tap_j = (torch.arange(kw, device=dev, dtype=dt) * dilation).repeat(kh).view(1, 1, 1, taps)
    off = offset.to(dt).view(b, taps, 2, ho, wo).permute(0, 3, 4, 1, 2)  # [B,H',W',taps,2]
    return rows + tap_i + off[..., 0], cols + tap_j + off[..., 1], ho, wo


def deform_conv2d_gather(
    x: Tensor,
    offset: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    padding: int = 1,
    dilation: int = 1,
) -> Tensor:
    """Same contract and maths as :func:`deform_conv2d_grid_sample`, sampled with one
    ``F.embedding_bag``: every (pixel, tap) is a bag of its 4 bilinear corners (a row of the
    channels-last map each, weights = bilinear coefficients, corners outside the map point at an
    appended zero row). Why: the gather reads whole 256-channel rows and the weighted sum is fused
    (fbgemm's kernel), and the columns come out [B, H'W', taps*C], the layout the matmul wants.
    On the decoder's 480p stride-8 map (one CPU thread) the op is ~1.6x faster than grid_sample
    in fp32 and ~4.8x with bf16 values; a whole decoder layer forward+backward 0.79x / 0.51x.

    Precision: positions and bilinear coefficients are computed in float32 (float64 for float64
    inputs) whatever ``x`` is; the gathered values, the coefficients fed to the bag and the matmul
    use ``x.dtype``, so a bf16 ``x`` gives a bf16 conv with exact sampling positions. Gradients
    flow to x, offset (through the coefficients; the floor has none, as in torchvision), weight
    and bias.
    """
    b, c, h, w = x.shape
    o, c_w, kh, kw = weight.shape
    if c_w != c:
        raise ValueError(f"weight expects {c_w} input channels, x has {c} (grouped conv is not supported)")
    taps = kh * kw
    py, px, ho, wo = _tap_positions(offset, h, w, kh, kw, padding, dilation)
    y0, x0 = py.floor(), px.floor()
    ly, lx = py - y0, px - x0
    hy, hx = 1 - ly, 1 - lx
    y0, x0 = y0.long(), x0.long()
    base = (torch.arange(b, device=x.device) * (h * w)).view(b, 1, 1, 1)
    zero_row = b * h * w
    idx, coef = [], []
    for dy, dx, cf in ((0, 0, hy * hx), (0, 1, hy * lx), (1, 0, ly * hx), (1, 1, ly * lx)):
        yy, xx = y0 + dy, x0 + dx
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        idx.append(torch.where(inside, base + yy * w + xx, zero_row))
        coef.append(cf)
    idx_t = torch.stack(idx, dim=-1).view(-1, 4)  # [B*H'*W'*taps, 4]
    coef_t = torch.stack(coef, dim=-1).view(-1, 4).to(x.dtype)
    table = torch.cat([x.permute(0, 2, 3, 1).reshape(b * h * w, c), x.new_zeros(1, c)])
    columns = F.embedding_bag(idx_t, table, per_sample_weights=coef_t, mode="sum")  # [B*H'W'*taps, C]
    columns = columns.view(b, ho * wo, taps * c)  # pixel-major; tap-major, channel-minor inside a row
    w_mat = weight.to(x.dtype).permute(0, 2, 3, 1).reshape(o, taps * c)
    out = torch.matmul(columns, w_mat.t())  # [B, H'W', O]
    if bias is not None:
        out = out + bias.to(out.dtype)
    # channels-last result viewed as [B,O,H',W'] (no copy; the next op accepts any layout)
    return out.view(b, ho, wo, o).permute(0, 3, 1, 2)


def deform_conv2d(
    x: Tensor,
    offset: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    padding: int,
    impl: str = "auto",
) -> Tensor:
    """Dispatch: ``gather`` (CPU default), ``torchvision`` (CUDA default), ``grid_sample``, or forced by ``impl``."""
    if impl not in DEFORM_CONV_IMPLS:
        raise ValueError(f"unknown deformable conv implementation {impl!r}; choose one of {DEFORM_CONV_IMPLS}")
    if impl == "gather" or (impl == "auto" and x.device.type == "cpu"):
        return deform_conv2d_gather(x, offset, weight, bias, padding=padding)
    if impl == "grid_sample":
        return deform_conv2d_grid_sample(x, offset, weight, bias, padding=padding)
    return tv_deform_conv2d(x, offset, weight, bias, padding=(padding, padding))
