"""Parity case d: the training forward (cycles, caching, re-encoding, trackability), loss and gradients.

Runs our ``static_image`` regime (hodor.training.regimes) on the fixture clip in eval mode with
autograd on, at an even and an odd iteration, and compares every prediction, the stacked loss
inputs, the four encoder calls, the loss terms and the gradients of the listed parameters (mapped
to our parameter layout with the same converter as the weights, since gradients transform like
the parameters they belong to).
"""

from __future__ import annotations

import numpy as np
import torch

from . import (
    ArrayCheck,
    ParityCase,
    ParityContext,
    compare_exact,
    compare_float,
    compare_grad,
    compare_loss,
    register_case,
)

_INPUTS = ("d_ref_image", "d_other_images", "d_ref_mask", "d_other_masks", "d_presence")


def _present(ctx: ParityContext) -> bool:
    return ctx.has(*_INPUTS) and any(k.startswith("d_even_") for k in ctx.expected.files)


def _clip_batch(ctx: ParityContext):
    from ..structures.batch import ClipBatch

    ref, other = ctx.tensor("d_ref_image"), ctx.tensor("d_other_images")
    frames = torch.cat([ref[:, None], other], dim=1)  # [1, 3, 3, H, W]
    masks = torch.cat([ctx.tensor("d_ref_mask")[:, None], ctx.tensor("d_other_masks")], dim=1).long()  # [1, 3, H, W]
    presence = ctx.tensor("d_presence").bool()  # [1, 3, I]
    b, t = masks.shape[:2]
    return ClipBatch(
        frames=frames,
        masks=masks,
        mask_valid=torch.ones(b, t, dtype=torch.bool, device=frames.device),
        presence=presence,
        num_objects=torch.full((b,), presence.shape[-1], dtype=torch.int64, device=frames.device),
        image_sizes=[tuple(frames.shape[-2:])] * b,
        meta=[{}] * b,
    )


def _expected_grads(ctx: ParityContext, tag: str) -> dict[str, np.ndarray]:
    """Expected gradients keyed by *our* parameter names (converted like weights)."""
    from ..checkpoint.convert import convert_original_state_dict

    orig = {}
    for key in ctx.expected.files:
        prefix = f"d_{tag}_grad__"
        if key.startswith(prefix):
            orig[key[len(prefix) :].replace("__", ".")] = torch.from_numpy(np.array(ctx.expected[key]))
    ours: dict[str, np.ndarray] = {}
    enc_dec = {k: v for k, v in orig.items() if not k.startswith("feature_extractor.")}
    ours.update({k: v.numpy() for k, v in enc_dec.items()})
    for k, v in orig.items():  # backbone keys one at a time: the converter renames/permutes them
        if k.startswith("feature_extractor."):
            conv = convert_original_state_dict({k: v})
            ours.update({nk: nv.numpy() for nk, nv in conv.items()})
    return ours


def _run_tag(ctx: ParityContext, model, batch, tag: str, iteration: int) -> list[ArrayCheck]:
    from ..training.regimes import StaticImageRegime

    exp = ctx.expected
    regime = StaticImageRegime(cycles="", detach_masks=True, dice="multiclass_dice")
    model.zero_grad(set_to_none=True)
    with torch.enable_grad():
        out = regime(model, batch, iteration, record=True)
        (group,) = out.groups
        total = out.total_loss
        total.backward()
    p = f"d_{tag}_"
    preds = group.predictions
    src_tgt = np.array([[s.step.src[0], s.step.src[1] if len(s.step.src) > 1 else -1, s.step.tgt] for s in preds])
    checks = [compare_exact(p + "src_tgt", src_tgt.astype(exp[p + "src_tgt"].dtype), exp[p + "src_tgt"])]
    checks.append(compare_float(p + "dec_logits", torch.stack([x.logits[0] for x in preds]), exp[p + "dec_logits"]))
    checks.append(compare_float(p + "pred_logits", group.pred_logits, exp[p + "pred_logits"]))
    checks.append(compare_exact(p + "gt", group.targets.to(torch.uint8), exp[p + "gt"]))
    calls = group.encoder_calls
    for name, attr in (
        ("enc_fg_mask", "fg_mask"),
        ("enc_bg_mask", "bg_mask"),
        ("enc_fg_desc", "fg_desc"),
        ("enc_bg_desc", "bg_desc"),
    ):
        got = torch.stack([getattr(c, attr)[0] for c in calls])
        checks.append(compare_float(p + name, got, exp[p + name]))
    loss = torch.stack([total, out.losses["loss_dice"], out.losses["loss_ce"]])
    checks.append(compare_loss(p + "loss", loss, exp[p + "loss"]))
    params = dict(model.named_parameters())
    for key, ref in sorted(_expected_grads(ctx, tag).items()):
        grad = params[key].grad if key in params else None
        got = torch.zeros_like(torch.from_numpy(ref)) if grad is None else grad
        checks.append(compare_grad(f"{p}grad {key}", got, ref))
    if p + "grad_norms" in exp.files:
        norms = []
        for prefix in ("backbone.", "encoder.", "decoder."):
            sq = sum(
                float(v.grad.double().pow(2).sum())
                for k, v in params.items()
                if k.startswith(prefix) and v.grad is not None
            )
            norms.append(np.sqrt(sq))
        checks.append(compare_grad(p + "grad_norms", np.array(norms), exp[p + "grad_norms"]))
    model.zero_grad(set_to_none=True)
    return checks


def _run(ctx: ParityContext) -> list[ArrayCheck]:
    model = ctx.model
    model.eval()  # dropout / drop-path off, as the fixture
    batch = _clip_batch(ctx)
    iters = ctx.cases.get("d", {}).get("iterations", {"even": 0, "odd": 1})
    checks: list[ArrayCheck] = []
    for tag in ("even", "odd"):
        if any(k.startswith(f"d_{tag}_") for k in ctx.expected.files):
            checks += _run_tag(ctx, model, batch, tag, int(iters[tag]))
    return checks


register_case(ParityCase("d", "training forward, loss and gradients (even and odd iteration)", _present, _run))
