"""tools/train_net.py end to end on the synthetic datasets, and its input errors."""

import json
import os
import subprocess
import sys

import pytest

from hodor.cli.train import train_main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICK = os.path.join(REPO, "configs", "quick_schedules")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    from hodor.data.synthetic import make_all

    root = tmp_path_factory.mktemp("synthetic")
    make_all(str(root), preset="tiny")
    return str(root)


@pytest.mark.slow
def test_cli_trains_and_resumes_static_images(data_root, tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        os.path.join(REPO, "tools", "train_net.py"),
        "--config-file",
        os.path.join(QUICK, "static_image_tiny.yaml"),
        "DATASETS.ROOT",
        data_root,
        "OUTPUT_DIR",
        str(out),
        "SOLVER.MAX_ITER",
        "1",
        "SOLVER.IMS_PER_BATCH",
        "1",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (out / "model_final.pth").is_file() and (out / "config.yaml").is_file()
    # --resume with a longer schedule continues from iteration 1
    resume = cmd[:2] + ["--resume"] + cmd[2:-4] + ["SOLVER.MAX_ITER", "2", "SOLVER.IMS_PER_BATCH", "1"]
    proc = subprocess.run(resume, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [json.loads(x) for x in open(out / "metrics.json")]
    assert [x["iteration"] for x in lines] == [1, 2]
    assert "Resumed from" in open(out / "log.txt").read()


def test_cli_input_errors_fail_before_training(data_root, tmp_path, capsys):
    cfg = os.path.join(QUICK, "static_image_tiny.yaml")
    assert train_main(["--config-file", cfg, "SOLVER.BASE_LRR", "1e-4"]) == 2
    assert "unknown config key 'SOLVER.BASE_LRR'" in capsys.readouterr().err
    out = str(tmp_path / "o")
    assert train_main(["--config-file", cfg, "OUTPUT_DIR", out, "DATASETS.ROOT", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and not os.path.exists(os.path.join(out, "model_final.pth"))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert train_main(["--config-file", cfg, "OUTPUT_DIR", str(blocker / "sub")]) == 2
    assert "not writable" in capsys.readouterr().err
