"""Outputs people can read: H.264 overlays, no progress bars in logs, each error printed once."""

import os
import subprocess
import sys

import cv2
import numpy as np
from hodor.evaluation.palette import save_index_png
from PIL import Image

from hodor.utils.progress import PROGRESS_ENV, progress_enabled
from hodor.utils.video_writer import Mp4Writer, h264_available
from tests.inference.conftest import TINY_OPTS, box_mask, synthetic_video

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _clip(tmp_path, n=3, h=64, w=96):
    (tmp_path / "frames").mkdir()
    for i, f in enumerate(synthetic_video(n, h, w)):
        Image.fromarray(f).save(tmp_path / "frames" / f"{i:05d}.png")
    m = np.zeros((h, w), np.uint8)
    m[box_mask(h, w, 8, 28, 10, 34)] = 3
    save_index_png(str(tmp_path / "m.png"), m)


def _fourcc(path):
    cap = cv2.VideoCapture(str(path))
    code = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("latin-1").lower()
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return code, n


def test_cli_log_has_no_progress_bar_and_overlay_is_h264(tmp_path):
    """Run as a user would with output redirected to a file: no tqdm redraws, an H.264 overlay."""
    _clip(tmp_path)
    log = tmp_path / "run.log"
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}
    env.pop(PROGRESS_ENV, None)
    cmd = [sys.executable, os.path.join(REPO, "tools", "infer_video.py"), str(tmp_path / "frames")]
    cmd += ["--mask", str(tmp_path / "m.png"), "--output", str(tmp_path / "out"), *TINY_OPTS]
    with open(log, "w") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, timeout=300).returncode
    text = log.read_text()
    assert rc == 0, text
    assert "\r" not in text and "it/s" not in text and "frame/s" not in text and "%|" not in text
    assert text.count("inference at 64x96") == 1  # the inference size, once per video
    assert h264_available()  # imageio-ffmpeg is a dev dependency
    code, n = _fourcc(tmp_path / "out" / "overlay.mp4")
    assert code in ("avc1", "h264") and n == 3
    assert b"avc1" in (tmp_path / "out" / "overlay.mp4").read_bytes()[:100000]  # the mp4 sample entry


def test_cli_error_is_printed_once(tmp_path):
    _clip(tmp_path)
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, os.path.join(REPO, "tools", "infer_video.py"), str(tmp_path / "frames")]
    cmd += ["--mask", str(tmp_path / "missing.png"), "--output", str(tmp_path / "out"), *TINY_OPTS]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 2
    both = res.stdout + res.stderr
    assert both.count("missing.png") == 1 and res.stderr.startswith("error: ")


def test_progress_only_on_a_terminal(monkeypatch):
    class Tty:
        def isatty(self):
            return True

        def write(self, s):
            return len(s)

        def flush(self):
            pass

    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    monkeypatch.setattr(sys, "stderr", Tty())
    assert progress_enabled() and not progress_enabled(False)
    monkeypatch.setenv(PROGRESS_ENV, "0")
    assert not progress_enabled()
    monkeypatch.delenv(PROGRESS_ENV)
    monkeypatch.setenv("RANK", "1")  # torchrun worker
    assert not progress_enabled()
    monkeypatch.delenv("RANK")
    monkeypatch.setattr(sys, "stderr", open(os.devnull, "w"))  # a file: never
    assert not progress_enabled()


def test_writer_fallback_and_odd_sizes(tmp_path):
    frames = synthetic_video(2, 33, 47)
    with Mp4Writer(tmp_path / "a.mp4", 5, (33, 47)) as w:
        for f in frames:
            w.write(f)
    assert w.codec == "h264" and _fourcc(tmp_path / "a.mp4")[1] == 2
    with Mp4Writer(tmp_path / "b.mp4", 5, (33, 47), codec="mp4v") as w:
        for f in frames:
            w.write(f)
    code, n = _fourcc(tmp_path / "b.mp4")
    assert code in ("mp4v", "fmp4") and n == 2
