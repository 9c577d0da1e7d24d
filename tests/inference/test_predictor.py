"""VideoPredictor with a tiny real HODOR model: ids, sizes, given-mask frames, window, streaming."""

import logging

import numpy as np
import pytest
import torch

from hodor.inference import VideoPredictor, padded_hw, preprocess_mask, resized_hw
from tests.inference.conftest import box_mask, synthetic_video


def _record(pred):
    calls = []
    pred.observer = lambda ev, t, tensors: calls.append((ev, t, {k: v.clone() for k, v in tensors.items()}))
    return calls


def test_late_object_ids_sizes_and_given_frames(tiny_model, tiny_cfg):
    frames = synthetic_video(7, 64, 96)
    pred = VideoPredictor.from_config(tiny_model, tiny_cfg)
    calls = _record(pred)
    m5 = box_mask(64, 96, 8, 28, 10, 34)
    m9 = box_mask(64, 96, 30, 54, 56, 80)
    outs = []
    for t in range(7):
        given = {5: m5} if t == 1 else ({9: m9} if t == 4 else None)
        outs.append(pred.step(frames[t], given))
    for o in outs:
        assert o.shape == (64, 96) and o.dtype == np.uint8
    assert not outs[0].any()  # before any object: all background, original size
    # first objects: the output is the given mask itself (64x96 needs no resize here)
    np.testing.assert_array_equal(outs[1], np.where(m5, 5, 0))
    # the late object is absent before frame 4; at frame 4 the given mask overrides the prediction
    for t in (1, 2, 3):
        assert 9 not in outs[t]
    np.testing.assert_array_equal(outs[4] == 9, m9)
    assert set(np.unique(np.stack(outs))) <= {0, 5, 9}
    assert pred.object_ids == [5, 9]

    events = [(ev, t) for ev, t, _ in calls]
    # frame 1: encode given; frames 2..6 decoded; re-encoding of frame t happens before frame t+1's calls
    assert events == [
        ("encode_given", 1),
        ("decode", 2),
        ("reencode", 2),
        ("decode", 3),
        ("reencode", 3),
        ("encode_given", 4),
        ("decode", 4),
        ("reencode", 4),
        ("decode", 5),
        ("reencode", 5),
        ("decode", 6),
    ]
    dec = {t: c for ev, t, c in calls if ev == "decode"}
    # W = 2: window max(0, t-2)..t including t; frame 0 had nothing, frame t has nothing unless new objects
    assert dec[2]["fg_invalid"][0].tolist() == [[True, False, True]]
    assert dec[2]["bg_invalid"][0, 0].tolist() == [True, False, True]
    # frame 4: object 9 (second channel) only valid at slot t (its given-mask descriptor); bg of t invalid
    assert dec[4]["fg_invalid"][0].tolist() == [[False, False, True], [True, True, False]]
    assert dec[4]["bg_invalid"][0, 0].tolist() == [False, False, True]
    assert dec[6]["fg_invalid"][0].tolist() == [[False, False, True], [False, False, True]]
    # invalid entries are zero
    assert dec[4]["fg"][0, 1, :2].abs().sum() == 0 and dec[4]["fg"][0, 0, 2].abs().sum() == 0
    # logits channel order: catch-all, Qb background, objects ascending
    assert dec[4]["logits"].shape[1] == 1 + tiny_model.num_bg_descriptors + 2

    # the re-encoding of frame 4 *replaces* its entries (also the given-mask descriptor of object 9)
    reenc4 = next(c for ev, t, c in calls if ev == "reencode" and t == 4)
    given4 = next(c for ev, t, c in calls if ev == "encode_given" and t == 4)
    torch.testing.assert_close(dec[5]["fg"][0, :, 1], reenc4["fg"][0].float())  # window 3,4,5: slot 1 = frame 4
    torch.testing.assert_close(dec[5]["bg"][0, :, 1], reenc4["bg"][0].float())
    assert not torch.allclose(dec[5]["fg"][0, 1, 1], given4["fg"][0, 0].float())
    # re-encoding masks are probabilities: bg = grid x (1 - sum fg), so fg + bg sums to 1 per pixel
    total = reenc4["fg_masks"].sum(1) + reenc4["bg_masks"].sum(1)
    torch.testing.assert_close(total, torch.ones_like(total), atol=1e-5, rtol=0)
    # given-mask encoding at frame 4 sees only the new object; bg excludes only the new object's pixels
    assert given4["fg_masks"].shape[1] == 1


