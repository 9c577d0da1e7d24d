"""Model components: backbones + FPN, soft-masked attention, encoder, decoder and the HODOR model."""

from .decoder import HodorDecoder
from .descriptor_init import init_descriptors
from .encoder import HodorEncoder
from .hodor_model import HODOR, build_decoder, build_encoder
from .masks import (
    downsample_masks,
    encoder_masks_from_index,
    encoder_masks_from_probs,
    first_object_channel,
    grid_cells,
    merge_bg_logits,
)
from .position_encoding import sine_position_embedding
from .preprocess import normalize, pad_to_multiple
from .soft_masked_attention import SoftMaskedAttention, default_mask_scales


def build_model(cfg) -> HODOR:
    """The HODOR model described by ``cfg.MODEL`` (random init; load weights separately)."""
    return HODOR.from_config(cfg)


__all__ = [
    "HODOR",
    "HodorDecoder",
    "HodorEncoder",
    "SoftMaskedAttention",
    "build_decoder",
    "build_encoder",
    "build_model",
    "default_mask_scales",
    "downsample_masks",
    "encoder_masks_from_index",
    "encoder_masks_from_probs",
    "grid_cells",
    "init_descriptors",
    "first_object_channel",
    "merge_bg_logits",
    "normalize",
    "pad_to_multiple",
    "sine_position_embedding",
]
