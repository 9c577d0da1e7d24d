"""The typed contract between the backbone registry and :class:`BackboneWithFPN`.

A registered entry is a :data:`TrunkFactory`: it receives the :class:`TrunkOptions` (the factory's
keyword arguments, declared once here) and returns a :class:`Trunk`. Each trunk reads the options
that apply to it, so a new backbone neither restates nor discards the others' settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from torch import Tensor


@dataclass(frozen=True)
class TrunkOptions:
    """Build options of every trunk (``MODEL.BACKBONE.*``)."""

    drop_path_rate: float = 0.2  # stochastic depth of transformer blocks (Swin); no effect on ResNets
    frozen_bn: bool = True  # BatchNorm as FrozenBatchNorm2d (ResNet); Swin has no BatchNorm


@runtime_checkable
class Trunk(Protocol):
    """A feature trunk: ``forward(images [N,3,H,W]) -> [C2, C3, C4, C5]`` at ``strides`` (4, 8, 16, 32)
    with ``out_channels`` channels each; H and W must be multiples of ``size_divisibility``."""

    out_channels: Sequence[int]
    strides: Sequence[int]
    size_divisibility: int

    def __call__(self, images: Tensor) -> list[Tensor]: ...

    def freeze(self, freeze_at: int) -> None:
        """0 trains everything; 1 freezes the stem / patch embedding; k also the first k-1 stages."""
        ...

    @staticmethod
    def convert_external_state_dict(sd: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], list[str], list[str]]:
        """Official / timm / torchvision keys -> (our keys, ignored keys, unknown keys)."""
        ...


TrunkFactory = Callable[[TrunkOptions], Trunk]