def test_memory_stays_flat_and_reset(tiny_model, tiny_cfg):
    frames = synthetic_video(7, 64, 96)
    pred = VideoPredictor.from_config(tiny_model, tiny_cfg)
    stored = []
    for t in range(7):
        pred.step(frames[t], {3: box_mask(64, 96, 8, 28, 10, 34)} if t == 0 else None)
        stored.append(pred.num_stored_frames())
    assert max(stored) <= pred.temporal_window + 1
    assert stored[-1] == stored[-2]  # steady state
    pred.reset()
    assert pred.object_ids == [] and pred.num_stored_frames() == 0
    assert not pred.step(frames[0]).any()


def test_resized_video_gt_frame_and_probs(tiny_model, tiny_cfg):
    """Non-trivial resize (50x70 -> 64x90 -> padded 64x96): output at the original size."""
    frames = synthetic_video(3, 50, 70)
    pred = VideoPredictor.from_config(tiny_model, tiny_cfg)
    assert pred.step(frames[0]).shape == (50, 70)
    m = box_mask(50, 70, 10, 30, 20, 45)
    out, probs = pred.step(frames[1], {7: m}, return_probs=True)
    assert out.shape == (50, 70) and probs.shape == (2, 50, 70)
    # argmax over [0, bilinear-resized mask]: every pixel with a positive value -> slightly dilated
    assert (out[m] == 7).all() and (out == 7).sum() >= m.sum() and (out == 7).sum() <= m.sum() * 1.3
    out2, probs2 = pred.step(frames[2], return_probs=True)
    assert out2.shape == (50, 70)
    torch.testing.assert_close(probs2.sum(0), torch.ones(50, 70), atol=1e-5, rtol=0)
    # object probability > 0.5 beats every single background channel (the argmax is not over merged bg)
    sure = probs2[1].numpy() > 0.5
    assert (out2[sure] == 7).all() and (probs2[1].numpy()[out2 == 7] > 0).all()


def test_non_contiguous_and_large_ids(tiny_model, tiny_cfg):
    frames = synthetic_video(3, 64, 96)
    pred = VideoPredictor.from_config(tiny_model, tiny_cfg)
    out0 = pred.step(frames[0], {300: box_mask(64, 96, 8, 28, 10, 34), 17: box_mask(64, 96, 30, 54, 56, 80)})
    assert out0.dtype == np.int32 and set(np.unique(out0)) == {0, 17, 300}
    out1 = pred.step(frames[1])
    assert set(np.unique(out1)) <= {0, 17, 300} and pred.object_ids == [17, 300]


def test_tiny_object_is_kept_with_warning(tiny_model, tiny_cfg, caplog):
    frames = synthetic_video(3, 64, 96)
    pred = VideoPredictor.from_config(tiny_model, tiny_cfg)
    big, dot = box_mask(64, 96, 8, 28, 10, 34), box_mask(64, 96, 40, 42, 70, 72)  # 2x2 px vanishes at stride 8
    logging.getLogger("hodor").propagate = True
    with caplog.at_level(logging.WARNING, logger="hodor"):
        pred.step(frames[0], {1: big, 2: dot})
    assert any("object 2" in r.getMessage() and "too small" in r.getMessage() for r in caplog.records)
    pred.step(frames[1])
    assert pred.object_ids == [1, 2]


def test_model_mode_is_restored(tiny_model, tiny_cfg):
    frames = synthetic_video(2, 64, 96)
    pred = VideoPredictor.from_config(tiny_model, tiny_cfg)
    tiny_model.train()
    try:
        pred.step(frames[0], {1: box_mask(64, 96, 8, 28, 10, 34)})
        a = pred.step(frames[1])
        assert tiny_model.training
    finally:
        tiny_model.eval()
    pred.reset()
    pred.step(frames[0], {1: box_mask(64, 96, 8, 28, 10, 34)})
    np.testing.assert_array_equal(pred.step(frames[1]), a)  # dropout was off during the first run


