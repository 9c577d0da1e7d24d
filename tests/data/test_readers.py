"""Readers for all layouts on generated data: COCO, DAVIS, YouTube-VOS, HODOR JSON, custom folders."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
from pycocotools import mask as mask_utils

from hodor.data import (
    ImageRecord,
    VideoRecord,
    build_video_dataset,
    load_dataset,
    register_davis_folder,
    register_hodor_json,
    resolve_root,
)
from hodor.data.catalog import DATASET_REGISTRY


def test_root_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("HODOR_DATASETS", raising=False)
    assert resolve_root("") == os.path.abspath("./datasets")
    monkeypatch.setenv("HODOR_DATASETS", str(tmp_path))
    assert resolve_root("") == str(tmp_path)
    assert resolve_root("/some/where") == "/some/where"


def test_builtin_names_registered():
    for name in [
        "coco_2017_train",
        "davis_2017_train",
        "davis_2017_val",
        "youtube_vos_2019_train",
        "youtube_vos_2019_valid",
    ]:
        assert name in DATASET_REGISTRY


def test_coco_records_are_lazy_and_decode(syn_root):
    recs = load_dataset("coco_2017_train", syn_root)
    assert len(recs) == 6 and all(isinstance(r, ImageRecord) for r in recs)
    with open(os.path.join(syn_root, "coco", "annotations", "instances_train2017.json")) as fh:
        raw = json.load(fh)
    # segmentations stay encoded in the records
    assert all(not isinstance(a.segmentation, np.ndarray) for r in recs for a in r.instances)
    crowd = [a for r in recs for a in r.instances if a.iscrowd]
    assert len(crowd) == sum(a["iscrowd"] for a in raw["annotations"])
    r = next(r for r in recs if any(not a.iscrowd for a in r.instances))
    img, masks = r.load_image(), r.load_masks()
    assert img.dtype == np.uint8 and img.shape == (r.height, r.width, 3)
    assert masks.shape == (sum(not a.iscrowd for a in r.instances), r.height, r.width)
    for a, m in zip([a for a in r.instances if not a.iscrowd], masks, strict=True):
        assert abs(int(m.sum()) - a.area) <= max(3, 0.05 * a.area)  # polygons rasterise ~ to the area


def test_davis_layout(syn_root):
    train, val = load_dataset("davis_2017_train", syn_root), load_dataset("davis_2017_val", syn_root)
    assert (len(train), len(val)) == (1, 2)
    v = val[0]
    assert isinstance(v, VideoRecord) and len(v.frame_paths) == 6 and v.annotated_frames == list(range(6))
    m = v.load_mask(0)
    assert m.dtype == np.int64 and m.shape == v.load_frame(0).shape[:2]
    ids = set(np.unique(m).tolist()) - {0, 255}
    assert set(v.object_first_frames) == ids and set(v.object_first_frames.values()) == {0}


def test_youtube_vos_layout(syn_root):
    train = build_video_dataset(syn_root, "youtube_vos_2019_train")
    valid = build_video_dataset(syn_root, "youtube_vos_2019_valid")
    v = train[0]
    assert len(v.frame_paths) == 11 and v.annotated_frames == [0, 5, 10]  # sparse: every 5th frame
    assert v.declared_objects and set(v.object_first_frames) == set(v.declared_objects)
    for i in v.annotated_frames:
        ids = set(np.unique(v.load_mask(i)).tolist()) - {0, 255}
        assert ids <= set(v.declared_objects)
    w = valid[0]
    meta = json.load(open(os.path.join(syn_root, "YouTube-VOS", "valid", "meta.json")))["videos"][w.video_id]["objects"]
    expect = {int(k): w.frame_names.index(o["frames"][0]) for k, o in meta.items()}
    assert w.object_first_frames == expect
    for oid, f in w.object_first_frames.items():
        assert (w.load_mask(f) == oid).any()


def test_custom_davis_folder(syn_root, tmp_path):
    folder = tmp_path / "mydata"
    shutil.copytree(os.path.join(syn_root, "DAVIS", "JPEGImages", "480p"), folder / "JPEGImages")
    shutil.copytree(os.path.join(syn_root, "DAVIS", "Annotations", "480p"), folder / "Annotations")
    register_davis_folder("my_videos_test", str(folder))
    recs = load_dataset("my_videos_test", syn_root)
    assert len(recs) == 3  # all videos (no split file)
    recs2 = load_dataset(f"davis_folder:{folder}", syn_root)
    assert [r.video_id for r in recs2] == [r.video_id for r in recs]


def _rle(m: np.ndarray) -> str:
    return mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))["counts"].decode("utf-8")


def test_hodor_json_formats(syn_root, tmp_path):
    davis = load_dataset("davis_2017_val", syn_root)[0]
    masks = [davis.load_mask(i) for i in davis.annotated_frames]
    h, w = masks[0].shape
    img_root = os.path.join(syn_root, "DAVIS", "JPEGImages", "480p")
    paths = [os.path.relpath(p, img_root) for p in davis.frame_paths]
    ids = sorted(set(np.unique(masks[0]).tolist()) - {0, 255})
    video = {
        "meta": {"category_labels": {"1": "thing"}},
        "sequences": [
            {
                "id": "v0",
                "height": h,
                "width": w,
                "image_paths": paths,
                "categories": {str(i): 1 for i in ids},
                "tracks": [{str(i): {"seg": _rle(m == i)} for i in ids if (m == i).any()} for m in masks],
            }
        ],
    }
    infer = {
        "sequences": [
            {"id": "v0", "image_paths": paths, "segmentations": {"0": {str(i): _rle(masks[0] == i) for i in ids}}}
        ]
    }
    image = {
        "meta": {},
        "images": [
            {
                "height": h,
                "width": w,
                "image_path": paths[0],
                "categories": [1] * len(ids),
                "segmentations": [_rle(masks[0] == i) for i in ids],
            }
        ],
    }
    for name, data in [("video", video), ("infer", infer), ("image", image)]:
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    register_hodor_json("test_hodor_video", str(tmp_path / "video.json"), img_root, "video")
    register_hodor_json("test_hodor_infer", str(tmp_path / "infer.json"), img_root, "video")
    register_hodor_json("test_hodor_image", str(tmp_path / "image.json"), img_root, "image")
    v = load_dataset("test_hodor_video")[0]
    gt = np.where(np.isin(masks[3], ids), masks[3], 0)
    np.testing.assert_array_equal(v.load_mask(3), gt)
    inf = load_dataset("test_hodor_infer")[0]
    assert inf.annotated_frames == [0] and inf.object_first_frames == {i: 0 for i in ids}
    im = load_dataset("test_hodor_image")[0]
    np.testing.assert_array_equal(im.load_masks()[0], (masks[0] == ids[0]).astype(np.uint8))
    assert im.load_image().shape == (h, w, 3)
