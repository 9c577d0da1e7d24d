"""tools/demo.py as a real process: binds 127.0.0.1 by default, serves, removes its temp folders on exit."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.demo.conftest import H, W, synthetic_video, write_mp4

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_defaults_and_arguments():
    from hodor.demo.cli import limits_from_args, parse_args

    args = parse_args(["--max-frames", "50", "--max-upload-mb", "1.5", "INFERENCE.MIN_DIM", "64"])
    assert (args.host, args.port, args.opts) == ("127.0.0.1", 7860, ["INFERENCE.MIN_DIM", "64"])
    limits = limits_from_args(args)
    assert (limits.max_frames, limits.max_upload_bytes) == (50, int(1.5 * 2**20))
    with pytest.raises(SystemExit):
        parse_args(["--bogus"])
    with pytest.raises(SystemExit):
        parse_args(["INFERENCE.MIN_DIM"])  # KEY without VALUE


@pytest.mark.slow
def test_process_serves_and_cleans_up(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=REPO, TMPDIR=str(tmp_path / "tmp"), OMP_NUM_THREADS="1")
    os.makedirs(env["TMPDIR"])
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "tools", "demo.py"), "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.time()
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                info = httpx.get(f"{url}/api/info").json()
                break
            except httpx.TransportError:
                assert time.time() - t0 < 120, "server did not start"
                time.sleep(0.2)
        assert info["model"] is False and "--weights" in info["message"]
        video = write_mp4(tmp_path / "clip.mp4", synthetic_video(2, H, W))
        with open(video, "rb") as fh:
            r = httpx.post(f"{url}/api/sessions", files={"file": ("clip.mp4", fh)})
        assert r.status_code == 201, r.text
        roots = [d for d in os.listdir(env["TMPDIR"]) if d.startswith("hodor-demo-")]
        assert len(roots) == 1 and os.listdir(os.path.join(env["TMPDIR"], roots[0])) == [r.json()["session"]]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    assert not [d for d in os.listdir(env["TMPDIR"]) if d.startswith("hodor-demo-")]  # removed on exit
