"""Conversion of original HODOR checkpoints (Ali2500/HODOR training files) to our layout.

Key mapping (reference §5):
* ``feature_extractor.*`` (Swin-T + FPN + output GroupNorms) -> ``backbone.*`` via
  :func:`hodor.modeling.backbone.convert_original_feature_extractor` (drops the derived
  ``relative_position_index`` buffers and the dead ``norm_layers.4``);
* ``encoder.*`` -> ``encoder.*`` unchanged: our encoder keeps ``nn.MultiheadAttention`` (packed
  ``self_attn.in_proj_*``), ``cross_attn.{q,k,v,out}_proj`` and ``cross_attn.scaling_factors``;
* ``decoder.*`` -> ``decoder.*`` unchanged, except the never-used ``decoder.fmap_proj_4x.*`` (dropped).
The original model is always Swin-T with the static_image architecture; the returned config says so.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from ..config import CfgNode, get_cfg
from ..modeling.backbone.original_keys import convert_original_feature_extractor
from .formats import CheckpointError, torch_load_weights_only

DEAD_PREFIXES = ("decoder.fmap_proj_4x.",)


def is_original_state_dict(sd: Mapping[str, Tensor]) -> bool:
    """True for an original HODOR state dict (``feature_extractor.*`` keys instead of ``backbone.*``)."""
    return any(k.startswith("feature_extractor.") for k in sd) and not any(k.startswith("backbone.") for k in sd)


def load_original_state_dict(path: str) -> dict[str, Tensor]:
    """The ``["model"]`` state dict of an original training checkpoint (weights_only loading)."""
    obj = torch_load_weights_only(path)
    if isinstance(obj, Mapping) and "model" in obj:
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{path}: no 'model' state dict found")
    return {k[len("module.") :] if k.startswith("module.") else k: v for k, v in obj.items()}


def convert_original_state_dict(sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Original HODOR state dict -> state dict of our :class:`hodor.modeling.HODOR`."""
    unknown = [k for k in sd if not k.startswith(("feature_extractor.", "encoder.", "decoder."))]
    if unknown:
        raise CheckpointError(f"not an original HODOR state dict: unknown keys {unknown[:10]}")
    try:
        backbone = convert_original_feature_extractor(sd)
    except ValueError as e:
        raise CheckpointError(str(e)) from e
    out = {f"backbone.{k}": v for k, v in backbone.items()}
    for k, v in sd.items():
        if k.startswith(("encoder.", "decoder.")) and not k.startswith(DEAD_PREFIXES):
            out[k] = v
    return out


def original_config() -> CfgNode:
    """Config of the original architecture (Swin-T, 5+5 layers, 9 background descriptors, static_image)."""
    cfg = get_cfg()
    cfg.MODEL.BACKBONE.NAME = "swin_t"
    cfg.MODEL.BACKBONE.WEIGHTS = ""
    cfg.MODEL.HIDDEN_DIM = 256
    cfg.MODEL.ENCODER.NUM_LAYERS = 5
    cfg.MODEL.ENCODER.NUM_HEADS = 8
    cfg.MODEL.ENCODER.FFN_DIM = 1024
    cfg.MODEL.ENCODER.NUM_BG_DESCRIPTORS = 9
    cfg.MODEL.ENCODER.MASK_SCALES = []
    cfg.MODEL.ENCODER.LEARNABLE_MASK_SCALES = True
    cfg.MODEL.ENCODER.POS_ENC_IN_KEYS = False
    cfg.MODEL.DECODER.NUM_LAYERS = 5
    cfg.MODEL.DECODER.NUM_HEADS = 8
    cfg.MODEL.DECODER.FFN_DIM = 256
    cfg.MODEL.DECODER.POS_ENC_IN_QUERIES = True
    return cfg


def convert_original_checkpoint(path: str) -> tuple[dict[str, Tensor], CfgNode]:
    """Read an original HODOR training checkpoint -> (our state dict, config that rebuilds the model)."""
    return convert_original_state_dict(load_original_state_dict(path)), original_config()
