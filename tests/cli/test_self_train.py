"""hodor-self-train: rounds of pseudo-labelling + self-training on the tiny synthetic data,
continued after an interruption, and its refusals."""

import json
import os
from types import SimpleNamespace

import pytest

from hodor.cli.self_train import STATE_FILE, main, round_paths, run_self_training
from hodor.cli.train import run_training

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICK = os.path.join(REPO, "configs", "quick_schedules")
SELF_CFG = os.path.join(QUICK, "self_training_tiny.yaml")


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    """Tiny synthetic datasets and a 1-iteration static-image model to start round 1 from."""
    from hodor.data.synthetic import make_all

    root = tmp_path_factory.mktemp("selftrain")
    data = root / "data"
    make_all(str(data), preset="tiny")
    run = root / "static"
    opts = ["DATASETS.ROOT", str(data), "OUTPUT_DIR", str(run), "SOLVER.MAX_ITER", "1", "SOLVER.IMS_PER_BATCH", "1"]
    args = SimpleNamespace(
        config_file=os.path.join(QUICK, "static_image_tiny.yaml"), resume=False, overwrite=False, opts=opts
    )
    assert run_training(args) == 0
    return str(data), str(run / "model_final.pth")


def _label_mtimes(pseudo_dir: str) -> dict[str, float]:
    out = {}
    for video in sorted(os.listdir(pseudo_dir)):
        path = os.path.join(pseudo_dir, video, "labels.json")
        if os.path.isfile(path):
            out[video] = os.path.getmtime(path)
    return out


@pytest.mark.slow
def test_two_rounds_then_continue_after_an_interrupted_round(start, tmp_path):
    data, weights = start
    out = tmp_path / "rounds"
    opts = ["DATASETS.ROOT", data]
    state = run_self_training(SELF_CFG, weights, str(out), opts)
    r1 = round_paths(str(out), 1)
    assert state["final_weights"] == r1.final_model and os.path.isfile(r1.final_model)
    (entry,) = state["rounds"]
    assert entry["weights_in"] == os.path.abspath(weights)
    # the round trained on its own pseudo-labels, and says so in its annotation cost
    cfg_text = open(os.path.join(r1.train_dir, "config.yaml")).read()
    assert f"pseudo:{r1.pseudo_dir}" in cfg_text
    cost = entry["annotation_cost"]
    assert cost["mode"] == "self_training" and cost["labelled_video_frames"] > 0
    assert (
        cost["pseudo_labelled_frames"]
        == json.load(open(os.path.join(r1.train_dir, "annotation_cost.json")))["pseudo_labelled_frames"]
    )
    # every metrics.json row carries the run's label counts
    rows = [json.loads(x) for x in open(os.path.join(r1.train_dir, "metrics.json"))]
    assert rows and all(r["labels/video_frames"] == cost["labelled_video_frames"] for r in rows)
    assert all(r["labels/pseudo_frames"] == cost["pseudo_labelled_frames"] for r in rows)

    # a second round starts from round 1's model; round 1 is not redone
    r1_labels = _label_mtimes(r1.pseudo_dir)
    r1_model_time = os.path.getmtime(r1.final_model)
    state = run_self_training(SELF_CFG, weights, str(out), [*opts, "TRAINING.SELF_TRAINING.ROUNDS", "2"])
    r2 = round_paths(str(out), 2)
    assert [r["round"] for r in state["rounds"]] == [1, 2]
    assert state["rounds"][1]["weights_in"] == r1.final_model and state["final_weights"] == r2.final_model
    assert _label_mtimes(r1.pseudo_dir) == r1_labels and os.path.getmtime(r1.final_model) == r1_model_time

    # interrupt round 2 after its first iteration: no final model, the pointer names the iteration-1
    # checkpoint (as a kill after that save leaves it), and one video's pseudo-labels are missing
    os.remove(r2.final_model)
    first = sorted(f for f in os.listdir(r2.train_dir) if f.startswith("model_0"))[0]
    with open(os.path.join(r2.train_dir, "last_checkpoint"), "w") as fh:
        fh.write(first)
    videos = sorted(_label_mtimes(r2.pseudo_dir))
    os.remove(os.path.join(r2.pseudo_dir, videos[0], "labels.json"))
    before = _label_mtimes(r2.pseudo_dir)
    assert main(["--config-file", SELF_CFG, "--weights", weights, "--out", str(out), *opts,
                 "TRAINING.SELF_TRAINING.ROUNDS", "2"]) == 0  # fmt: skip
    after = _label_mtimes(r2.pseudo_dir)
    assert sorted(after) == videos  # the missing video was labelled again ...
    assert all(after[v] == before[v] for v in before)  # ... and only that one
    assert os.path.isfile(r2.final_model)
    assert "Resumed from" in open(os.path.join(r2.train_dir, "log.txt")).read()
    state = json.load(open(out / STATE_FILE))
    assert [r["round"] for r in state["rounds"]] == [1, 2]


def test_refusals_name_the_problem(start, tmp_path, capsys):
    data, weights = start
    out = str(tmp_path / "r")
    # a config of another mode
    assert main(["--config-file", os.path.join(QUICK, "sparse_video_tiny.yaml"), "--weights", weights,
                 "--out", out, "DATASETS.ROOT", data]) == 2  # fmt: skip
    assert "self_training" in capsys.readouterr().err
    # no dataset to pseudo-label
    assert main(["--config-file", SELF_CFG, "--weights", weights, "--out", out, "DATASETS.ROOT", data,
                 "PSEUDO_LABEL.SOURCE_DATASET", ""]) == 2  # fmt: skip
    assert "PSEUDO_LABEL.SOURCE_DATASET" in capsys.readouterr().err
    # a missing start model
    assert main(["--config-file", SELF_CFG, "--weights", str(tmp_path / "none.pth"), "--out", out]) == 2
    assert "none.pth" in capsys.readouterr().err
    # a folder of another setup
    os.makedirs(out, exist_ok=True)
    json.dump({"config_file": "/elsewhere.yaml", "start_weights": weights, "source_dataset": "x", "rounds": []},
              open(os.path.join(out, STATE_FILE), "w"))  # fmt: skip
    assert main(["--config-file", SELF_CFG, "--weights", weights, "--out", out, "DATASETS.ROOT", data]) == 2
    assert "another setup" in capsys.readouterr().err
