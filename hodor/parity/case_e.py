"""Parity case e: video inference with a late-starting object (original ``InferenceModel.forward``).

Runs our streaming :class:`hodor.inference.VideoPredictor` on the fixture's *raw* frames and
first-appearance masks (so our test-time preprocessing is checked too) and compares:

* the preprocessed inputs (``e_images`` within 1e-4 relative, ``e_ref_masks`` exactly);
* the output label maps ``e_masks`` (>= 99.9 % equal pixels per frame);
* the frames that were decoded and, per decoded frame, the raw logits (1e-4 relative) and the
  fg/bg invalid masks of the history window (exact);
* the sequence of encoder calls (frame, kind: 0 = objects from their given masks, 1 =
  re-encoding of a prediction; exact), and for each call the stride-8 masks fed and the
  descriptors returned (1e-4 relative).

The predictor's ``observer`` hook records the model calls; nothing in the algorithm is changed.
"""

from __future__ import annotations

import numpy as np

from ..inference.predictor import VideoPredictor
from ..inference.preprocess import padded_hw, preprocess_frame, preprocess_mask, resized_hw
from . import ArrayCheck, ParityCase, compare_exact, compare_float, compare_fraction_equal, register_case


def _present(ctx) -> bool:
    return ctx.has("e_frames_rgb", "e_ref_masks_orig", "e_ref_ids", "e_ref_frames", "e_masks") and "e" in ctx.cases


def _run(ctx) -> list[ArrayCheck]:
    import torch

    spec = ctx.cases["e"]
    norm = ctx.cases["normalization"]
    frames = ctx.inputs["e_frames_rgb"]
    ref_masks = ctx.inputs["e_ref_masks_orig"]
    ref_ids = [int(v) for v in ctx.inputs["e_ref_ids"]]
    ref_frames = [int(v) for v in ctx.inputs["e_ref_frames"]]
    h, w = frames.shape[1:3]
    checks: list[ArrayCheck] = []

    # Preprocessing alone, against the tensors the original fed to its model.
    size = resized_hw(h, w, spec["min_dim"], spec["max_dim"])
    pad = padded_hw(*size, 32)
    images = torch.cat([preprocess_frame(f, size, norm["mean_rgb"], norm["std_rgb"], 32) for f in frames])
    checks.append(compare_float("e_images (preprocessing)", images, ctx.inputs["e_images"]))
    masks_pp = torch.stack([preprocess_mask(m, size, pad) for m in ref_masks]).to(torch.uint8)
    checks.append(compare_exact("e_ref_masks (preprocessing)", masks_pp, ctx.inputs["e_ref_masks"]))

    decoded: dict[int, dict] = {}
    enc_calls: list[tuple[int, int, dict]] = []

    def observe(event: str, frame: int, t: dict) -> None:
        cpu = {k: v.detach().float().cpu() if v.dtype.is_floating_point else v.detach().cpu() for k, v in t.items()}
        if event == "decode":
            decoded[frame] = cpu
        else:
            enc_calls.append((frame, 0 if event == "encode_given" else 1, cpu))

    model = ctx.model
    predictor = VideoPredictor(
        model,
        temporal_window=spec["temporal_window"],
        min_dim=spec["min_dim"],
        max_dim=spec["max_dim"],
        pixel_mean=norm["mean_rgb"],
        pixel_std=norm["std_rgb"],
        size_divisibility=32,
        precision="fp32",
        device=ctx.device,
        observer=observe,
    )
    outputs = []
    for t in range(frames.shape[0]):
        given = {oid: ref_masks[k] != 0 for k, (oid, f) in enumerate(zip(ref_ids, ref_frames)) if f == t}
        outputs.append(predictor.step(frames[t], given or None))
    checks.append(compare_fraction_equal("e_masks", np.stack(outputs), ctx.expected["e_masks"]))

    exp = ctx.expected
    checks.append(compare_exact("e_dec_frames", np.array(sorted(decoded), dtype=np.int64), exp["e_dec_frames"]))
    for t in (int(v) for v in exp["e_dec_frames"]):
        got = decoded.get(t)
        for key, name in (("logits", "logits"), ("fg_invalid", "fg_invalid"), ("bg_invalid", "bg_invalid")):
            ref_name = f"e_dec_t{t}_{name}"
            if got is None:
                checks.append(ArrayCheck(ref_name, float("inf"), 0.0, False, "exact", "frame was not decoded"))
            elif key == "logits":
                checks.append(compare_float(ref_name, got[key], exp[ref_name]))
            else:
                checks.append(compare_exact(ref_name, got[key], exp[ref_name]))

    calls = np.array([(f, k) for f, k, _ in enc_calls], dtype=np.int64).reshape(-1, 2)
    checks.append(compare_exact("e_enc_calls", calls, exp["e_enc_calls"]))
    for i in range(exp["e_enc_calls"].shape[0]):
        if i >= len(enc_calls):
            checks.append(ArrayCheck(f"e_enc{i}_*", float("inf"), 0.0, False, "exact", "encoder call missing"))
            continue
        rec = enc_calls[i][2]
        for key, suffix in (("fg_masks", "fg_mask"), ("bg_masks", "bg_mask"), ("fg", "fg"), ("bg", "bg")):
            checks.append(compare_float(f"e_enc{i}_{suffix}", rec[key], exp[f"e_enc{i}_{suffix}"]))
    return checks


register_case(ParityCase("e", "video inference, late-starting object (streaming predictor)", _present, _run))
