"""HODOR decoder ("FQ->M"): descriptors + target-frame features -> mask logits at stride 4."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import DeformConv2d

from .checkpointing import run_layer
from .deform_conv import deform_conv2d
from .layer_stack import make_layers
from .position_encoding import sine_position_embedding


class DeformConvBlock(nn.Module):
    """3x3 deformable convolution (v1, no modulation) whose offsets come from a plain 3x3 conv.

    torchvision's offset layout (channel 2t = dy, 2t+1 = dx of kernel tap t, row-major) is the
    one the original used. The offset conv keeps PyTorch's default init (not zero), as the original.
    ``impl`` picks the kernel (hodor/modeling/deform_conv.py); the parameters are those of
    ``DeformConv2d`` whichever runs, so checkpoints do not depend on it.
    """

    def __init__(self, dim: int, impl: str = "auto") -> None:
        super().__init__()
        self.impl = impl
        self.conv_offsets = nn.Conv2d(dim, 18, kernel_size=3, padding=1)
        self.conv_deform = DeformConv2d(dim, dim, kernel_size=3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        """[B,C,h,w] -> [B,C,h,w]. Under autocast (or with half inputs) the ``gather`` kernel runs in
        the low-precision dtype with float32 sampling positions; torchvision's and grid_sample's
        kernels have no exact low-precision path, so for them we upcast to float32."""
        offsets = self.conv_offsets(x)
        # torchvision's CPU kernel segfaults on NaN offsets; a NaN input still gives a NaN output,
        # so the trainer's non-finite-loss guard sees it instead of the process crashing.
        offsets = torch.nan_to_num(offsets, nan=0.0, posinf=0.0, neginf=0.0)
        weight, bias = self.conv_deform.weight, self.conv_deform.bias
        dev = x.device.type
        autocast = torch.is_autocast_enabled(dev)
        if x.dtype == offsets.dtype == torch.float32 and not autocast:
            return deform_conv2d(x, offsets, weight, bias, padding=1, impl=self.impl)
        gather = self.impl == "gather" or (self.impl == "auto" and dev == "cpu")
        low = torch.get_autocast_dtype(dev) if autocast else x.dtype
        with torch.autocast(dev, enabled=False):
            if gather:
                out = deform_conv2d(x.to(low), offsets, weight, bias, padding=1, impl="gather")
            else:
                out = deform_conv2d(
                    x.float(),
                    offsets.float(),
                    weight.float(),
                    None if bias is None else bias.float(),
                    padding=1,
                    impl=self.impl,
                )
        return out.to(x.dtype)


class DescriptorCrossAttention(nn.Module):
    """Pixels (queries) attend over descriptors (keys/values); softmax over the descriptor axis.

    Only the query projection lives here (``q_proj``); keys and values are projected by the layer
    with separate fg/bg projections. There is **no output projection** (original). Quirk kept for
    training-mode parity: dropout is applied to the *logits* before the softmax (not to the
    weights); invalid descriptors are set to -inf after that dropout so they stay excluded. In
    eval mode (or with dropout 0) the fused ``scaled_dot_product_attention`` computes the same.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(dim, dim)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, invalid: Tensor | None = None) -> Tensor:
        """query [B,S,C] (already position-embedded), key/value [B,K,C] (projected),
        invalid [B,K] bool (True = excluded) -> [B,S,C]."""
        b, s, c = query.shape
        nh, hd = self.num_heads, self.head_dim
        q = self.q_proj(query).view(b, s, nh, hd).transpose(1, 2)
        k = key.view(b, -1, nh, hd).transpose(1, 2)
        v = value.view(b, -1, nh, hd).transpose(1, 2)
        if self.training and self.dropout > 0:
            logits = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd)
            logits = F.dropout(logits, p=self.dropout, training=True)
            if invalid is not None:
                logits = logits.masked_fill(invalid[:, None, None, :], float("-inf"))
            out = torch.matmul(logits.softmax(dim=-1), v)
        else:
            mask = None if invalid is None else ~invalid[:, None, None, :]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return out.transpose(1, 2).reshape(b, s, c)


