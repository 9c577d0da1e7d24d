"""Synthetic datasets: official layouts, readable with pycocotools / PIL, exact and consistent
annotations, determinism, sparse YouTube-VOS annotations, and videos that are not trivial."""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import sys

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from hodor.data.synthetic import (
    ORIENTATIONS,
    PRESETS,
    _oriented,
    _rng,
    main,
    make_all,
    make_coco,
    make_davis,
    make_youtube_vos,
)
from hodor.data.synthetic_scenes import first_mask_iou, render_video, sample_image_scene, sample_video_scene
from hodor.utils.palette import davis_palette

# pycocotools 2.0 + numpy 2 warn on every decode; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read_index_png(path: str) -> np.ndarray:
    img = Image.open(path)
    assert img.mode == "P", f"{path} is {img.mode}, expected a palette PNG"
    return np.array(img)


def _tree_digest(root: str) -> dict[str, str]:
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("synthetic_tiny"))
    make_all(root, preset="tiny", seed=3)
    return root


def test_make_all_tiny_layout(tiny_root):
    desc = json.load(open(os.path.join(tiny_root, "SYNTHETIC.json")))
    assert desc["preset"] == "tiny" and desc["seed"] == 3
    assert set(desc["params"]) == {"coco", "davis", "ytvos_train", "ytvos_valid"}
    coco = os.path.join(tiny_root, "coco")
    assert os.path.isfile(os.path.join(coco, "annotations", "instances_train2017.json"))
    assert len(os.listdir(os.path.join(coco, "train2017"))) == desc["params"]["coco"]["num_images"]
    davis = os.path.join(tiny_root, "DAVIS")
    for split, n in desc["params"]["davis"]["splits"].items():
        names = open(os.path.join(davis, "ImageSets", "2017", f"{split}.txt")).read().split()
        assert len(names) == n
        for name in names:
            assert os.path.isdir(os.path.join(davis, "JPEGImages", "480p", name))
            assert os.path.isdir(os.path.join(davis, "Annotations", "480p", name))
    for split in ("train", "valid"):
        meta = json.load(open(os.path.join(tiny_root, "YouTube-VOS", split, "meta.json")))
        assert len(meta["videos"]) == desc["params"][f"ytvos_{split}"]["num_videos"]


def test_coco_annotations_exact_and_consistent(tmp_path):
    root = str(tmp_path / "coco")
    stats = make_coco(root, num_images=6, image_size=[72, 96], max_objects=4, seed=1, rle_fraction=0.3, crowd_prob=1.0)
    assert stats["polygon"] > 0 and stats["rle"] > 0 and stats["crowd_rle"] > 0
    coco = COCO(os.path.join(root, "annotations", "instances_train2017.json"))
    assert {c["name"] for c in coco.loadCats(coco.getCatIds())} == {"ellipse", "polygon", "star", "blob"}
    seen = set()
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        with Image.open(os.path.join(root, "train2017", info["file_name"])) as im:
            assert im.size == (info["width"], info["height"]) and im.mode == "RGB"
        # the scene the generator drew for this image: every decoded annotation must equal its exact mask
        i = img_id - 1
        h, w = _oriented(72, 96, ORIENTATIONS[i % 3])
        assert (info["height"], info["width"]) == (h, w)
        scene = sample_image_scene(_rng(1, "coco", "train2017", i), h, w, 4, crowd_prob=1.0, num_objects=1 + i % 4)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=None))
        assert len(anns) == len(scene.objects)
        for ann, (label, category, is_crowd) in zip(anns, scene.objects):
            m = coco.annToMask(ann).astype(bool)
            np.testing.assert_array_equal(m, scene.labels == label)
            assert ann["iscrowd"] == int(is_crowd)
            assert coco.loadCats(ann["category_id"])[0]["name"] == category
            assert ann["area"] == m.sum() > 0
            ys, xs = np.nonzero(m)
            assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            seg = ann["segmentation"]
            if is_crowd:
                seen.add("crowd")
                assert isinstance(seg["counts"], list) and sum(seg["counts"]) == h * w
            elif isinstance(seg, dict):
                seen.add("rle")
                assert isinstance(seg["counts"], str)
            else:
                seen.add("polygon")
                assert all(len(p) >= 6 and len(p) % 2 == 0 for p in seg)
    assert seen == {"crowd", "rle", "polygon"}


