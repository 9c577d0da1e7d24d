"""Shared fixtures of the demo tests: the tiny inference model saved as weights, clips, masks, a client."""

import io
import os
import tempfile
import time
import zipfile

import cv2
import numpy as np
import pytest
import torch
from hodor.checkpoint.io import save_model

from hodor.config import load_config
from hodor.modeling import build_model
from hodor.utils.palette import save_index_png
from tests.inference.conftest import TINY_OPTS, box_mask, synthetic_video  # noqa: F401  (re-exported)

if os.environ.get("CI") == "true":
    import fastapi  # noqa: F401  (CI installs the demo extra: its absence is a failure there)
else:
    pytest.importorskip("fastapi", reason="the demo extra is not installed: pip install -e '.[demo,demo-test]'")

H, W = 64, 96


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """A randomly initialised tiny model saved to disk, so the demo and infer_video load the same weights."""
    tiny_cfg = load_config(None, list(TINY_OPTS))
    torch.manual_seed(0)
    model = build_model(tiny_cfg)
    return save_model(model, tiny_cfg, str(tmp_path_factory.mktemp("tiny_model")))


@pytest.fixture(scope="session")
def engine(tiny_weights):
    from hodor.demo.cli import build_engine, parse_args

    return build_engine(parse_args(["--weights", tiny_weights, *TINY_OPTS]))


def write_mp4(path, frames, fps=10):
    h, w = frames.shape[1:3]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert vw.isOpened()
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()
    return path


def index_map(objects, h=H, w=W):
    """{id: (y0, y1, x0, x1)} -> uint8 id map."""
    m = np.zeros((h, w), np.uint8)
    for oid, box in objects.items():
        m[box_mask(h, w, *box)] = oid
    return m


def png_bytes(ids, palette=True):
    """An id map as palette PNG (hodor's save_index_png) or greyscale PNG bytes (OpenCV)."""
    if palette:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.png")
            save_index_png(path, ids)
            with open(path, "rb") as fh:
                return fh.read()
    ok, enc = cv2.imencode(".png", ids)
    assert ok
    return enc.tobytes()


def save_png(path, ids):
    save_index_png(str(path), ids)
    return str(path)


def read_zip_masks(data):
    """masks.zip bytes -> {name: (mode, id map)}."""
    from PIL import Image

    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            with Image.open(io.BytesIO(zf.read(name))) as im:
                out[name] = (im.mode, np.array(im))
    return out


def wait_done(client, sid, timeout=120.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        st = client.get(f"/api/sessions/{sid}/status").json()
        if st["state"] not in ("queued", "running"):
            return st
        time.sleep(0.05)
    raise AssertionError(f"propagation did not finish in {timeout}s: {st}")


def infer_video_masks(tmp_path, video, specs, weights, tag="ref"):
    """Masks written by tools/infer_video.py (hodor.cli.infer_video) for the same clip and masks."""
    from hodor.cli.infer_video import main
    from hodor.data.io import read_index_mask

    out = tmp_path / tag
    argv = [str(video)]
    for frame, path in specs:
        argv += ["--mask", f"{frame}:{path}"]
    argv += ["--output", str(out), "--no-overlay", *TINY_OPTS, "MODEL.WEIGHTS", weights]
    assert main(argv) == 0
    names = sorted(os.listdir(out / "masks"))
    return {n: read_index_mask(str(out / "masks" / n)) for n in names}
