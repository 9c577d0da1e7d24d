"""The HODOR model: backbone (+FPN), encoder and decoder, exposed as the primitives that the
training regimes and the video predictor unroll (the model itself does not run cycles)."""

from __future__ import annotations

from torch import Tensor, nn

from .backbone import build_backbone
from .decoder import HodorDecoder
from .encoder import HodorEncoder


def build_encoder(cfg) -> HodorEncoder:
    """Encoder from ``cfg.MODEL.HIDDEN_DIM`` and ``cfg.MODEL.ENCODER``."""
    e = cfg.MODEL.ENCODER
    return HodorEncoder(
        dim=cfg.MODEL.HIDDEN_DIM,
        num_layers=e.NUM_LAYERS,
        num_heads=e.NUM_HEADS,
        ffn_dim=e.FFN_DIM,
        dropout=e.DROPOUT,
        num_bg=e.NUM_BG_DESCRIPTORS,
        mask_scales=list(e.MASK_SCALES) or None,
        learnable_scales=e.LEARNABLE_MASK_SCALES,
        pos_enc_in_keys=e.POS_ENC_IN_KEYS,
        fused=e.FUSED_ATTENTION,
        clone_layer_init=e.CLONE_LAYER_INIT,
    )


def build_decoder(cfg) -> HodorDecoder:
    """Decoder from ``cfg.MODEL.HIDDEN_DIM`` and ``cfg.MODEL.DECODER``."""
    d = cfg.MODEL.DECODER
    return HodorDecoder(
        dim=cfg.MODEL.HIDDEN_DIM,
        num_layers=d.NUM_LAYERS,
        num_heads=d.NUM_HEADS,
        ffn_dim=d.FFN_DIM,
        dropout=d.DROPOUT,
        pos_enc_in_queries=d.POS_ENC_IN_QUERIES,
        reduce_dim=cfg.MODEL.HIDDEN_DIM // 4,  # 64 for the original width 256
        deform_conv_impl=d.DEFORM_CONV_IMPL,
        clone_layer_init=d.CLONE_LAYER_INIT,
    )


class HODOR(nn.Module):
    """Backbone + encoder + decoder.

    Primitives:
      * ``extract_features(images [N,3,H,W]) -> {4: f4, 8: f8, 16: f16, 32: f32}`` (256 channels each);
      * ``encode(f8, fg_masks, bg_masks) -> (fg_desc [B,I,C], bg_desc [B,Qb,C])``;
      * ``decode(fg_desc [B,I,T,C], bg_desc [B,Qb,T,C], f4, f8, fg_invalid, bg_invalid)
        -> logits [B, 1+Qb+I, H/4, W/4]`` (channels: catch-all, bg_0..bg_{Qb-1}, objects).
    Parameter names (``backbone.*``, ``encoder.*``, ``decoder.*``) map from the original's
    ``feature_extractor.*``, ``encoder.*``, ``decoder.*`` (see hodor/checkpoint/convert.py).
    """

    def __init__(self, backbone: nn.Module, encoder: HodorEncoder, decoder: HodorDecoder) -> None:
        super().__init__()
        self.backbone = backbone
        self.encoder = encoder
        self.decoder = decoder

    @classmethod
    def from_config(cls, cfg) -> HODOR:
        model = cls(build_backbone(cfg), build_encoder(cfg), build_decoder(cfg))
        if cfg.MODEL.CHECKPOINT_ACTIVATIONS:
            from .checkpointing import set_activation_checkpointing

            set_activation_checkpointing(model, True)
        return model

    @property
    def num_bg_descriptors(self) -> int:
        return self.encoder.num_bg

    def extract_features(self, images: Tensor) -> dict[int, Tensor]:
        """Normalised, padded images [N,3,H,W] -> {stride: [N,C,H/stride,W/stride]} for 4, 8, 16, 32."""
        return self.backbone(images)

    def encode(self, f8: Tensor, fg_masks: Tensor, bg_masks: Tensor) -> tuple[Tensor, Tensor]:
        """f8 [B,C,h,w], fg_masks [B,I,h,w], bg_masks [B,Qb,h,w] -> (fg [B,I,C], bg [B,Qb,C])."""
        return self.encoder(f8, fg_masks, bg_masks)

    def decode(
        self,
        fg_desc: Tensor,
        bg_desc: Tensor,
        f4: Tensor,
        f8: Tensor,
        fg_invalid: Tensor | None = None,
        bg_invalid: Tensor | None = None,
    ) -> Tensor:
        """Descriptors of T source frames + target features -> logits [B, 1+Qb+I, H4, W4]."""
        return self.decoder(
            fg_desc,
            bg_desc,
            f4,
            f8,
            self.encoder.fg_query_embed,
            self.encoder.bg_query_embed,
            fg_invalid,
            bg_invalid,
        )

    def forward(self, *args, **kwargs):  # pragma: no cover - explicit primitives only
        raise RuntimeError(
            "HODOR has no single forward: call extract_features / encode / decode "
            "(the training regimes and the video predictor unroll them)"
        )