def test_davis_palette_pngs_and_videos(tiny_root):
    davis = os.path.join(tiny_root, "DAVIS")
    desc = json.load(open(os.path.join(tiny_root, "SYNTHETIC.json")))["params"]["davis"]
    h, w = desc["image_size"]
    names = open(os.path.join(davis, "ImageSets", "2017", "val.txt")).read().split()
    train = open(os.path.join(davis, "ImageSets", "2017", "train.txt")).read().split()
    assert not set(names) & set(train)
    for name in names:
        jpgs = sorted(os.listdir(os.path.join(davis, "JPEGImages", "480p", name)))
        pngs = sorted(os.listdir(os.path.join(davis, "Annotations", "480p", name)))
        assert jpgs == [f"{t:05d}.jpg" for t in range(desc["num_frames"])]
        assert pngs == [j.replace(".jpg", ".png") for j in jpgs]
        first = Image.open(os.path.join(davis, "Annotations", "480p", name, pngs[0]))
        assert first.mode == "P"
        np.testing.assert_array_equal(np.array(first.getpalette()[:48]).reshape(-1, 3), davis_palette()[:16])
        masks = np.stack([_read_index_png(os.path.join(davis, "Annotations", "480p", name, p)) for p in pngs])
        assert masks.shape == (len(pngs), h, w)
        ids = set(np.unique(masks[0]).tolist()) - {0}
        assert 1 <= len(ids) <= desc["max_objects"] and ids == set(range(1, len(ids) + 1))
        for obj in ids:  # occlusion is only partial: every object is visible in every frame
            assert (masks == obj).reshape(len(masks), -1).sum(1).min() > 0


def test_youtube_vos_train_sparse_and_late_objects(tmp_path):
    root = str(tmp_path / "ytvos")
    stats = make_youtube_vos(root, num_videos=5, num_frames=16, image_size=[64, 80], max_objects=3, seed=2)
    assert stats["late_objects"] > 0
    meta = json.load(open(os.path.join(root, "train", "meta.json")))
    late = 0
    for vid, entry in meta["videos"].items():
        assert len(os.listdir(os.path.join(root, "train", "JPEGImages", vid))) == 16
        pngs = sorted(os.listdir(os.path.join(root, "train", "Annotations", vid)))
        assert pngs == ["00000.png", "00005.png", "00010.png", "00015.png"]
        masks = {p[:5]: _read_index_png(os.path.join(root, "train", "Annotations", vid, p)) for p in pngs}
        for obj, o in entry["objects"].items():
            assert o["category"] in {"ellipse", "polygon", "star", "blob"}
            assert o["frames"] == [f for f, m in masks.items() if (m == int(obj)).any()]
            late += o["frames"][0] != "00000"
        ids = set(np.unique(np.concatenate([m.ravel() for m in masks.values()])).tolist()) - {0}
        assert ids == {int(k) for k in entry["objects"]}
    assert late == stats["late_objects"]


def test_youtube_vos_valid_first_appearance_only(tmp_path):
    root = str(tmp_path / "ytvos")
    stats = make_youtube_vos(
        root, num_videos=4, num_frames=16, image_size=[64, 80], max_objects=3, seed=5, split="valid"
    )
    assert stats["late_objects"] > 0
    meta = json.load(open(os.path.join(root, "valid", "meta.json")))
    for vid, entry in meta["videos"].items():
        assert len(os.listdir(os.path.join(root, "valid", "JPEGImages", vid))) == 16
        firsts = {int(k): o["frames"][0] for k, o in entry["objects"].items()}
        pngs = sorted(os.listdir(os.path.join(root, "valid", "Annotations", vid)))
        assert pngs == sorted({f + ".png" for f in firsts.values()})
        for p in pngs:
            ids = set(np.unique(_read_index_png(os.path.join(root, "valid", "Annotations", vid, p))).tolist()) - {0}
            assert ids == {k for k, f in firsts.items() if f + ".png" == p}
        for k, o in entry["objects"].items():  # scored frames: every 5th from the first appearance on
            start = int(firsts[int(k)])
            assert o["frames"] == [f"{t:05d}" for t in range(start, 16, 5)]


def test_same_seed_identical_files_other_seed_differs(tmp_path, tiny_root):
    again = str(tmp_path / "again")
    make_all(again, preset="tiny", seed=3)
    assert _tree_digest(again) == _tree_digest(tiny_root)
    other = str(tmp_path / "other")
    make_all(other, preset="tiny", seed=4, layouts=["davis"])
    a, b = _tree_digest(other), _tree_digest(tiny_root)
    shared = [k for k in a if k.endswith(".jpg")]
    assert shared and all(a[k] != b.get(k) for k in shared)


