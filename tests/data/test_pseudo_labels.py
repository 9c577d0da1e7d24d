"""The ``pseudo:<dir>`` reader (hodor.data.pseudo_labels) on a hand-written pseudo-label folder
over a synthetic DAVIS folder: what the records hold, and every bad input named by its file."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from hodor.data.catalog import get_dataset_spec, load_dataset
from hodor.data.io import DataError
from hodor.data.pseudo_labels import (
    FORMAT,
    LABELS_NAME,
    MANIFEST_NAME,
    VERSION,
    load_pseudo_dataset,
    settings_digest,
    settings_of,
)
from hodor.data.synthetic import make_davis
from hodor.utils.palette import save_index_png


@pytest.fixture(scope="module")
def davis(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("src") / "DAVIS")
    make_davis(root, num_videos=2, num_frames=4, image_size=(48, 64), max_objects=2, seed=3)
    return root


def _manifest(source: str, root: str) -> dict:
    m = {
        "format": FORMAT,
        "version": VERSION,
        "source_dataset": source,
        "datasets_root": root,
        "labelled_frames": "middle",
        "confidence": "mean_max_prob",
        "checkpoint": "/nowhere/model.safetensors",
        "checkpoint_sha256": "0" * 64,
        "inference": {"min_dim": 64},
        "hodor_version": "test",
    }
    m["settings_sha256"] = settings_digest(settings_of(m))
    return m


def _write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def make_pseudo_dir(out, davis) -> dict:
    """Every video labelled at frame 1 (its GT objects), pseudo-labels at 0, 2, 3 (the GT copied)."""
    source = f"davis_folder:{davis}"
    manifest = _manifest(source, os.path.dirname(davis))
    os.makedirs(out, exist_ok=True)
    _write(os.path.join(out, MANIFEST_NAME), manifest)
    for rec in load_dataset(source):
        vdir = os.path.join(out, rec.video_id)
        os.makedirs(vdir, exist_ok=True)
        ids = sorted(int(i) for i in np.unique(rec.load_mask(1)) if i != 0)
        frames = {}
        for t in (0, 2, 3):
            save_index_png(os.path.join(vdir, f"{t:05d}.png"), rec.load_mask(t).astype(np.uint8))
            frames[str(t)] = {str(i): 0.5 + 0.1 * t for i in ids}
        labels = {"labelled": [1], "labelled_objects": {"1": ids}, "frames": frames,
                  "settings_sha256": manifest["settings_sha256"]}  # fmt: skip
        _write(os.path.join(vdir, LABELS_NAME), labels)
    return manifest


@pytest.fixture
def pseudo_dir(tmp_path, davis):
    out = str(tmp_path / "pl")
    make_pseudo_dir(out, davis)
    return out


def _video(pseudo_dir):
    return sorted(d for d in os.listdir(pseudo_dir) if os.path.isdir(os.path.join(pseudo_dir, d)))[0]


def _edit_labels(pseudo_dir, fn):
    path = os.path.join(pseudo_dir, _video(pseudo_dir), LABELS_NAME)
    with open(path) as f:
        d = json.load(f)
    fn(d)
    _write(path, d)
    return path


def test_records_hold_labelled_gt_and_pseudo_labels(pseudo_dir, davis):
    source = load_dataset(f"davis_folder:{davis}")
    recs = load_dataset(f"pseudo:{pseudo_dir}")
    assert [r.video_id for r in recs] == [r.video_id for r in source]
    for src, rec in zip(source, recs):
        assert sorted(src.annotations) == [0, 1, 2, 3]
        assert sorted(rec.annotations) == [1]  # the unlabelled GT frames do not leak
        assert rec.annotations[1] == src.annotations[1]
        assert sorted(rec.pseudo_labels) == [0, 2, 3]
        ids = sorted(int(i) for i in np.unique(src.load_mask(1)) if i != 0)
        assert rec.first_frames == {i: 1 for i in ids} and rec.object_first_frames == {i: 1 for i in ids}
        assert rec.pseudo_labels[2].confidence == {i: pytest.approx(0.7) for i in ids}
        assert rec.pseudo_labels[3].path == os.path.join(pseudo_dir, rec.video_id, "00003.png")
        np.testing.assert_array_equal(rec.load_pseudo_mask(3), src.load_mask(3))
        assert rec.dataset == f"pseudo:{pseudo_dir}" and src.pseudo_labels is None
        with pytest.raises(DataError, match="no annotation"):
            rec.load_mask(0)


def test_relative_dir_is_resolved_against_the_datasets_root(pseudo_dir):
    root, name = os.path.split(pseudo_dir)
    assert get_dataset_spec(f"pseudo:{name}").kind == "video"
    recs = load_dataset(f"pseudo:{name}", root)
    assert len(recs) == 2 and all(sorted(r.pseudo_labels) == [0, 2, 3] for r in recs)


def test_missing_or_foreign_manifest_names_the_file(pseudo_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=f"{empty}/{MANIFEST_NAME}: no pseudo-label manifest"):
        load_pseudo_dataset(str(empty))
    path = os.path.join(pseudo_dir, MANIFEST_NAME)
    m = json.load(open(path))
    _write(path, {**m, "format": "something-else"})
    with pytest.raises(DataError, match=f"{path}: not a pseudo-label manifest"):
        load_pseudo_dataset(pseudo_dir)
    _write(path, {**m, "version": 99})
    with pytest.raises(DataError, match=f"{path}: pseudo-label format version 99"):
        load_pseudo_dataset(pseudo_dir)
    with open(path, "w") as f:
        f.write("{not json")
    with pytest.raises(DataError, match=f"{path}: not valid JSON"):
        load_pseudo_dataset(pseudo_dir)


def test_missing_png_names_the_png(pseudo_dir):
    png = os.path.join(pseudo_dir, _video(pseudo_dir), "00002.png")
    os.remove(png)
    with pytest.raises(DataError, match=f"{png}: pseudo-label of frame 2 is listed"):
        load_pseudo_dataset(pseudo_dir)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["frames"]["2"].update({next(iter(d["frames"]["2"])): 1.5}), r"confidence 1\.5 is not a number in \[0, 1\]"),
        (lambda d: d["frames"]["2"].update({"7": 0.9}), "object 7 is not in the ground truth"),
        (lambda d: d["frames"].update({"1": {}}), "frame 1 is labelled and pseudo-labelled"),
        (lambda d: d["frames"].update({"9": {}}), "frame index 9 is outside the video's 4 frames"),
        (lambda d: d.update(settings_sha256="f" * 64), "written with other settings"),
        (lambda d: d.pop("labelled_objects"), "expected an object with"),
    ],
)  # fmt: skip
def test_bad_labels_json_names_the_file(pseudo_dir, edit, message):
    path = _edit_labels(pseudo_dir, edit)
    with pytest.raises(DataError, match=f"{path}: .*{message}"):
        load_pseudo_dataset(pseudo_dir)


def test_unfinished_run_is_an_error_naming_the_videos(pseudo_dir):
    video = _video(pseudo_dir)
    os.remove(os.path.join(pseudo_dir, video, LABELS_NAME))
    with pytest.raises(DataError, match=f"{pseudo_dir}: 1 of 2 videos .* no {LABELS_NAME} .*: {video}"):
        load_dataset(f"pseudo:{pseudo_dir}")
    recs = load_pseudo_dataset(pseudo_dir, allow_incomplete=True)
    assert [r.video_id for r in recs] != [] and video not in [r.video_id for r in recs]


def test_video_without_labelled_objects_is_left_out(pseudo_dir):
    def no_objects(d):
        d["labelled_objects"] = {"1": []}
        d["frames"] = {}

    _edit_labels(pseudo_dir, no_objects)
    recs = load_pseudo_dataset(pseudo_dir)
    assert len(recs) == 1 and recs[0].video_id != _video(pseudo_dir)


def test_datasets_root_argument_overrides_the_manifest(pseudo_dir, davis, tmp_path):
    # a relative source name is found under the given root, not the manifest's
    path = os.path.join(pseudo_dir, MANIFEST_NAME)
    m = json.load(open(path))
    m.update(source_dataset="davis_folder:DAVIS", datasets_root=str(tmp_path / "moved"))
    digest = settings_digest(settings_of(m))
    m["settings_sha256"] = digest
    _write(path, m)
    for v in os.listdir(pseudo_dir):
        if os.path.isdir(os.path.join(pseudo_dir, v)):
            lp = os.path.join(pseudo_dir, v, LABELS_NAME)
            d = json.load(open(lp))
            _write(lp, {**d, "settings_sha256": digest})
    assert len(load_pseudo_dataset(pseudo_dir, os.path.dirname(davis))) == 2
    with pytest.raises(DataError):  # the manifest's root does not hold DAVIS
        load_pseudo_dataset(pseudo_dir)
    # the catalog falls back to the current datasets root when the manifest's is gone
    root, name = os.path.split(pseudo_dir)
    os.symlink(davis, os.path.join(root, "DAVIS"))
    assert len(load_dataset(f"pseudo:{name}", root)) == 2
