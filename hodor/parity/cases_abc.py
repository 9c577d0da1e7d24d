"""Parity cases a (backbone + FPN + GroupNorm), b (encoder) and c (decoder)."""

from __future__ import annotations

import torch

from ..modeling.masks import encoder_masks_from_index
from ..modeling.preprocess import normalize, pad_to_multiple
from . import ArrayCheck, ParityCase, ParityContext, compare_float, register_case


def _present_a(ctx: ParityContext) -> bool:
    return "a_images" in ctx.inputs.files and any(k.startswith("a_feat") for k in ctx.expected.files)


@torch.no_grad()
def _run_a(ctx: ParityContext) -> list[ArrayCheck]:
    checks = []
    images = ctx.tensor("a_images")
    if "a_frames_rgb" in ctx.inputs.files:  # our preprocessing reproduces the fed images
        norm = ctx.cases.get("normalization", {})
        mean, std = norm.get("mean_rgb", [123.675, 116.28, 103.53]), norm.get("std_rgb", [58.395, 57.12, 57.375])
        frames = ctx.tensor("a_frames_rgb").permute(0, 3, 1, 2)
        ours, _ = pad_to_multiple(normalize(frames, mean, std), 32)
        checks.append(compare_float("a_images (normalize + pad)", ours, ctx.inputs["a_images"]))
    feats = ctx.model.extract_features(images)
    for key in sorted(k for k in ctx.expected.files if k.startswith("a_feat")):
        checks.append(compare_float(key, feats[int(key[len("a_feat") :])], ctx.expected[key]))
    return checks


def _present_b(ctx: ParityContext) -> bool:
    return ctx.has("b_f8", "b_fg_mask", "b_bg_mask") and any(
        k in ctx.expected.files for k in ("b_fg_desc", "b_bg_desc")
    )


@torch.no_grad()
def _run_b(ctx: ParityContext) -> list[ArrayCheck]:
    checks = []
    fg_mask, bg_mask = ctx.tensor("b_fg_mask"), ctx.tensor("b_bg_mask")
    if "d_ref_mask" in ctx.inputs.files:  # the masks fed to the encoder, rebuilt from the index map
        index = ctx.tensor("d_ref_mask").long()
        fg, bg = encoder_masks_from_index(index, fg_mask.shape[1], bg_mask.shape[1])
        checks.append(compare_float("b_fg_mask (from d_ref_mask)", fg, ctx.inputs["b_fg_mask"]))
        checks.append(compare_float("b_bg_mask (from d_ref_mask)", bg, ctx.inputs["b_bg_mask"]))
    fg_desc, bg_desc = ctx.model.encode(ctx.tensor("b_f8"), fg_mask, bg_mask)
    for key, got in (("b_fg_desc", fg_desc), ("b_bg_desc", bg_desc)):
        if key in ctx.expected.files:
            checks.append(compare_float(key, got, ctx.expected[key]))
    return checks


def _present_c(ctx: ParityContext) -> bool:
    return ctx.has("c_f4", "c_f8", "c_bg_desc") and any(
        k in ctx.expected.files for k in ("c_logits_masked", "c_logits_nomask")
    )


@torch.no_grad()
def _run_c(ctx: ParityContext) -> list[ArrayCheck]:
    checks = []
    f4, f8, bg = ctx.tensor("c_f4"), ctx.tensor("c_f8"), ctx.tensor("c_bg_desc")
    if "c_logits_masked" in ctx.expected.files:
        fg = ctx.tensor("c_fg_desc_masked" if "c_fg_desc_masked" in ctx.inputs.files else "c_fg_desc")
        fi = ctx.tensor("c_fg_invalid").bool() if "c_fg_invalid" in ctx.inputs.files else None
        bi = ctx.tensor("c_bg_invalid").bool() if "c_bg_invalid" in ctx.inputs.files else None
        logits = ctx.model.decode(fg, bg, f4, f8, fi, bi)
        checks.append(compare_float("c_logits_masked", logits, ctx.expected["c_logits_masked"]))
    if "c_logits_nomask" in ctx.expected.files:
        logits = ctx.model.decode(ctx.tensor("c_fg_desc"), bg, f4, f8)
        checks.append(compare_float("c_logits_nomask", logits, ctx.expected["c_logits_nomask"]))
    return checks


register_case(ParityCase("a", "backbone + FPN + GroupNorm features", _present_a, _run_a))
register_case(ParityCase("b", "encoder descriptors (and GT mask construction)", _present_b, _run_b))
register_case(ParityCase("c", "decoder logits, with and without invalid masks", _present_c, _run_c))
