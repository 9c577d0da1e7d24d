"""VideoPredictor.snapshot/restore: resuming from a saved state equals running straight through."""

import numpy as np

from hodor.inference.predictor import VideoPredictor
from tests.inference.conftest import box_mask, synthetic_video


def _run(pred, frames, masks, start=0):
    return [pred.step(frames[t], masks.get(t)) for t in range(start, len(frames))]


def test_restore_resumes_exactly(tiny_model, tiny_cfg):
    frames = synthetic_video(7, 64, 96)
    masks = {0: {1: box_mask(64, 96, 8, 28, 10, 34)}, 3: {2: box_mask(64, 96, 30, 54, 57, 81)}}
    straight = _run(VideoPredictor.from_config(tiny_model, tiny_cfg), frames, masks)
    assert any((m == 1).any() for m in straight[1:]) and (straight[5] == 2).any()

    pred = VideoPredictor.from_config(tiny_model, tiny_cfg)
    snaps = {0: pred.snapshot()}
    for t in range(len(frames)):
        pred.step(frames[t], masks.get(t))
        snaps[t + 1] = pred.snapshot()
    assert snaps[4].frame_index == 4 and snaps[4].object_ids == [1, 2]
    for k in (0, 2, 3, 5):  # before, at and after the late object
        pred.restore(snaps[k])
        resumed = _run(pred, frames, masks, start=k)
        for t, m in enumerate(resumed, start=k):
            np.testing.assert_array_equal(m, straight[t], err_msg=f"resume at {k}, frame {t}")
        assert pred.num_stored_frames() <= tiny_cfg.INFERENCE.TEMPORAL_WINDOW + 1

    # a correction given on resuming equals a straight run with that correction
    fix = {**masks, 4: {1: box_mask(64, 96, 14, 34, 16, 40)}}
    ref = _run(VideoPredictor.from_config(tiny_model, tiny_cfg), frames, fix)
    pred.restore(snaps[4])
    got = _run(pred, frames, fix, start=4)
    for t, m in enumerate(got, start=4):
        np.testing.assert_array_equal(m, ref[t])
    assert not np.array_equal(ref[5], straight[5])  # the correction changed something
