"""inference_on_dataset: in-memory scoring equals scoring the written PNGs; 2 processes equal 1;
``tools/eval_vos.py --dataset NAME`` (scoring only and inference + scoring) with eval_record.json."""

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from hodor.cli.eval_vos import main as eval_main
from hodor.data.davis import load_davis_folder
from hodor.data.synthetic import make_davis
from hodor.evaluation import evaluate_davis
from hodor.evaluation.record import video_list_hash
from hodor.inference.evaluate_dataset import build_dataset_evaluator, inference_on_dataset

from .conftest import TINY_OPTS


@pytest.fixture(scope="module")
def davis_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("davis") / "DAVIS")
    make_davis(root, num_videos=3, num_frames=4, image_size=(48, 64), max_objects=2, seed=5)
    return root


def _run(model, cfg, root, results_dir=None):
    name = f"davis_folder:{root}"
    records = load_davis_folder(root, "val", name)
    evaluator = build_dataset_evaluator(name, records)
    return inference_on_dataset(model, cfg, records, evaluator, results_dir=results_dir, progress=False)


def test_in_memory_scores_equal_scoring_the_written_pngs(tiny_model, tiny_cfg, davis_root, tmp_path):
    res_dir = str(tmp_path / "results")
    out = _run(tiny_model, tiny_cfg, davis_root, res_dir)
    from_pngs = evaluate_davis(davis_root, res_dir)
    assert out.results.global_metrics() == from_pngs.global_metrics()
    assert out.results.per_object_rows() == from_pngs.per_object_rows()
    assert out.frames_predicted == 3 * 4 and out.frames_scored == 3 * 2
    assert sorted(os.listdir(res_dir)) == ["synth-val-000", "synth-val-001", "synth-val-002"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, root: str, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    from hodor.config import load_config
    from hodor.modeling import build_model
    from hodor.utils import comm

    assert comm.init_distributed(backend="gloo")
    cfg = load_config(None, list(TINY_OPTS))
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    res = _run(model, cfg, root)
    payload = {"frames": res.frames_predicted, "world": res.world_size}
    if res.results is not None:
        payload["global"] = res.results.global_metrics()
        payload["rows"] = res.results.per_object_rows()
    torch.save(payload, os.path.join(out, f"rank{rank}.pt"))
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_processes_equal_one(tiny_cfg, davis_root, tmp_path):
    torch.manual_seed(0)
    from hodor.modeling import build_model

    single = _run(build_model(tiny_cfg).eval(), tiny_cfg, davis_root)
    mp.spawn(_worker, args=(2, _free_port(), davis_root, str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=False)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=False)
    assert r0["world"] == 2 and r0["frames"] == 12  # both shards' frames counted
    assert "global" not in r1  # only rank 0 aggregates
    assert r0["global"] == single.results.global_metrics()
    assert r0["rows"] == single.results.per_object_rows()


def test_cli_dataset_score_only_and_with_model(tiny_model, davis_root, tmp_path, capsys):
    from hodor.checkpoint.formats import save_model

    cfg_dir = tmp_path / "ckpt"
    from hodor.config import load_config

    cfg = load_config(None, list(TINY_OPTS))
    weights = save_model(tiny_model, cfg, str(cfg_dir))
    out = tmp_path / "run"
    status = eval_main(
        ["--dataset", f"davis_folder:{davis_root}", "--config-file", str(cfg_dir / "config.yaml"), "--out", str(out)]
        + ["MODEL.WEIGHTS", weights, "DEVICE", "cpu"]
    )
    assert status == 0, capsys.readouterr().err
    with open(out / "eval_record.json") as f:
        record = json.load(f)
    videos = ["synth-val-000", "synth-val-001", "synth-val-002"]
    assert record["videos"] == videos and record["videos_sha256"] == video_list_hash(videos[::-1])
    assert record["num_videos_scored"] == record["num_videos_present"] == 3
    assert record["num_frames_scored"] == 6 and record["num_frames_present"] == 12
    inf = record["inference"]
    assert (
        inf["temporal_window"] == 2 and inf["inference_max_dim"] == 96 and inf["precision"] == cfg.INFERENCE.PRECISION
    )
    assert inf["frame_sizes_hw"] == [[48, 64]] and inf["fps"] > 0 and inf["device"] == "cpu"
    import hashlib

    assert record["checkpoint"]["sha256"] == hashlib.sha256(open(weights, "rb").read()).hexdigest()
    assert record["hodor"]["version"]
    assert record["evaluator"] == "davis"
    # scoring only: the same folder gives the same numbers, and its own record
    score_out = tmp_path / "score"
    status = eval_main(
        ["--dataset", f"davis_folder:{davis_root}", "--results", str(out / "results"), "--out", str(score_out)]
    )
    assert status == 0
    with open(score_out / "eval_record.json") as f:
        scored = json.load(f)
    assert scored["metrics"] == record["metrics"] and scored["inference"] is None
    assert (score_out / "global_results-val.csv").read_text() == (out / "global_results-val.csv").read_text()


def test_cli_dataset_errors(davis_root, tmp_path, capsys):
    assert eval_main(["--dataset", f"davis_folder:{davis_root}", "--results", str(tmp_path / "nope")]) == 2
    assert "results folder not found" in capsys.readouterr().err
    assert eval_main(["--dataset", "youtube_vos_2019_valid", "--results", str(tmp_path)]) == 2


FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "davis_eval", "fixture")


def _score_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    name = f"davis_folder:{os.path.join(FIXTURE, 'DAVIS')}"
    assert eval_main(["--dataset", name, "--results", os.path.join(FIXTURE, "results"), "--out", out]) == 0
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_scoring_only_over_two_processes_equals_official_csvs(tmp_path):
    """torchrun-style scoring: 2 gloo processes shard the videos; rank 0's tables are the official ones."""
    out = str(tmp_path / "out")
    mp.spawn(_score_worker, args=(2, _free_port(), out), nprocs=2, join=True)
    expected = os.path.join(FIXTURE, "..", "expected")
    for name in ("global_results-val.csv", "per-sequence_results-val.csv"):
        with open(os.path.join(expected, name), "rb") as f, open(os.path.join(out, name), "rb") as g:
            assert g.read() == f.read(), name
    with open(os.path.join(out, "eval_record.json")) as f:
        assert json.load(f)["num_videos_scored"] == 8  # the sequences of ImageSets/2017/val.txt
