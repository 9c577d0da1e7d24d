"""DETR-style 2-D sine position embedding (used for the decoder's pixel queries)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


@torch.no_grad()
def sine_position_embedding(
    height: int,
    width: int,
    num_pos_feats: int = 128,
    temperature: float = 10000.0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Sine embedding over an ``height x width`` map -> [2*num_pos_feats, H, W].

    Coordinates are 1-based pixel counts normalised by the last count (+1e-6) and scaled by 2*pi,
    exactly as the original (and DETR with ``normalize=True``). There is no padding mask: the
    original normalises over the *padded* map, so positions depend on the padded size, and we
    reproduce that. Frequency i uses temperature^(2*floor(i/2)/num_pos_feats); even features take
    sin, odd ones cos (interleaved); the output is concat(y part, x part) along channels.
    Computed without gradient (it has no parameters).
    """
    eps, scale = 1e-6, 2 * math.pi
    y = torch.arange(1, height + 1, device=device, dtype=torch.float32)
    x = torch.arange(1, width + 1, device=device, dtype=torch.float32)
    y = y / (y[-1] + eps) * scale
    x = x / (x[-1] + eps) * scale
    i = torch.arange(num_pos_feats, device=device, dtype=torch.float32)
    dim_t = temperature ** (2 * torch.div(i, 2, rounding_mode="floor") / num_pos_feats)
    py = y[:, None] / dim_t  # [H, F]
    px = x[:, None] / dim_t  # [W, F]
    py = torch.stack((py[:, 0::2].sin(), py[:, 1::2].cos()), dim=2).flatten(1)
    px = torch.stack((px[:, 0::2].sin(), px[:, 1::2].cos()), dim=2).flatten(1)
    pos_y = py.t()[:, :, None].expand(-1, height, width)
    pos_x = px.t()[:, None, :].expand(-1, height, width)
    return torch.cat((pos_y, pos_x), dim=0).to(dtype).contiguous()