def test_existing_dataset_and_bad_arguments(tmp_path):
    root = str(tmp_path / "d")
    make_davis(root, num_videos=1, num_frames=3, image_size=[48, 64], max_objects=2)
    with pytest.raises(FileExistsError, match="val.txt"):
        make_davis(root, num_videos=1, num_frames=3, image_size=[48, 64], max_objects=2)
    make_davis(root, num_videos=1, num_frames=3, image_size=[48, 64], max_objects=2, overwrite=True)
    with pytest.raises(ValueError, match="unknown synthetic preset"):
        make_all(root, preset="huge")
    with pytest.raises(ValueError, match="image_size"):
        make_coco(str(tmp_path / "c"), num_images=1, image_size=[16, 16])
    with pytest.raises(ValueError, match="max_objects"):
        make_youtube_vos(str(tmp_path / "y"), num_videos=1, max_objects=0)


def test_first_mask_iou_counts_motion():
    labels = np.zeros((3, 10, 10), dtype=np.uint8)
    labels[:, 0:4, 0:4] = 1  # object 1 never moves
    labels[0, 5:9, 5:9] = 2  # object 2 jumps away, then half comes back
    labels[1, 0:4, 6:10] = 2
    labels[2, 5:9, 7:10] = 2
    ious = first_mask_iou(labels)
    assert ious[1] == pytest.approx(1.0)
    assert ious[2] == pytest.approx((0.0 + 8 / 20) / 2)  # frame 2: 8 px shared, 20 px union


def test_quickstart_videos_are_hard_but_well_posed():
    """Copying the first mask must score poorly, while every object stays visible throughout."""
    ious = []
    for i in range(6):
        rng = np.random.default_rng(100 + i)
        scene = sample_video_scene(rng, 160, 224, 16, 3)
        _, labels = render_video(scene, rng)
        ious += list(first_mask_iou(labels).values())
        areas = np.stack([(labels == k + 1).reshape(16, -1).sum(1) for k in range(len(scene.specs))])
        assert (areas.min(1) >= 0.1 * areas.max(1)).all()  # occlusion is partial: never (nearly) vanishes
    assert np.mean(ious) < 0.5


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
def test_cli_script_and_module(tmp_path, monkeypatch):
    out = str(tmp_path / "cli")
    stats = main(["--out", out, "--preset", "tiny", "--layouts", "davis", "--davis-train", "0", "--davis-val", "1"])
    assert stats["davis"]["videos"] == 1
    assert open(os.path.join(out, "DAVIS", "ImageSets", "2017", "val.txt")).read().split() == ["synth-val-000"]
    assert not os.path.exists(os.path.join(out, "DAVIS", "ImageSets", "2017", "train.txt"))
    # the script and ``python -m hodor.data.synthetic``, run in-process (a new interpreter costs seconds)
    args = ["--preset", "tiny", "--layouts", "coco", "--coco-images", "2", "--image-size", "48", "64"]
    monkeypatch.setattr(sys, "argv", ["make_synthetic.py", "--out", str(tmp_path / "script"), *args])
    runpy.run_path(os.path.join(REPO, "datasets", "make_synthetic.py"), run_name="__main__")
    monkeypatch.setattr(sys, "argv", ["synthetic", "--out", str(tmp_path / "module"), *args])
    runpy.run_module("hodor.data.synthetic", run_name="__main__")
    for sub in ("script", "module"):
        coco = COCO(str(tmp_path / sub / "coco" / "annotations" / "instances_train2017.json"))
        # image 0 landscape 48x64, image 1 its portrait transpose
        assert [(coco.imgs[i]["height"], coco.imgs[i]["width"]) for i in coco.getImgIds()] == [(48, 64), (64, 48)]
        assert all(coco.annToMask(a).sum() == a["area"] for a in coco.loadAnns(coco.getAnnIds()))


def test_coco_presets_have_every_orientation_and_1_to_6_objects(tiny_root):
    """The recipe report (batch grouping, object-count balancing) needs portrait, landscape and
    square images and busy images; both presets are built the same way (checked on "tiny")."""
    for preset in ("tiny", "quickstart"):
        p = PRESETS[preset]["coco"]
        assert p["max_objects"] >= 6 and p["num_images"] >= 6
    coco = COCO(os.path.join(tiny_root, "coco", "annotations", "instances_train2017.json"))
    shapes = set()
    counts = set()
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        r = info["height"] / info["width"]
        shapes.add("portrait" if r > 1 else "landscape" if r < 1 else "square")
        counts.add(len(coco.getAnnIds(imgIds=img_id, iscrowd=False)))
    assert shapes == {"portrait", "landscape", "square"}
    assert min(counts) == 1 and max(counts) >= 6
