"""Differentiable soft-masked attention (HODOR encoder, "FM->Q").

Each descriptor (query) attends over the pixels (keys) of a frame. Instead of a hard mask, the
attention logits are penalised by how much a pixel lies *outside* the descriptor's soft mask:

    logit[h, n, s] = q_h[n] . k_h[s] / sqrt(d)  -  sigma_h * (1 - m[n, s])

so m = 1 leaves the logit alone and m = 0 subtracts sigma_h. The penalty is linear in m, hence
the output is differentiable w.r.t. the mask probabilities (d logit / d m = sigma_h) and w.r.t.
sigma. Different heads get different sigma: large ones behave like hard masking, small ones let
the head look at the context around the object.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ORIGINAL_MASK_SCALES = [32.0, 32.0, 16.0, 16.0, 8.0, 8.0, 4.0, 4.0]


def default_mask_scales(num_heads: int) -> list[float]:
    """Initial sigma per head: the original [32,32,16,16,8,8,4,4] for 8 heads.

    Generalisation to H heads: heads are split into four equal-as-possible groups in order and
    group g gets 32 / 2^g, i.e. sigma_h = 32 / 2^floor(4h / H). For H = 8 this is exactly the
    original; H = 4 gives [32, 16, 8, 4]; H = 2 gives [32, 8]; H = 1 gives [32]; H = 16 gives
    four heads each of 32, 16, 8, 4. The strongest (hard-mask-like) heads always come first.
    """
    if num_heads < 1:
        raise ValueError(f"num_heads must be >= 1, got {num_heads}")
    return [32.0 / 2 ** ((4 * h) // num_heads) for h in range(num_heads)]


def soft_mask_bias(mask: Tensor, scales: Tensor) -> Tensor:
    """Additive logit bias -sigma_h * (1 - m).

    mask: [B, N, S] soft mask in [0, 1]; scales: [H] -> [B, H, N, S].
    """
    return -(scales.view(1, -1, 1, 1) * (1.0 - mask).unsqueeze(1))


class SoftMaskedAttention(nn.Module):
    """Multi-head attention with a soft additive mask penalty per head.

    Parameter names follow the original (``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``,
    ``scaling_factors``) so that original checkpoints load without renaming.

    Args:
        embed_dim: model width C.
        num_heads: heads H (head dim C / H).
        dropout: dropout on the attention weights (after softmax), as ``nn.MultiheadAttention``.
        mask_scales: initial sigma per head; None = ``default_mask_scales(num_heads)``.
        learnable_scales: sigma is an ``nn.Parameter`` (original) or a fixed buffer.
        fused: compute through ``F.scaled_dot_product_attention`` with the penalty as float
            ``attn_mask`` (same maths, less memory, gradients flow to the mask); False uses an
            explicit softmax (reference path, also used to cross-check the fused one).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        mask_scales: list[float] | None = None,
        learnable_scales: bool = True,
        fused: bool = True,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        scales = list(mask_scales) if mask_scales else default_mask_scales(num_heads)
        if len(scales) != num_heads:
            raise ValueError(f"got {len(scales)} mask scales for {num_heads} heads")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.fused = fused
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        init = torch.tensor(scales, dtype=torch.float32)
        if learnable_scales:
            self.scaling_factors = nn.Parameter(init)
        else:
            self.register_buffer("scaling_factors", init)

    def _heads(self, x: Tensor) -> Tensor:
        # [B, L, C] -> [B, H, L, d]
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        mask: Tensor,
        key_padding_mask: Tensor | None = None,
    ) -> Tensor:
        """query [B,N,C], key/value [B,S,C], mask [B,N,S] in [0,1],
        key_padding_mask [B,S] bool (True = ignore that key) -> [B,N,C]."""
        b, n, c = query.shape
        q = self._heads(self.q_proj(query))
        k = self._heads(self.k_proj(key))
        v = self._heads(self.v_proj(value))
        bias = soft_mask_bias(mask.to(q.dtype), self.scaling_factors.to(q.dtype))  # [B,H,N,S]
        if key_padding_mask is not None:
            bias = bias.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        p = self.dropout if self.training else 0.0
        if self.fused:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)
        else:
            logits = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim) + bias
            attn = F.dropout(logits.softmax(dim=-1), p=p, training=p > 0)
            out = torch.matmul(attn, v)
        # An explicit contiguous copy before the reshape: torch.export records the fused attention's
        # output strides as [B,N,H,d]-contiguous, so a plain reshape (or contiguous()) is lowered to
        # a view that is invalid once the attention is decomposed for ONNX export. Same values.
        out = out.transpose(1, 2).clone(memory_format=torch.contiguous_format).view(b, n, c)
        return self.out_proj(out)
