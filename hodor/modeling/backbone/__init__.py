"""Backbones (Swin-T/S/B, ResNet-18/50/101) + FPN + per-level GroupNorm, and backbone weight loading."""

from . import resnet, swin  # noqa: F401  (register the trunks)
from .backbone import BackboneWithFPN, build_backbone, build_backbone_by_name
from .fpn import FPN
from .original_keys import convert_original_feature_extractor
from .registry import BACKBONE_REGISTRY
from .trunk import Trunk, TrunkFactory, TrunkOptions
from .weights import LoadReport, load_backbone_weights, read_weight_file

__all__ = [
    "BACKBONE_REGISTRY",
    "Trunk",
    "TrunkFactory",
    "TrunkOptions",
    "FPN",
    "LoadReport",
    "load_backbone_weights",
    "read_weight_file",
    "BackboneWithFPN",
    "build_backbone",
    "build_backbone_by_name",
    "convert_original_feature_extractor",
]
