"""A tiny real HODOR model (resnet18 trunk, 1 encoder/decoder layer, width 64) for inference tests."""

import numpy as np
import pytest
import torch

from hodor.config import load_config
from hodor.modeling import build_model

TINY_OPTS = [
    "MODEL.BACKBONE.NAME", "resnet18",
    "MODEL.HIDDEN_DIM", "64",
    "MODEL.BACKBONE.FPN_NORM_GROUPS", "8",
    "MODEL.ENCODER.NUM_LAYERS", "1",
    "MODEL.ENCODER.FFN_DIM", "64",
    "MODEL.DECODER.NUM_LAYERS", "1",
    "MODEL.DECODER.FFN_DIM", "64",
    "INFERENCE.MIN_DIM", "64",
    "INFERENCE.MAX_DIM", "96",
    "INFERENCE.TEMPORAL_WINDOW", "2",
    "DEVICE", "cpu",
]  # fmt: skip


@pytest.fixture(scope="session")
def tiny_cfg():
    return load_config(None, list(TINY_OPTS))


@pytest.fixture(scope="session")
def tiny_model(tiny_cfg):
    torch.manual_seed(0)
    return build_model(tiny_cfg).eval()


def box_mask(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def synthetic_video(num_frames=6, h=64, w=96, seed=0):
    """Noise background with two moving rectangles; returns frames [T,H,W,3] uint8."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 80, (num_frames, h, w, 3), dtype=np.uint8)
    for t in range(num_frames):
        frames[t, 8 + t : 28 + t, 10 + 2 * t : 34 + 2 * t] = (220, 40, 40)
        frames[t, 30:54, 60 - t : 84 - t] = (40, 200, 60)
    return frames
