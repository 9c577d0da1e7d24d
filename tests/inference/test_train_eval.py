"""In-training DAVIS evaluation: the function the trainer's EvalHook calls every TEST.EVAL_PERIOD."""

import json
import math
import os

import pytest

from hodor.config import load_config
from hodor.data.synthetic import make_davis
from hodor.inference.targets import resolve_test_dataset
from hodor.inference.train_eval import davis_targets, make_davis_eval_fn

from .conftest import TINY_OPTS


@pytest.fixture(scope="module")
def davis_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("davis") / "DAVIS")
    make_davis(root, num_videos=3, num_frames=4, image_size=(48, 64), max_objects=2, seed=3)
    return root


def test_eval_fn_scores_the_first_videos(tiny_model, davis_root, tmp_path):
    cfg = load_config(
        None,
        TINY_OPTS
        + ["OUTPUT_DIR", str(tmp_path), "DATASETS.TEST", f"['davis_folder:{davis_root}']", "TEST.MAX_VIDEOS", "2"],
    )
    fn = make_davis_eval_fn(cfg, tiny_model)
    assert fn is not None
    tiny_model.train()
    out = fn()
    assert tiny_model.training, "the predictor must restore the caller's train mode"
    for key in ("J&F-Mean", "J-Mean", "F-Mean", "J-Recall", "J-Decay"):
        assert key in out and math.isfinite(out[key])
    assert 0.0 <= out["J&F-Mean"] <= 1.0
    rec_root = os.path.join(str(tmp_path), "eval_during_training")
    (dataset_dir,) = os.listdir(rec_root)
    # scored in memory: no PNG round trip, only the protocol record
    assert os.listdir(os.path.join(rec_root, dataset_dir)) == ["eval_record.json"]
    with open(os.path.join(rec_root, dataset_dir, "eval_record.json")) as f:
        record = json.load(f)
    assert record["videos"] == ["synth-val-000", "synth-val-001"]  # TEST.MAX_VIDEOS limits the videos
    assert record["num_videos_present"] == 3 and record["videos_not_scored"] == ["synth-val-002"]
    assert record["num_frames_scored"] == 2 * 2  # 4 frames per video, first and last not scored
    assert record["num_frames_present"] == 2 * 4
    assert record["metrics"]["J&F-Mean"] == pytest.approx(out["J&F-Mean"])


def test_non_davis_test_sets_are_skipped(tmp_path):
    cfg = load_config(None, ["DATASETS.TEST", "['youtube_vos_2019_valid']", "OUTPUT_DIR", str(tmp_path)])
    assert davis_targets(cfg) == []
    assert make_davis_eval_fn(cfg, None) is None


def test_test_dataset_names_resolve_the_same_everywhere(tmp_path):
    root = str(tmp_path)
    assert resolve_test_dataset("davis_2017_test-dev", root) == ("davis", os.path.join(root, "DAVIS"), "test-dev")
    assert resolve_test_dataset("davis_folder:/data/my_davis", root, "train") == ("davis", "/data/my_davis", "train")
    assert resolve_test_dataset("youtube_vos_2019_valid", root)[0] == "youtube_vos"
    assert resolve_test_dataset("coco_2017_val", root)[0] == "unknown"
    cfg = load_config(None, ["DATASETS.ROOT", root, "DATASETS.TEST", "['davis_2017_val', 'coco_2017_val']"])
    assert davis_targets(cfg) == [("davis_2017_val", os.path.join(root, "DAVIS"), "val")]
