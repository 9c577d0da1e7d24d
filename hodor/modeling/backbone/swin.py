"""Swin Transformer trunks (T/S/B) built from timm modules, windowed like the detection Swin.

HODOR's backbone is the Swin-Transformer-Object-Detection (mmdet) copy of Swin. timm's Swin with
``strict_img_size=False, always_partition=True`` has the same parameters and almost the same forward,
with one difference that matters for any feature map whose side is not a multiple of the window
(e.g. the 16x24 stride-4 map of a 64x96 image): timm rolls the map for the shifted window *before*
padding it to whole windows, the detection Swin pads first and then rolls the padded map. The
shifted-window masks are built on the padded map in both. We therefore keep timm's modules (so timm
weights load unchanged) but drive the blocks with :func:`detection_block_forward`, which pads then
rolls. Patch merging in timm already concatenates (even,even), (odd,even), (even,odd), (odd,odd)
like the detection Swin, so no weight permutation is needed.

Key layout differences handled in :meth:`SwinTrunk.convert_external_state_dict`: the official /
mmdet / Mask2Former layout puts patch merging at the *end* of stage s (``layers.{s}.downsample``),
timm at the *start* of stage s+1; the detection Swin's per-stage output norms ``norm{i}`` are our
``out_norms.{i}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import timm
import torch
import torch.nn.functional as F
from timm.models.swin_transformer import SwinTransformerBlock, window_partition, window_reverse
from torch import Tensor, nn

from ..checkpointing import run_layer
from .registry import BACKBONE_REGISTRY
from .trunk import TrunkOptions


@dataclass(frozen=True)
class SwinSpec:
    """Architecture of one Swin variant (facts from the Swin paper / HODOR's build_swin_fpn)."""

    timm_name: str
    embed_dim: int
    depths: tuple[int, ...]
    num_heads: tuple[int, ...]
    window_size: int = 7


SWIN_SPECS: dict[str, SwinSpec] = {
    "swin_t": SwinSpec("swin_tiny_patch4_window7_224", 96, (2, 2, 6, 2), (3, 6, 12, 24)),
    "swin_s": SwinSpec("swin_small_patch4_window7_224", 96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "swin_b": SwinSpec("swin_base_patch4_window7_224", 128, (2, 2, 18, 2), (4, 8, 16, 32)),
}


def detection_block_forward(block: SwinTransformerBlock, x: Tensor) -> Tensor:
    """One Swin block, windowed like the detection Swin: norm1 -> pad to windows -> roll -> attend.

    x: [B, H, W, C] (NHWC, as timm's stages use) -> [B, H, W, C].
    Padded tokens are zeros *after* norm1 and take part as keys/values; odd blocks roll the padded
    map by the shift and add timm's -100 mask between regions, computed on the padded map.
    """
    b, h, w, c = x.shape
    wh, ww = block.window_size
    sh, sw = block.shift_size
    shortcut = x
    y = block.norm1(x)
    pad_h, pad_w = (wh - h % wh) % wh, (ww - w % ww) % ww
    y = F.pad(y, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    has_shift = sh > 0 or sw > 0
    if has_shift:
        y = torch.roll(y, shifts=(-sh, -sw), dims=(1, 2))
        mask = block.get_attn_mask(y)  # [nW, wh*ww, wh*ww], regions on the padded, shifted grid
    else:
        mask = None
    windows = window_partition(y, (wh, ww)).view(-1, wh * ww, c)
    windows = block.attn(windows, mask=mask)
    y = window_reverse(windows.view(-1, wh, ww, c), (wh, ww), hp, wp)
    if has_shift:
        y = torch.roll(y, shifts=(sh, sw), dims=(1, 2))
    y = y[:, :h, :w, :]
    x = shortcut + block.drop_path1(y)
    x = x + block.drop_path2(block.mlp(block.norm2(x)))
    return x


class SwinTrunk(nn.Module):
    """Swin patch embedding + 4 stages + a LayerNorm per stage output (the detection Swin's norm0..3).

    forward: images [N, 3, H, W] with H, W multiples of 4 (the wrapper pads to 32) ->
    [C2 [N, d, H/4, W/4], C3 [N, 2d, H/8, W/8], C4 [N, 4d, H/16, W/16], C5 [N, 8d, H/32, W/32]].
    """

    size_divisibility = 32

    def __init__(self, spec: SwinSpec, drop_path_rate: float = 0.2) -> None:
        super().__init__()
        body = timm.create_model(
            spec.timm_name,
            pretrained=False,
            num_classes=0,
            embed_dim=spec.embed_dim,
            depths=spec.depths,
            num_heads=spec.num_heads,
            window_size=spec.window_size,
            drop_path_rate=drop_path_rate,
            strict_img_size=False,
            always_partition=True,
        )
        # Keep only what computes features; timm's final norm/head are classification-only.
        self.patch_embed = body.patch_embed
        self.layers = body.layers
        self.out_channels = [spec.embed_dim * 2**i for i in range(len(spec.depths))]
        self.strides = [4, 8, 16, 32]
        self.out_norms = nn.ModuleList(nn.LayerNorm(c) for c in self.out_channels)
        self.spec = spec
        self.checkpoint_activations = False  # see hodor/modeling/checkpointing.py

    def forward(self, images: Tensor) -> list[Tensor]:
        x = self.patch_embed(images)  # [N, H/4, W/4, d]
        outs = []
        for stage, norm in zip(self.layers, self.out_norms):
            x = stage.downsample(x)
            for block in stage.blocks:
                x = run_layer(self.checkpoint_activations, detection_block_forward, block, x)
            outs.append(norm(x).permute(0, 3, 1, 2).contiguous())
        return outs

    def freeze(self, freeze_at: int) -> None:
        """Freeze the patch embedding (freeze_at >= 1) and stages 0..freeze_at-2 (detectron2 convention)."""
        if freeze_at >= 1:
            self.patch_embed.requires_grad_(False)
        for s in range(min(max(freeze_at - 1, 0), len(self.layers))):
            self.layers[s].requires_grad_(False)

    @staticmethod
    def convert_external_state_dict(sd: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], list[str], list[str]]:
        """Map a Swin state dict in official/mmdet/Mask2Former or timm layout to this trunk's keys.

        Returns (mapped, ignored, unknown): ignored keys are known to be irrelevant here (derived
        buffers, the classifier and its final norm); unknown keys are not Swin trunk keys at all.
        """
        official = any(re.match(r"layers\.0\.downsample\.", k) for k in sd)
        mapped: dict[str, Tensor] = {}
        ignored: list[str] = []
        unknown: list[str] = []
        for key, value in sd.items():
            leaf = key.rsplit(".", 1)[-1]
            if leaf in ("relative_position_index", "attn_mask") or re.match(r"(head|norm)\.", key):
                ignored.append(key)
                continue
            m = re.match(r"norm(\d)\.(weight|bias)$", key)
            if m:
                mapped[f"out_norms.{m.group(1)}.{m.group(2)}"] = value
                continue
            m = re.match(r"layers\.(\d+)\.downsample\.(.+)$", key)
            if m and official:
                mapped[f"layers.{int(m.group(1)) + 1}.downsample.{m.group(2)}"] = value
                continue
            if key.startswith(("patch_embed.", "layers.")):
                mapped[key] = value
                continue
            unknown.append(key)
        return mapped, ignored, unknown


def _make_swin(name: str):
    def build(opts: TrunkOptions) -> SwinTrunk:  # Swin has no BatchNorm: frozen_bn does not apply
        return SwinTrunk(SWIN_SPECS[name], drop_path_rate=opts.drop_path_rate)

    build.__name__ = f"build_{name}"
    build.__doc__ = f"{name}: timm Swin ({SWIN_SPECS[name]}) with detection-style windows and stage norms."
    return build


for _name in SWIN_SPECS:
    BACKBONE_REGISTRY.register(_name, _make_swin(_name))
