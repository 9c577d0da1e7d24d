"""Trunk + FPN + per-level GroupNorm: the feature extractor shared by HODOR's encoder and decoder."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from .fpn import FPN
from .registry import BACKBONE_REGISTRY
from .trunk import Trunk, TrunkFactory, TrunkOptions


class BackboneWithFPN(nn.Module):
    """``trunk`` (registered backbone) -> ``fpn`` -> ``norms`` (GroupNorm per level).

    forward: images [N, 3, H, W], already normalised, any H, W ->
    ``{4: [N, C, ceil(H/4), ceil(W/4)], 8: ..., 16: ..., 32: [N, C, ceil(H/32), ceil(W/32)]}``.
    Inputs are zero-padded bottom/right to a multiple of 32 (zero = the mean colour after
    normalisation, as HODOR pads) and outputs cropped back, so callers need not pad. GroupNorm is
    applied before the crop, i.e. its statistics include the padded area exactly as in the original
    when it is given an image padded to 32.
    The three submodules are separate so that optimisers can give the trunk its own LR / freeze it.
    """

    def __init__(self, trunk: Trunk, out_channels: int = 256, norm_groups: int = 16, name: str = "") -> None:
        super().__init__()
        self.name = name or type(trunk).__name__
        self.trunk = trunk
        self.fpn = FPN(list(trunk.out_channels), out_channels)
        self.norms = nn.ModuleList(nn.GroupNorm(norm_groups, out_channels) for _ in trunk.strides)
        self.out_channels = out_channels
        self.strides: list[int] = list(trunk.strides)
        self.size_divisibility: int = int(trunk.size_divisibility)

    def forward(self, images: Tensor) -> dict[int, Tensor]:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"backbone expects images [N, 3, H, W], got {list(images.shape)}")
        h, w = images.shape[-2:]
        d = self.size_divisibility
        pad_h, pad_w = (d - h % d) % d, (d - w % d) % d
        if pad_h or pad_w:
            images = F.pad(images, (0, pad_w, 0, pad_h))
        feats = self.fpn(self.trunk(images))
        out: dict[int, Tensor] = {}
        for stride, norm, f in zip(self.strides, self.norms, feats):
            out[stride] = norm(f)[..., : math.ceil(h / stride), : math.ceil(w / stride)]
        return out


def build_backbone_by_name(
    name: str,
    out_channels: int = 256,
    norm_groups: int = 16,
    drop_path_rate: float = 0.2,
    freeze_at: int = 0,
    frozen_bn: bool = True,
) -> BackboneWithFPN:
    """Build a registered backbone (+FPN +norms), randomly initialised.

    Pretrained weights (``MODEL.BACKBONE.WEIGHTS``) are loaded at training start by
    :func:`hodor.checkpoint.backbone_weights.load_backbone_weights`, not here.

    ``freeze_at``: 0 trains everything; 1 freezes the stem / patch embedding; k freezes also the
    first k-1 stages (detectron2's convention). ``frozen_bn`` only affects ResNets.
    """
    factory: TrunkFactory = BACKBONE_REGISTRY.get(name)
    trunk = factory(TrunkOptions(drop_path_rate=drop_path_rate, frozen_bn=frozen_bn))
    model = BackboneWithFPN(trunk, out_channels=out_channels, norm_groups=norm_groups, name=name)
    if freeze_at > 0:
        trunk.freeze(freeze_at)
    return model


def build_backbone(cfg) -> BackboneWithFPN:
    """Build the backbone from ``cfg.MODEL.BACKBONE`` (and ``cfg.MODEL.HIDDEN_DIM`` for the FPN width)."""
    b = cfg.MODEL.BACKBONE
    return build_backbone_by_name(
        b.NAME,
        out_channels=cfg.MODEL.HIDDEN_DIM,
        norm_groups=b.FPN_NORM_GROUPS,
        drop_path_rate=b.DROP_PATH_RATE,
        freeze_at=b.FREEZE_AT,
        frozen_bn=b.FROZEN_BN,
    )
