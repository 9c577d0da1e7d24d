"""Readers of the VOST, MOSE and SA-V layouts on generated files, their registered evaluators,
and ``eval_vos --dataset`` on SA-V (per-object PNG results layout)."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from hodor.data.catalog import get_dataset_spec, load_dataset
from hodor.data.synthetic_benchmarks import make_lvos, make_mose, make_sav, make_vost
from hodor.inference.evaluate_dataset import build_dataset_evaluator


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("bench")
    make_vost(str(r / "VOST"), {"train": 1, "val": 2}, num_frames=6)
    make_mose(str(r / "MOSE"), num_videos=2, num_frames=5)
    make_mose(str(r / "MOSEv2"), num_videos=2, num_frames=5, version=2)
    make_sav(str(r / "SA-V" / "sav_val"), "val", num_videos=2, num_frames=13)
    make_lvos(str(r / "LVOS" / "valid"), num_videos=2, num_frames=21, unseen=["synth-lvos-valid-001"])
    return str(r)


def _gt_maps(record):
    return {record.frame_names[i]: record.load_mask(i).astype(np.uint8) for i in record.annotated_frames}


def test_vost_reader_and_perfect_score(root):
    recs = load_dataset("vost_val", root)
    assert [r.video_id for r in recs] == ["synth-vost-val-000", "synth-vost-val-001"]
    assert all(len(r) == 6 and r.annotated_frames == list(range(6)) for r in recs)
    assert len(load_dataset("vost_train", root)) == 1
    ev = build_dataset_evaluator("vost_val", recs)
    assert ev.name == "vost" and ev.gt_root == os.path.join(root, "VOST", "Annotations")
    for r in recs:
        ev.process(r.video_id, _gt_maps(r))
    g = ev.evaluate().global_metrics()
    assert g["J-Mean"] == g["J_last-Mean"] == 1.0


def test_mose_reader(root):
    train, valid = load_dataset("mose_v1_train", root), load_dataset("mose_v1_valid", root)
    assert len(train) == len(valid) == 2
    assert train[0].annotated_frames == list(range(5)) and valid[0].annotated_frames == [0]
    assert get_dataset_spec("mose_v1_train").evaluator == "davis"
    assert get_dataset_spec("mose_v1_valid").evaluator == ""  # server-side ground truth only
    ev = build_dataset_evaluator("mose_v1_train", train)
    for r in train:
        ev.process(r.video_id, _gt_maps(r))
    assert ev.evaluate().global_metrics()["J&F-Mean"] == 1.0


def test_mose_v2_reader_and_perfect_score(root):
    train = load_dataset("mose_v2_train", root)
    assert len(train) == 2 and train[0].annotated_frames == list(range(5))
    ev = build_dataset_evaluator("mose_v2_train", train)
    assert ev.name == "mose_v2"
    for r in train:
        ev.process(r.video_id, _gt_maps(r))
    g = ev.evaluate().global_metrics()
    assert g["J"] == 1.0 and g["J&F"] == g["J&F_new"]
    assert get_dataset_spec("mose_v2_valid").evaluator == ""


def test_lvos_reader_and_perfect_score(root):
    recs = load_dataset("lvos_v1_valid", root)
    assert [r.video_id for r in recs] == ["synth-lvos-valid-000", "synth-lvos-valid-001"]
    assert recs[0].frame_names[:2] == ["00000000", "00000001"] and recs[0].annotated_frames == [0, 5, 10, 15, 20]
    with open(os.path.join(root, "LVOS", "valid", "valid_meta.json")) as f:
        meta = json.load(f)["videos"]
    for r in recs:
        starts = {int(k): v["frame_range"]["start"] for k, v in meta[r.video_id]["objects"].items()}
        assert r.object_first_frames == starts
    ev = build_dataset_evaluator("lvos_v1_valid", recs)
    assert ev.name == "lvos" and ev.unseen == {"synth-lvos-valid-001"}
    for r in recs:
        ev.process(r.video_id, _gt_maps(r))
    g = ev.evaluate().global_metrics()
    assert g["J&F-Mean"] == 1.0 and g["V-Mean"] == 0.0


def test_sav_reader(root):
    recs = load_dataset("sav_val", root)
    assert len(recs) == 2
    r = recs[0]
    assert len(r) == 13
    ann = os.path.join(root, "SA-V", "sav_val", "Annotations_6fps", r.video_id)
    objs = sorted(os.listdir(ann))
    assert sorted(r.declared_objects) == [int(o) for o in objs]
    assert set(r.object_first_frames.values()) == {0}
    m0 = r.load_mask(0)
    for o in objs:
        gt = np.asarray(Image.open(os.path.join(ann, o, "00000.png"))) > 0
        np.testing.assert_array_equal(m0 == int(o), gt)


def test_sav_perfect_predictions_score_100(root):
    recs = load_dataset("sav_val", root)
    ev = build_dataset_evaluator("sav_val", recs)
    for r in recs:
        ann = os.path.join(root, "SA-V", "sav_val", "Annotations_6fps", r.video_id)
        maps = {}
        for o in sorted(os.listdir(ann)):
            for f in os.listdir(os.path.join(ann, o)):
                m = np.asarray(Image.open(os.path.join(ann, o, f))) > 0
                maps.setdefault(f[:-4], np.zeros(m.shape, np.uint8))[m] = int(o)
        ev.process(r.video_id, maps)
    assert ev.evaluate().global_metrics() == {"J&F": 100.0, "J": 100.0, "F": 100.0}


def test_eval_vos_dataset_sav_end_to_end(root, tmp_path, tiny_model_and_cfg):
    from hodor.checkpoint.formats import save_model
    from hodor.cli.eval_vos import main as eval_main

    model, cfg = tiny_model_and_cfg
    weights = save_model(model, cfg, str(tmp_path / "ckpt"))
    out = tmp_path / "run"
    args = ["--dataset", "sav_val", "--datasets-root", root]
    assert (
        eval_main(
            args
            + ["--config-file", str(tmp_path / "ckpt" / "config.yaml"), "--out", str(out)]
            + ["MODEL.WEIGHTS", weights]
        )
        == 0
    )
    video = sorted(os.listdir(out / "results"))[0]
    objs = sorted(os.listdir(out / "results" / video))
    assert objs and all(o.isdigit() and len(o) == 3 for o in objs)  # SA-V per-object layout
    assert len(os.listdir(out / "results" / video / objs[0])) == 13
    record = json.loads((out / "eval_record.json").read_text())
    assert record["evaluator"] == "sav" and record["num_videos_scored"] == 2
    assert record["num_frames_present"] == 26 and record["num_frames_scored"] == sum(
        len(os.listdir(os.path.join(root, "SA-V", "sav_val", "Annotations_6fps", v, o))) - 2
        for v in record["videos"]
        for o in os.listdir(os.path.join(root, "SA-V", "sav_val", "Annotations_6fps", v))
    )
    assert eval_main(args + ["--results", str(out / "results"), "--out", str(tmp_path / "score")]) == 0
    assert (tmp_path / "score" / "results.csv").read_text() == (out / "results.csv").read_text()


@pytest.fixture(scope="module")
def tiny_model_and_cfg():
    import torch

    from hodor.config import load_config
    from hodor.modeling import build_model
    from tests.inference.conftest import TINY_OPTS

    cfg = load_config(None, list(TINY_OPTS))
    torch.manual_seed(0)
    return build_model(cfg).eval(), cfg


@pytest.mark.parametrize(
    "name, ann, table",
    [
        ("vost_val", ("VOST", "Annotations"), "global_results-val.csv"),
        ("mose_v1_train", ("MOSE", "train", "Annotations"), "global_results-train.csv"),
        ("mose_v2_train", ("MOSEv2", "train", "Annotations"), "scores.txt"),
        ("lvos_v1_valid", ("LVOS", "valid", "Annotations"), "global_results-valid.csv"),
    ],
)
def test_eval_vos_dataset_scoring_only(root, tmp_path, name, ann, table):
    """--dataset NAME --results DIR with the ground truth as predictions (thread workers where supported)."""
    import shutil

    from hodor.cli.eval_vos import main as eval_main

    res = tmp_path / "res"
    shutil.copytree(os.path.join(root, *ann), res)
    out = tmp_path / "out"
    args = ["--dataset", name, "--datasets-root", root, "--results", str(res), "--out", str(out), "--workers", "2"]
    assert eval_main(args) == 0
    assert (out / table).is_file()
    record = json.loads((out / "eval_record.json").read_text())
    assert record["dataset"] == name and record["num_videos_scored"] == record["num_videos_present"]
    main = {"vost_val": "J-Mean", "mose_v1_train": "J&F-Mean", "mose_v2_train": "J", "lvos_v1_valid": "J-seen-Mean"}
    assert record["metrics"][main[name]] == 1.0
