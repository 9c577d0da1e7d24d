"""``hodor-pseudo-label`` / ``tools/pseudo_label.py``: a checkpoint alone pseudo-labels a dataset,
the folder reads back as ``pseudo:<dir>``, and user mistakes exit 2 with one message."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hodor.cli.pseudo_label import main, run_pseudo_labelling
from hodor.data.catalog import load_dataset
from hodor.data.synthetic import make_youtube_vos
from tests.inference.conftest import TINY_OPTS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(datasets root, checkpoint) with 2 tiny YouTube-VOS videos and the tiny model."""
    import torch

    from hodor.checkpoint.formats import save_model
    from hodor.config import load_config
    from hodor.modeling import build_model

    root = str(tmp_path_factory.mktemp("datasets"))
    make_youtube_vos(os.path.join(root, "YouTube-VOS"), num_videos=2, num_frames=6, image_size=(48, 64),
                     max_objects=2, seed=2)  # fmt: skip
    cfg = load_config(None, list(TINY_OPTS))
    torch.manual_seed(0)
    weights = save_model(build_model(cfg).eval(), cfg, str(tmp_path_factory.mktemp("ckpt")))
    return root, weights


def test_main_writes_a_dataset(setup, tmp_path, capsys):
    root, weights = setup
    out = tmp_path / "pl"
    args = ["--weights", weights, "--dataset", "youtube_vos_2019_train", "--out", str(out), "--no-progress"]
    assert main([*args, "DATASETS.ROOT", root, "PSEUDO_LABEL.LABELLED_FRAMES", "first"]) == 0
    printed = capsys.readouterr().out
    assert "2 videos pseudo-labelled, 0 already done; 10 frames" in printed
    manifest = json.load(open(out / "pseudo_labels.json"))
    assert manifest["labelled_frames"] == "first" and manifest["source_dataset"] == "youtube_vos_2019_train"
    assert manifest["datasets_root"] == root and manifest["checkpoint"] == weights
    recs = load_dataset(f"pseudo:{out}")
    assert len(recs) == 2 and all(sorted(r.annotations) == [0] for r in recs)
    assert all(sorted(r.pseudo_labels) == [1, 2, 3, 4, 5] for r in recs)
    # a second run resumes (nothing to do); other settings: exit 2, one message
    assert main([*args, "DATASETS.ROOT", root, "PSEUDO_LABEL.LABELLED_FRAMES", "first"]) == 0
    assert "0 videos pseudo-labelled, 2 already done" in capsys.readouterr().out
    assert main([*args, "DATASETS.ROOT", root]) == 2  # LABELLED_FRAMES middle (the default)
    err = capsys.readouterr().err
    assert "labelled_frames: 'first' -> 'middle'" in err and "--overwrite" in err and "Traceback" not in err


def test_function_for_the_round_driver(setup, tmp_path):
    root, weights = setup
    s = run_pseudo_labelling(
        weights, str(tmp_path / "pl"), opts=["DATASETS.ROOT", root, "PSEUDO_LABEL.SOURCE_DATASET",
                                             "youtube_vos_2019_train"], progress=False,
    )  # fmt: skip
    assert s["dataset"] == "youtube_vos_2019_train" and s["labelled_frames"] == "middle"
    assert (s["videos"], s["videos_done"], s["videos_skipped"]) == (2, 2, 0)
    assert s["frames_pseudo_labelled"] == 2 * 5 and s["confidence"] == "mean_max_prob" and s["seconds"] > 0


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "no dataset to pseudo-label"),
        (["--dataset", "no_such_dataset"], "no_such_dataset"),
        (["--dataset", "coco_2017_train"], "holds images, not videos"),
        (["--dataset", "youtube_vos_2019_train", "PSEUDO_LABEL.CONFIDENCE", "vibes"], "PSEUDO_LABEL.CONFIDENCE"),
    ],
)
def test_user_errors_exit_2(setup, tmp_path, capsys, extra, message):
    root, weights = setup
    status = main(["--weights", weights, "--out", str(tmp_path / "pl"), "DATASETS.ROOT", root, *extra])
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err


def test_tool_wrapper_help():
    res = subprocess.run([sys.executable, os.path.join(REPO, "tools", "pseudo_label.py"), "--help"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)  # fmt: skip
    assert res.returncode == 0 and "--weights" in res.stdout and "pseudo:DIR" in res.stdout
