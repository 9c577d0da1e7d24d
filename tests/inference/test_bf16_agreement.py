"""bf16 inference (autocast, with the deformable conv in bf16) against fp32 on the same model:
predicted masks must agree on nearly every pixel and the probabilities stay close.

Bounds: the tiny random-weight model has small margins between channels, so a few boundary
pixels flip; the 480p Swin-T measurement (tools/benchmark.py infer --compare) is in the perf note.
"""

import numpy as np
import torch

from hodor.inference import VideoPredictor

from .conftest import box_mask, synthetic_video


def _run(model, cfg, precision: str, frames):
    cfg = cfg.clone()
    cfg.defrost()
    cfg.INFERENCE.PRECISION = precision
    pred = VideoPredictor.from_config(model, cfg)
    masks, probs = [], []
    for t, frame in enumerate(frames):
        given = {1: box_mask(64, 96, 8, 28, 10, 34), 2: box_mask(64, 96, 30, 54, 60, 84)} if t == 0 else None
        m, p = pred.step(frame, given, return_probs=True)
        masks.append(m)
        probs.append(p)
    return np.stack(masks[1:]), torch.stack(probs[1:])


def test_bf16_masks_agree_with_fp32(tiny_model, tiny_cfg):
    frames = synthetic_video(6, 64, 96)
    m32, p32 = _run(tiny_model, tiny_cfg, "fp32", frames)
    m16, p16 = _run(tiny_model, tiny_cfg, "bf16", frames)
    agreement = float((m32 == m16).mean())
    assert agreement >= 0.98, agreement
    assert (p16 - p32).abs().max().item() < 0.1
    assert not torch.equal(p16, p32)  # the bf16 path really ran in lower precision
