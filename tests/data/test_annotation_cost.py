"""Annotation cost per regime on synthetic data; the expected counts are worked out by hand
(video) or read straight from the annotation file (images), never from the code under test."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from hodor.training.modes import build_train_data
from hodor.utils.palette import save_index_png

# One 64x64 DAVIS-layout folder. Per video: number of frames, and per annotated frame whether
# its object is big (10x10: passes MIN_REF_MASK_AREA 20 / MIN_REF_MASK_DIM 3) or tiny (2x2: fails).
VIDEOS = {
    # all 8 frames annotated; frames 4 and 5 hold only a tiny object
    "a": (8, {0: "big", 1: "big", 2: "big", 3: "big", 4: "tiny", 5: "tiny", 6: "big", 7: "big"}),
    "b": (10, {0: "big", 5: "big", 9: "big"}),  # three annotated frames
    "c": (4, {2: "big"}),  # one annotated frame
    "d": (6, {0: "tiny", 3: "tiny"}),  # nothing passes the size filter
}
# Dense, 2 other frames, MIN_CLIP_DELTA 1, MAX_CLIP_DELTA 3 (scale 1): a reference is an annotated
# frame with >= 2 annotated frames after it and a big object; its clip draws from the next two
# annotated frames (annotated positions p+1, p+2).
#   a: refs 0,1,2,3 (4,5 tiny; 6,7 are the last two) -> {0,1,2}, {1,2,3}, {2,3,4}, {3,4,5}: frames 0-5 = 6
#   b: annotated [0,5,9], ref 0 only -> {0,5,9} = 3
#   c: one annotated frame, no reference -> 0;  d: no big object -> 0
DENSE_FRAMES, DENSE_VIDEOS = 6 + 3, 2
# Sparse (SPARSE_REF_FRAME middle): one annotated frame per video with a big object: a, b, c.
SPARSE_FRAMES, SPARSE_VIDEOS = 3, 3


def _write_folder(root: str) -> str:
    folder = os.path.join(root, "handmade")
    for vid, (n, ann) in VIDEOS.items():
        fdir = os.path.join(folder, "JPEGImages", "480p", vid)
        os.makedirs(fdir, exist_ok=True)
        for t in range(n):
            Image.fromarray(np.full((64, 64, 3), 40 * (t % 5), np.uint8)).save(os.path.join(fdir, f"{t:05d}.jpg"))
        for t, size in ann.items():
            m = np.zeros((64, 64), np.uint8)
            if size == "big":
                m[20:30, 20:30] = 1
            else:
                m[5:7, 5:7] = 1
            save_index_png(os.path.join(folder, "Annotations", "480p", vid, f"{t:05d}.png"), m)
    return folder


@pytest.fixture(scope="module")
def handmade(tmp_path_factory) -> str:
    return _write_folder(str(tmp_path_factory.mktemp("handmade")))


VIDEO_OPTS = ["TRAINING.MIN_CLIP_DELTA", "1", "TRAINING.MAX_CLIP_DELTA", "3", "TRAINING.NUM_OTHER_FRAMES", "2"]


@pytest.mark.parametrize(
    "mode,frames,videos", [("dense_video", DENSE_FRAMES, DENSE_VIDEOS), ("sparse_video", SPARSE_FRAMES, SPARSE_VIDEOS)]
)
def test_video_counts(handmade, small_cfg, mode, frames, videos):
    name = f"davis_folder:{handmade}"
    cfg = small_cfg("", mode, [name], *VIDEO_OPTS)
    cost = build_train_data(cfg, rank=0, world_size=1).annotation_cost
    assert cost["labelled_video_frames"] == frames
    assert cost["labelled_images"] == 0 and cost["pseudo_labelled_frames"] == 0
    assert cost["mode"] == mode and cost["size_filter_checked"] is True
    assert cost["datasets"][name] == {
        "labelled_images": 0,
        "labelled_video_frames": frames,
        "pseudo_labelled_frames": 0,
        "videos": videos,
    }
    json.dumps(cost)  # goes into JSON files and safetensors metadata as is


def test_dense_without_plan_is_an_unfiltered_upper_bound(handmade, small_cfg):
    # no sample plan: masks are not decoded, so tiny references count too.
    #   a: refs 0..5 -> frames 0..7 = 8; b: 3; c: 0; d: annotated [0,3], no ref with 2 after it -> 0
    name = f"davis_folder:{handmade}"
    cfg = small_cfg("", "dense_video", [name], *VIDEO_OPTS, "DATALOADER.GROUP_BATCHES", "False")
    cost = build_train_data(cfg, rank=0, world_size=1).annotation_cost
    assert cost["labelled_video_frames"] == 8 + 3 and cost["size_filter_checked"] is False


def _usable_images(coco_json: str, min_area: float, min_dim: float) -> int:
    with open(coco_json) as f:
        data = json.load(f)
    ok = {
        a["image_id"]
        for a in data["annotations"]
        if not a.get("iscrowd", 0) and a["area"] >= min_area and a["bbox"][2] >= min_dim and a["bbox"][3] >= min_dim
    }
    return len(ok)


@pytest.mark.parametrize("group", ["True", "False"])
def test_static_image_counts(syn_root, small_cfg, group):
    cfg = small_cfg(syn_root, "static_image", ["coco_2017_train"], "DATALOADER.GROUP_BATCHES", group)
    cost = build_train_data(cfg, rank=0, world_size=1).annotation_cost
    ann = os.path.join(syn_root, "coco", "annotations", "instances_train2017.json")
    expected = _usable_images(ann, 20, 3)
    assert expected > 0
    assert cost["labelled_images"] == expected
    assert cost["labelled_video_frames"] == 0 and cost["pseudo_labelled_frames"] == 0
    assert cost["datasets"]["coco_2017_train"]["labelled_images"] == expected