class DecoderLayer(nn.Module):
    """Post-norm layer on the stride-8 map F: deformable conv block, pixel->descriptor attention, FFN.

    F <- F + GN16(ReLU(DeformConv(F)))  (``self_attn_conv_substitute``, Conv -> ReLU -> GN, no norm after)
    F <- LN1(F + Dropout(Attn(F + pos, descriptors)))
    F <- LN2(F + Dropout(fc2(Dropout(ReLU(fc1(F))))))
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        ffn_dim: int,
        dropout: float,
        norm_groups: int = 16,
        deform_conv_impl: str = "auto",
    ) -> None:
        super().__init__()
        self.self_attn_conv_substitute = nn.Sequential(
            DeformConvBlock(dim, deform_conv_impl), nn.ReLU(inplace=True), nn.GroupNorm(norm_groups, dim)
        )
        self.k_proj_fg = nn.Linear(dim, dim)
        self.k_proj_bg = nn.Linear(dim, dim)
        self.v_proj_fg = nn.Linear(dim, dim)
        self.v_proj_bg = nn.Linear(dim, dim)
        self.cross_attn = DescriptorCrossAttention(dim, num_heads, dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(
        self,
        fmap: Tensor,
        pos: Tensor | None,
        fg: Tensor,
        bg: Tensor,
        fg_embed: Tensor,
        bg_embed: Tensor,
        invalid: Tensor | None,
    ) -> Tensor:
        """fmap [B,C,h,w], pos [C,h,w]|None, fg [B,I*T,C], bg [B,Qb*T,C], fg_embed/bg_embed broadcastable
        to fg/bg, invalid [B,(I+Qb)*T] bool|None -> [B,C,h,w]."""
        b, c, h, w = fmap.shape
        fmap = fmap + self.self_attn_conv_substitute(fmap)
        x = fmap.flatten(2).transpose(1, 2)  # [B, S, C]
        q = x if pos is None else x + pos.flatten(1).t().unsqueeze(0)
        keys = torch.cat([self.k_proj_fg(fg + fg_embed), self.k_proj_bg(bg + bg_embed)], dim=1)
        values = torch.cat([self.v_proj_fg(fg), self.v_proj_bg(bg)], dim=1)
        x = self.norm1(x + self.dropout1(self.cross_attn(q, keys, values, invalid)))
        x = self.norm2(x + self.dropout2(self.fc2(self.dropout(F.relu(self.fc1(x))))))
        return x.transpose(1, 2).reshape(b, c, h, w)


def _conv_relu_gn(cin: int, cout: int, k: int, groups: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.ReLU(inplace=True), nn.GroupNorm(groups, cout)
    )


class HodorDecoder(nn.Module):
    """Decoder layers at stride 8, fusion to stride 4 and the mask head.

    Output channels: [catch-all, bg_0 .. bg_{Qb-1}, obj_1 .. obj_I] at stride 4. Original quirks
    reproduced: ``conv_4x_reduce(f4)`` (64 channels) is added to the **first 64 channels only** of
    the upsampled map; logits are <proj(desc), pixel> / sqrt(C) with the **max over source frames
    (slots)**; invalid (object, slot) pairs are -inf before that max (a descriptor invalid in every
    slot therefore gives a -inf channel). The original's unused ``fmap_proj_4x`` is not created.
    The descriptor embeddings belong to the encoder and are passed in.
    """

    def __init__(
        self,
        dim: int = 256,
        num_layers: int = 5,
        num_heads: int = 8,
        ffn_dim: int = 256,
        dropout: float = 0.1,
        pos_enc_in_queries: bool = True,
        reduce_dim: int = 64,
        deform_conv_impl: str = "auto",
        clone_layer_init: bool = True,
    ) -> None:
        """``clone_layer_init``: all layers start as copies of one initialised layer, as the
        original (``deepcopy`` of one ``DecoderLayer``); False = each layer initialised on its own."""
        super().__init__()
        self.dim = dim
        self.reduce_dim = reduce_dim
        self.pos_enc_in_queries = pos_enc_in_queries
        self.attn_layers = make_layers(
            lambda: DecoderLayer(dim, num_heads, ffn_dim, dropout, deform_conv_impl=deform_conv_impl),
            num_layers,
            clone_layer_init,
        )
        self.conv_4x_reduce = _conv_relu_gn(dim, reduce_dim, 1, 8)
        self.conv_4x = _conv_relu_gn(dim, dim, 3, 8)
        self.instance_query_proj = nn.Linear(dim, dim)
        self.bg_query_proj = nn.Linear(dim, dim)
        self.catch_all_conv = nn.Sequential(
            nn.Conv2d(dim, dim // 2, 3, padding=1, bias=False),
            nn.GroupNorm(8, dim // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim // 2, 1, 1, bias=False),
        )
        self.checkpoint_activations = False  # see hodor/modeling/checkpointing.py

    def forward(
        self,
        fg_desc: Tensor,
        bg_desc: Tensor,
        f4: Tensor,
        f8: Tensor,
        fg_embed: Tensor,
        bg_embed: Tensor,
        fg_invalid: Tensor | None = None,
        bg_invalid: Tensor | None = None,
    ) -> Tensor:
        """fg_desc [B,I,T,C], bg_desc [B,Qb,T,C], f4 [B,C,H4,W4], f8 [B,C,h,w], fg_embed [C],
        bg_embed [Qb,C], fg_invalid [B,I,T] / bg_invalid [B,Qb,T] bool (True = excluded) or None
        -> logits [B, 1+Qb+I, H4, W4]."""
        b, num_obj, t, c = fg_desc.shape
        num_bg = bg_desc.shape[1]
        if bg_desc.shape[2] != t:
            raise ValueError(f"fg and bg descriptors have different slot counts: {t} vs {bg_desc.shape[2]}")
        if bg_embed.shape[0] != num_bg:
            raise ValueError(f"{num_bg} background descriptors but {bg_embed.shape[0]} background embeddings")
        fg = fg_desc.reshape(b, num_obj * t, c)  # object-major: (obj, slot)
        bg = bg_desc.reshape(b, num_bg * t, c)
        bg_emb = bg_embed[:, None, :].expand(num_bg, t, c).reshape(num_bg * t, c)
        for name, inv, shape in (
            ("fg_invalid", fg_invalid, (b, num_obj, t)),
            ("bg_invalid", bg_invalid, (b, num_bg, t)),
        ):
            if inv is not None and tuple(inv.shape) != shape:
                raise ValueError(f"{name} has shape {list(inv.shape)}, expected {list(shape)}")
        invalid = None
        if fg_invalid is not None or bg_invalid is not None:
            fi = fg_invalid if fg_invalid is not None else fg_desc.new_zeros(b, num_obj, t, dtype=torch.bool)
            bi = bg_invalid if bg_invalid is not None else bg_desc.new_zeros(b, num_bg, t, dtype=torch.bool)
            invalid = torch.cat([fi.reshape(b, -1), bi.reshape(b, -1)], dim=1).bool()

        h, w = f8.shape[-2:]
        pos = (
            sine_position_embedding(h, w, c // 2, device=f8.device, dtype=f8.dtype) if self.pos_enc_in_queries else None
        )
        fmap = f8
        for layer in self.attn_layers:
            fmap = run_layer(self.checkpoint_activations, layer, fmap, pos, fg, bg, fg_embed, bg_emb, invalid)

        fmap = F.interpolate(fmap, size=f4.shape[-2:], mode="bilinear", align_corners=False)
        reduced = self.conv_4x_reduce(f4)
        r = self.reduce_dim
        fmap = torch.cat([fmap[:, :r] + reduced, fmap[:, r:]], dim=1)  # partial channel add
        f4x = self.conv_4x(fmap)  # [B, C, H4, W4]

        scale = 1.0 / math.sqrt(c)
        fg_logits = torch.einsum("bitc,bchw->bithw", self.instance_query_proj(fg_desc), f4x) * scale
        bg_logits = torch.einsum("bktc,bchw->bkthw", self.bg_query_proj(bg_desc), f4x) * scale
        if fg_invalid is not None:
            fg_logits = fg_logits.masked_fill(fg_invalid.bool()[..., None, None], float("-inf"))
        if bg_invalid is not None:
            bg_logits = bg_logits.masked_fill(bg_invalid.bool()[..., None, None], float("-inf"))
        catch_all = self.catch_all_conv(f4x)
        return torch.cat([catch_all, bg_logits.amax(dim=2), fg_logits.amax(dim=2)], dim=1)
