"""Self-training clips: the sparse run's frames, labels by precedence (ground truth, confident
pseudo-label, none), and the batch fields that carry where each label came from.

Expected labels come from the hand-written table below (VIDEO_A), not from the mapper."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hodor.data import ClipSample, collate_clips
from hodor.data.augment import AugConfig
from hodor.data.clips import ClipParams, VideoClipMapper
from hodor.data.self_training_clips import SelfTrainingClipMapper, least_confidence
from hodor.structures.batch import LABEL_GT, LABEL_NONE, LABEL_PSEUDO
from tests.pseudo_videos import VIDEO_A, truth, write_videos

# VIDEO_A (tests/pseudo_videos.py) with MIN_CONFIDENCE 0.7, worked out by hand: frame -> (source, confidence) for each chosen object set.
EXPECTED = {
    (1, 2): {0: ("P", 0.9), 1: ("-", 0), 2: ("P", 0.8), 4: ("P", 0.75), 5: ("G", 1), 6: ("-", 0), 7: ("-", 0)},
    (1,): {0: ("P", 0.9), 1: ("P", 0.9), 2: ("P", 0.8), 4: ("P", 0.95), 5: ("G", 1), 6: ("-", 0), 7: ("P", 0.9)},
    (2,): {0: ("P", 0.9), 1: ("-", 0), 2: ("P", 0.95), 4: ("P", 0.75), 5: ("G", 1), 6: ("-", 0), 7: ("-", 0)},
}
CODE = {"P": LABEL_PSEUDO, "G": LABEL_GT, "-": LABEL_NONE}
# no geometric change, no flip, no colour jitter: clip masks equal the (renumbered) label PNGs
NO_AUG = AugConfig(color=False, video_crop_prob=0.0, video_affine_tries=0, flip_prob=0.0)


def _params(**kw) -> ClipParams:
    base = dict(num_frames=3, max_objects=2, min_area=20, min_dim=3, max_delta=4, resize_min_dim=64, resize_max_dim=64)
    return ClipParams(**{**base, **kw})


@pytest.fixture(scope="module")
def video_a(tmp_path_factory):
    return write_videos(str(tmp_path_factory.mktemp("pseudo")), {"a": VIDEO_A})[0]


def _renumbered(index: np.ndarray, ids: list[int]) -> torch.Tensor:
    out = np.zeros_like(index, dtype=np.int64)
    for new, i in enumerate(ids, start=1):
        out[index == i] = new
    return torch.from_numpy(out)


@pytest.mark.parametrize("max_objects", [2, 1])
def test_each_frame_is_labelled_by_precedence(video_a, max_objects):
    mapper = SelfTrainingClipMapper(_params(max_objects=max_objects), NO_AUG)
    seen = set()
    for seed in range(16):
        s = mapper(video_a, np.random.default_rng(seed))
        frames, ids = s.meta["frame_indices"], s.meta["object_ids"]
        assert frames[0] == 3 and s.meta["mode"] == "self_training"
        table = EXPECTED[tuple(ids)]
        assert s.label_source[0] == LABEL_GT and s.label_confidence[0] == 1.0
        for t, f in enumerate(frames[1:], start=1):
            src, conf = table[f]
            seen.add((tuple(ids), f))
            assert int(s.label_source[t]) == CODE[src], (ids, f)
            assert float(s.label_confidence[t]) == pytest.approx(conf)
            assert bool(s.mask_valid[t]) == (src != "-")
            if src == "G":  # ground truth wins over the frame's pseudo-label
                assert torch.equal(s.masks[t], _renumbered(truth(f), ids))
            elif src == "P":
                assert torch.equal(s.masks[t], _renumbered(truth(f, pseudo=True), ids))
            else:
                assert not s.masks[t].any()
    # both windows (before and after the reference) and every label kind were exercised
    assert {f for _, f in seen} == {0, 1, 2, 4, 5, 6, 7}


def test_without_pseudo_labels_only_ground_truth_frames_are_labelled(video_a):
    mapper = SelfTrainingClipMapper(_params(use_pseudo_labels=False), NO_AUG)
    for seed in range(8):
        s = mapper(video_a, np.random.default_rng(seed))
        for t, f in enumerate(s.meta["frame_indices"][1:], start=1):
            assert int(s.label_source[t]) == (LABEL_GT if f == 5 else LABEL_NONE)
            assert bool(s.mask_valid[t]) == (f == 5)


def test_same_frames_and_pixels_as_the_sparse_run(video_a):
    """Same record and seed: the self-training clip is the sparse clip plus labels (full augmentation)."""
    params = _params()
    for seed in range(6):
        sparse = VideoClipMapper(params, AugConfig(), sparse=True)(video_a, np.random.default_rng(seed))
        st = SelfTrainingClipMapper(params, AugConfig())(video_a, np.random.default_rng(seed))
        assert st.meta["frame_indices"] == sparse.meta["frame_indices"]
        assert st.meta["object_ids"] == sparse.meta["object_ids"] and st.meta["geometric"] == sparse.meta["geometric"]
        assert torch.equal(st.frames, sparse.frames) and torch.equal(st.masks[0], sparse.masks[0])
        assert sparse.label_source is None


def test_least_confidence():
    assert least_confidence({1: 0.9, 2: 0.4}, [1, 2]) == 0.4
    assert least_confidence({1: 0.9}, [1, 2]) == 0.0  # unlisted object
    assert least_confidence({1: 0.9}, [1]) == 0.9


def _sample(T: int, valid: list[bool], source=None, conf=None) -> ClipSample:
    return ClipSample(
        torch.zeros(T, 3, 8, 8),
        torch.zeros(T, 8, 8, dtype=torch.int64),
        torch.tensor(valid),
        torch.ones(T, 1, dtype=torch.bool),
        {},
        None if source is None else torch.tensor(source, dtype=torch.int8),
        None if conf is None else torch.tensor(conf),
    )


def test_collate_and_to_carry_label_sources():
    plain = collate_clips([_sample(3, [True, False, False])])
    assert plain.label_source is None and plain.label_confidence is None
    a = _sample(3, [True, True, False], [LABEL_GT, LABEL_PSEUDO, LABEL_NONE], [1.0, 0.8, 0.0])
    b = _sample(3, [True, True, False])  # no sources: valid frames are ground truth
    batch = collate_clips([a, b])
    assert batch.label_source.dtype == torch.int8 and batch.label_source.tolist() == [[1, 2, 0], [1, 1, 0]]
    assert torch.allclose(batch.label_confidence, torch.tensor([[1.0, 0.8, 0.0], [1.0, 1.0, 0.0]]))
    moved = batch.to("cpu")
    assert torch.equal(moved.label_source, batch.label_source)
    assert torch.equal(moved.label_confidence, batch.label_confidence)
    if torch.cuda.is_available():
        pinned = batch.pin_memory()
        assert pinned.label_source.is_pinned() and pinned.label_confidence.is_pinned()