def test_bf16_runs(tiny_model, tiny_cfg):
    frames = synthetic_video(3, 64, 96)
    pred = VideoPredictor.from_config(tiny_model, tiny_cfg)
    pred.precision = "bf16"
    pred.step(frames[0], {1: box_mask(64, 96, 8, 28, 10, 34)})
    for t in (1,):
        out = pred.step(frames[t])
        assert out.shape == (64, 96) and set(np.unique(out)) <= {0, 1}


def test_bad_input(tiny_model, tiny_cfg):
    frames = synthetic_video(2, 64, 96)
    pred = VideoPredictor.from_config(tiny_model, tiny_cfg)
    with pytest.raises(ValueError, match="object 1 at frame 0 has shape"):
        pred.step(frames[0], {1: np.ones((32, 48), bool)})
    pred.reset()
    with pytest.raises(ValueError, match="empty"):
        pred.step(frames[0], {1: np.zeros((64, 96), bool)})
    pred.reset()
    with pytest.raises(ValueError, match="positive integers"):
        pred.step(frames[0], {0: box_mask(64, 96, 8, 28, 10, 34)})
    pred.reset()
    pred.step(frames[0], {1: box_mask(64, 96, 8, 28, 10, 34)})
    with pytest.raises(ValueError, match="frame 1 is 32x48, but the video started at 64x96"):
        pred.step(frames[1][:32, :48])
    with pytest.raises(ValueError, match="RGB"):
        pred.step(frames[1][..., 0])
    with pytest.raises(ValueError, match="TEMPORAL_WINDOW"):
        VideoPredictor(tiny_model, temporal_window=0)
    with pytest.raises(ValueError, match="PRECISION"):
        VideoPredictor(tiny_model, precision="fp8")


def test_preprocess_sizes_and_mask_threshold():
    assert resized_hw(90, 150, 108, 208) == (108, 180)
    assert resized_hw(480, 854, 512, 987) == (512, 911)
    assert resized_hw(100, 400, 100, 200) == (50, 200)  # long side capped
    assert padded_hw(108, 180, 32) == (128, 192)
    m = box_mask(10, 10, 2, 8, 2, 8)
    up = preprocess_mask(m, (20, 20), (32, 32))
    assert up.shape == (32, 32) and up[20:].sum() == 0 and up[:, 20:].sum() == 0
    assert 130 <= int(up.sum()) <= 150  # 6x6 box -> ~12x12


def test_thin_mask_survives_shrinking():
    """A 1-px line shrunk 4x would vanish under the 0.5 threshold; keep_thin keeps its coverage."""
    m = np.zeros((64, 64), bool)
    m[30, 5:60] = True
    assert preprocess_mask(m, (16, 16), (32, 32), keep_thin=False).sum() == 0
    kept = preprocess_mask(m, (16, 16), (32, 32))
    assert 0 < int(kept.sum()) <= 2 * 16 and kept[:16, :16].any()
    thick = box_mask(64, 64, 8, 40, 8, 40)
    torch.testing.assert_close(
        preprocess_mask(thick, (16, 16), (32, 32)), preprocess_mask(thick, (16, 16), (32, 32), keep_thin=False)
    )


@pytest.mark.gpu
def test_cuda_matches_cpu(tiny_model, tiny_cfg):
    import copy

    frames = synthetic_video(4, 64, 96)
    given = {1: box_mask(64, 96, 8, 28, 10, 34), 2: box_mask(64, 96, 30, 54, 56, 80)}
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    outs = {}
    for dev in ("cpu", "cuda"):
        model = copy.deepcopy(tiny_model).to(dev)
        pred = VideoPredictor.from_config(model, tiny_cfg)
        assert pred.device.type == dev
        outs[dev] = [pred.step(f, given if t == 0 else None) for t, f in enumerate(frames)]
    for a, b in zip(outs["cpu"], outs["cuda"]):
        assert (a == b).mean() > 0.999
