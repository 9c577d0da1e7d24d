"""Feature pyramid network exactly as HODOR's (mmdet FPN without extra levels).

1x1 lateral convs (with bias) -> top-down: nearest-neighbour upsampling of the coarser map to the
finer map's exact size, added -> 3x3 output convs (with bias). No norm, no activation. The original
also computes a 5th, max-pooled stride-64 level that nothing reads; it is not built here.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class FPN(nn.Module):
    """in: maps [N, in_channels[i], H_i, W_i], finest first -> out: same sizes, out_channels each."""

    def __init__(self, in_channels: list[int], out_channels: int = 256) -> None:
        super().__init__()
        self.lateral_convs = nn.ModuleList(nn.Conv2d(c, out_channels, kernel_size=1) for c in in_channels)
        self.output_convs = nn.ModuleList(
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1) for _ in in_channels
        )
        for conv in [*self.lateral_convs, *self.output_convs]:
            # mmdet's FPN initialisation (Xavier uniform, zero bias), used when no weights are loaded.
            nn.init.xavier_uniform_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, feats: list[Tensor]) -> list[Tensor]:
        if len(feats) != len(self.lateral_convs):
            raise ValueError(f"FPN expects {len(self.lateral_convs)} maps, got {len(feats)}")
        laterals = [conv(f) for conv, f in zip(self.lateral_convs, feats)]
        for i in range(len(laterals) - 1, 0, -1):
            up = F.interpolate(laterals[i], size=laterals[i - 1].shape[-2:], mode="nearest")
            laterals[i - 1] = laterals[i - 1] + up
        return [conv(x) for conv, x in zip(self.output_convs, laterals)]
