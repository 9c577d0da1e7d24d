"""Backbones (Swin-T/S/B, ResNet-18/50/101) + FPN + per-level GroupNorm (pretrained weights: hodor.checkpoint.backbone_weights)."""

from . import resnet, swin  # noqa: F401  (register the trunks)
from .backbone import BackboneWithFPN, build_backbone, build_backbone_by_name
from .fpn import FPN
from .original_keys import convert_original_feature_extractor
from .registry import BACKBONE_REGISTRY
from .trunk import Trunk, TrunkFactory, TrunkOptions

__all__ = [
    "BACKBONE_REGISTRY",
    "Trunk",
    "TrunkFactory",
    "TrunkOptions",
    "FPN",
    "BackboneWithFPN",
    "build_backbone",
    "build_backbone_by_name",
    "convert_original_feature_extractor",
]
