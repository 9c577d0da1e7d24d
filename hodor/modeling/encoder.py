"""HODOR encoder ("FM->Q"): frame features + soft masks -> object and background descriptors."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .checkpointing import run_layer
from .descriptor_init import init_descriptors
from .layer_stack import make_layers
from .position_encoding import sine_position_embedding
from .soft_masked_attention import SoftMaskedAttention


class EncoderLayer(nn.Module):
    """Post-norm layer: descriptor self-attention, soft-masked cross-attention to pixels, FFN.

    Submodule names (``self_attn`` as ``nn.MultiheadAttention`` with packed ``in_proj_*``,
    ``cross_attn``, ``ffn.0`` / ``ffn.3``, ``norm1..3``) equal the original's, so original
    weights load unchanged.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        ffn_dim: int,
        dropout: float,
        mask_scales: list[float] | None = None,
        learnable_scales: bool = True,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.cross_attn = SoftMaskedAttention(dim, num_heads, dropout, mask_scales, learnable_scales, fused)
        self.ffn = nn.Sequential(
            nn.Linear(dim, ffn_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(ffn_dim, dim),
            nn.Dropout(dropout),
        )
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: Tensor, embed: Tensor, pixels: Tensor, pixel_keys: Tensor, masks: Tensor) -> Tensor:
        """x [B,N,C] descriptors, embed [B,N,C], pixels/pixel_keys [B,S,C], masks [B,N,S] -> [B,N,C]."""
        qk = x + embed
        x = self.norm1(x + self.dropout1(self.self_attn(qk, qk, x, need_weights=False)[0]))
        x = self.norm2(x + self.dropout2(self.cross_attn(x, pixel_keys, pixels, masks)))
        return self.norm3(x + self.ffn(x))


class HodorEncoder(nn.Module):
    """Descriptor initialisation + ``num_layers`` encoder layers (no final norm, as the original).

    Token order inside the encoder is [bg_0 .. bg_{Qb-1}, obj_1 .. obj_I]; background tokens get
    their own learned embedding ``bg_query_embed[K]``, every object the single shared
    ``fg_query_embed`` (so the encoder is permutation-equivariant in the objects). The same masks
    are used in every layer (no refinement inside the encoder).
    """

    def __init__(
        self,
        dim: int = 256,
        num_layers: int = 5,
        num_heads: int = 8,
        ffn_dim: int = 1024,
        dropout: float = 0.1,
        num_bg: int = 9,
        mask_scales: list[float] | None = None,
        learnable_scales: bool = True,
        pos_enc_in_keys: bool = False,
        fused: bool = True,
        clone_layer_init: bool = True,
    ) -> None:
        """``clone_layer_init``: all layers start as copies of one initialised layer, as the
        original (``deepcopy`` of one ``EncoderLayer``); False = each layer initialised on its own."""
        super().__init__()
        self.num_bg = num_bg
        self.pos_enc_in_keys = pos_enc_in_keys
        self.fg_query_embed = nn.Parameter(torch.randn(dim))
        self.bg_query_embed = nn.Parameter(torch.randn(num_bg, dim))
        self.attn_layers = make_layers(
            lambda: EncoderLayer(dim, num_heads, ffn_dim, dropout, mask_scales, learnable_scales, fused),
            num_layers,
            clone_layer_init,
        )
        self.checkpoint_activations = False  # see hodor/modeling/checkpointing.py

    def forward(self, f8: Tensor, fg_masks: Tensor, bg_masks: Tensor) -> tuple[Tensor, Tensor]:
        """f8 [B,C,h,w], fg_masks [B,I,h,w], bg_masks [B,Qb,h,w] (soft, in [0,1]) ->
        (fg descriptors [B,I,C], bg descriptors [B,Qb,C])."""
        b, c, h, w = f8.shape
        num_obj = fg_masks.shape[1]
        if bg_masks.shape[1] != self.num_bg:
            raise ValueError(f"expected {self.num_bg} background masks, got {bg_masks.shape[1]}")
        if fg_masks.shape[-2:] != (h, w) or bg_masks.shape[-2:] != (h, w):
            raise ValueError(
                f"mask size {tuple(fg_masks.shape[-2:])}/{tuple(bg_masks.shape[-2:])} != feature size {(h, w)}"
            )
        fg0, bg0 = init_descriptors(f8, fg_masks, bg_masks)
        x = torch.cat([bg0, fg0], dim=1)  # [B, Qb+I, C]
        embed = torch.cat([self.bg_query_embed, self.fg_query_embed.expand(num_obj, c)], dim=0)
        embed = embed.unsqueeze(0).expand(b, -1, -1)
        masks = torch.cat([bg_masks, fg_masks], dim=1).flatten(2).to(f8.dtype)  # [B, Qb+I, S]
        pixels = f8.flatten(2).transpose(1, 2)  # [B, S, C]
        keys = pixels
        if self.pos_enc_in_keys:
            pos = sine_position_embedding(h, w, c // 2, device=f8.device, dtype=f8.dtype)
            keys = pixels + pos.flatten(1).t().unsqueeze(0)
        for layer in self.attn_layers:
            x = run_layer(self.checkpoint_activations, layer, x, embed, pixels, keys, masks)
        return x[:, self.num_bg :], x[:, : self.num_bg]
