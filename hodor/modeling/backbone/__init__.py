"""Backbones (Swin-T/S/B, ResNet-18/50/101) + FPN + per-level GroupNorm, and backbone weight loading."""

from . import resnet, swin  # noqa: F401  (register the trunks)
from .backbone import BackboneWithFPN, build_backbone, build_backbone_by_name
from .fpn import FPN
from .original_keys import convert_original_feature_extractor
from .registry import BACKBONE_REGISTRY

__all__ = [
    "BACKBONE_REGISTRY",
    "FPN",
    "BackboneWithFPN",
    "build_backbone",
    "build_backbone_by_name",
    "convert_original_feature_extractor",
]
