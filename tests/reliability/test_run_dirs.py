"""Issue 13, training side: run folders that cannot be clobbered, crashes that leave no debris,
metrics that match the checkpoints, and no traceback for a user's mistake.

Each case runs ``tools/train_net.py`` as a separate process on the tiny synthetic datasets and
checks the exit status, the message, and that no file of an earlier run changed. One tiny
trained run (2 iterations, a checkpoint after each) is shared by every case through a
module-scoped fixture; cases that modify a run work on a copy of it.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.reliability.helpers import REPO, snapshot, train_cmd

pytestmark = pytest.mark.slow


def _run(cmd, timeout=300, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": REPO}
    env.pop("HODOR_DEBUG", None)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env, **kw)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _no_traceback(proc):
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, synthetic_root):
    """A finished 2-iteration run: model_0000001.pth, model_final.pth, metrics.json, tb/..."""
    out = tmp_path_factory.mktemp("trained") / "run"
    _ok(_run(train_cmd(synthetic_root, out, "SOLVER.MAX_ITER", "2")))
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(trained, dst)
    return dst


def _metrics_iterations(run):
    return [json.loads(line)["iteration"] for line in open(run / "metrics.json")]


def test_new_run_refuses_a_non_empty_output_dir(trained, synthetic_root):
    before = snapshot(trained)
    proc = _run(train_cmd(synthetic_root, trained, "SOLVER.MAX_ITER", "1"))
    assert proc.returncode == 2
    assert "is not empty" in proc.stderr and "--resume" in proc.stderr and "--overwrite" in proc.stderr
    _no_traceback(proc)
    assert snapshot(trained) == before


def test_second_process_on_a_locked_run_fails_at_once(trained, synthetic_root):
    before = snapshot(trained)
    fd = os.open(trained, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running training process holds
    try:
        t0 = time.perf_counter()
        proc = _run(train_cmd(synthetic_root, trained, "SOLVER.MAX_ITER", "3", resume=True))
        elapsed = time.perf_counter() - t0
    finally:
        os.close(fd)
    assert proc.returncode == 2
    assert "in use by another running process" in proc.stderr
    _no_traceback(proc)
    assert snapshot(trained) == before
    assert elapsed < 60  # refused before building the model or reading data


def test_refused_resume_leaves_config_yaml_untouched(trained, synthetic_root):
    before = snapshot(trained)
    proc = _run(train_cmd(synthetic_root, trained, "SOLVER.MAX_ITER", "3", "SOLVER.BASE_LR", "0.5", resume=True))
    assert proc.returncode == 2
    assert "SOLVER.BASE_LR: 0.0001 -> 0.5" in proc.stderr and "config.yaml" in proc.stderr
    _no_traceback(proc)
    assert snapshot(trained) == before  # config.yaml still holds the original BASE_LR the message points to


def test_overwrite_moves_the_old_run_aside(run_copy, synthetic_root):
    before = snapshot(run_copy)
    proc = _run(train_cmd(synthetic_root, run_copy, "SOLVER.MAX_ITER", "1", overwrite=True))
    _ok(proc)
    aside = [p for p in run_copy.parent.iterdir() if p.name.startswith("run.old-")]
    assert len(aside) == 1 and snapshot(aside[0]) == before  # kept, byte for byte
    assert _metrics_iterations(run_copy) == [1]
    assert torch.load(run_copy / "model_final.pth", weights_only=True)["iteration"] == 1


def test_kill_9_during_checkpoint_write_then_resume(run_copy, synthetic_root):
    """Kill while model_0000003.pth is being written; the next start removes the temporary file,
    resumes from iteration 2 and metrics.json lists every iteration once."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": REPO}
    cmd = train_cmd(synthetic_root, run_copy, "SOLVER.MAX_ITER", "5", resume=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=env)
    tmp = None
    deadline = time.time() + 240
    try:
        while proc.poll() is None and time.time() < deadline:
            tmp = next((n for n in os.listdir(run_copy) if n.startswith("model_0000003.pth.tmp.")), None)
            if tmp:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert tmp is not None, "the checkpoint write was not caught in progress"
    assert (run_copy / tmp).exists()  # debris of the killed process
    assert _metrics_iterations(run_copy)[-1] == 3  # the metrics row is written before its checkpoint
    assert open(run_copy / "last_checkpoint").read().strip() == "model_final.pth"  # pointer untouched

    proc = _run(train_cmd(synthetic_root, run_copy, "SOLVER.MAX_ITER", "4", resume=True))
    _ok(proc)
    assert not [n for n in os.listdir(run_copy) if ".tmp" in n]
    assert "removed 1 temporary file(s)" in proc.stdout
    assert _metrics_iterations(run_copy) == [1, 2, 3, 4]  # truncated to the checkpoint, nothing twice
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_copy / "tb"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4]  # purge_step dropped the killed run's 3


def test_second_sigterm_exits_quietly_with_state_intact(run_copy, synthetic_root):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": REPO}
    cmd = train_cmd(
        synthetic_root, run_copy, "SOLVER.MAX_ITER", "1000", "SOLVER.CHECKPOINT_PERIOD", "1000", resume=True
    )
    err_file = run_copy.parent / "stderr.txt"  # a file, not a pipe: a full stderr pipe would block the child
    with open(err_file, "w") as err_fh:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_fh, text=True, cwd=REPO, env=env)
        try:
            for line in proc.stdout:  # wait until the resumed run is stepping
                if "iter: 3/1000" in line:
                    break
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    err = err_file.read_text()
    assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    assert "last good checkpoint" in err.lower()
    assert not [n for n in os.listdir(run_copy) if ".tmp" in n]
    name = open(run_copy / "last_checkpoint").read().strip()
    assert torch.load(run_copy / name, weights_only=True)["iteration"] >= 2  # loadable


def test_full_disk_during_checkpoint_is_one_message(run_copy, synthetic_root):
    """The write limit makes every write past 20 MB fail (EFBIG) as a full disk does (ENOSPC)."""

    def limit_writes():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20 * 2**20, resource.RLIM_INFINITY))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    before = snapshot(run_copy)
    proc = _run(train_cmd(synthetic_root, run_copy, "SOLVER.MAX_ITER", "3", resume=True), preexec_fn=limit_writes)
    assert proc.returncode == 2, proc.stderr[-3000:]
    _no_traceback(proc)
    assert "cannot write checkpoint" in proc.stderr and "File too large (EFBIG)" in proc.stderr
    assert f"last good checkpoint: {run_copy / 'model_final.pth'}" in proc.stderr
    assert not [n for n in os.listdir(run_copy) if ".tmp" in n]
    for name in ("model_final.pth", "model_0000001.pth", "last_checkpoint"):  # the earlier state is intact
        assert snapshot(run_copy)[name] == before[name]
    assert sys.platform.startswith("linux")
