"""Annotation cost and sample plan of self-training on a hand-made pseudo-label dataset.

Every expected count below is worked out by hand from the video specs (never from the code)."""

from __future__ import annotations

import uuid
from itertools import islice

import pytest

from hodor.data.catalog import register_dataset
from hodor.structures.batch import LABEL_GT
from hodor.training.modes import build_train_data
from tests.pseudo_videos import VIDEO_A, VideoSpec, write_videos

VIDEOS = {
    # 8 frames, ground truth 3 (reference) and 5; confidences in tests/pseudo_videos.py
    "a": VIDEO_A,
    # 12 frames, ground truth on 6 only; every other frame pseudo-labelled with confidence 1
    "b": VideoSpec(12, gt=(6,), confidence={f: {1: 1.0, 2: 1.0} for f in range(12) if f != 6}),
    # only a 2x2 object: no reference passes the size filter (MIN_REF_MASK_AREA 20)
    "d": VideoSpec(6, gt=(2,), confidence={f: {1: 0.9} for f in range(6) if f != 2}, tiny=True),
}
# 3-frame clips, MIN_CLIP_DELTA 1, MAX_CLIP_DELTA 2, MIN_CONFIDENCE 0.7 (default):
#   a: ref 3, windows [1, 2] and [4, 5]. Labelled frames 3 and 5 (ground truth in the window).
#      Pseudo, both objects needed (N >= 2): 2 (0.8, 0.95) and 4 (0.95, 0.75); not 1 (obj 2: 0.5),
#      not 5 (ground truth). N = 1 (one object suffices): 1, 2, 4.
#   b: ref 6, windows [4, 5] and [7, 8]: labelled 6; pseudo 4, 5, 7, 8 (never 0-3 or 9-11).
#   d: no usable reference: nothing.
OPTS = ["TRAINING.MIN_CLIP_DELTA", "1", "TRAINING.MAX_CLIP_DELTA", "2", "TRAINING.NUM_OTHER_FRAMES", "2"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> str:
    records = write_videos(str(tmp_path_factory.mktemp("pseudo_cost")), VIDEOS)
    name = f"pseudo_cost_{uuid.uuid4().hex[:8]}"
    register_dataset(name, "video", lambda root: list(records))
    return name


@pytest.mark.parametrize(
    "extra,labelled,pseudo",
    [
        (["TRAINING.NUM_INSTANCES", "4"], 2 + 1, 2 + 4),
        (["TRAINING.NUM_INSTANCES", "1"], 2 + 1, 3 + 4),
        (["TRAINING.SELF_TRAINING.USE_PSEUDO_LABELS", "False"], 2 + 1, 0),
    ],
)
def test_self_training_counts(dataset, small_cfg, extra, labelled, pseudo):
    cfg = small_cfg("", "self_training", [dataset], *OPTS, *extra)
    cost = build_train_data(cfg, rank=0, world_size=1).annotation_cost
    assert cost["mode"] == "self_training" and cost["size_filter_checked"] is True
    assert cost["labelled_video_frames"] == labelled and cost["pseudo_labelled_frames"] == pseudo
    assert cost["datasets"][dataset] == {
        "labelled_images": 0,
        "labelled_video_frames": labelled,
        "pseudo_labelled_frames": pseudo,
        "videos": 2,
    }


def test_counts_without_a_plan_are_upper_bounds(dataset, small_cfg):
    # masks are not decoded: d's tiny reference counts (labelled 2 + 1 + 1), and a pseudo frame
    # counts when any object reaches 0.7: a 1, 2, 4; b 4, 5, 7, 8; d (ref 2) 0, 1, 3, 4
    cfg = small_cfg("", "self_training", [dataset], *OPTS, "DATALOADER.GROUP_BATCHES", "False")
    cost = build_train_data(cfg, rank=0, world_size=1).annotation_cost
    assert cost["labelled_video_frames"] == 4 and cost["pseudo_labelled_frames"] == 3 + 4 + 4
    assert cost["size_filter_checked"] is False


@pytest.mark.parametrize("group", ["True", "False"])
def test_loader_draws_one_reference_per_video_like_sparse(dataset, small_cfg, group):
    cfg = small_cfg("", "self_training", [dataset], *OPTS, "DATALOADER.GROUP_BATCHES", group)
    for batch in islice(build_train_data(cfg, rank=0, world_size=1), 3):
        assert batch.label_source is not None and batch.label_source.shape == batch.mask_valid.shape
        assert (batch.label_source[:, 0] == LABEL_GT).all()
        assert torch_equal_valid(batch)
        for m in batch.meta:
            assert m["mode"] == "self_training" and m["frame_indices"][0] == {"a": 3, "b": 6}[m["video_id"]]


def torch_equal_valid(batch) -> bool:
    """mask_valid is exactly 'has a label'."""
    return bool(((batch.label_source != 0) == batch.mask_valid).all())
