"""Shared fixtures for the data tests: one tiny synthetic dataset tree per session, small configs."""

from __future__ import annotations

import pytest
import torch

from hodor.config import load_config
from hodor.data.synthetic import make_all

SMALL = [
    "INPUT.MAX_IMAGE_AREA", "6144",
    "INPUT.MIN_DIM", "64",
    "INPUT.MAX_DIM", "128",
    "TRAINING.MIN_REF_MASK_AREA", "20",
    "TRAINING.MIN_REF_MASK_DIM", "3",
    "DATALOADER.NUM_WORKERS", "0",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread():
    """Per-sample augmentation ops are tiny; extra intra-op threads only add wake-up latency."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def syn_root(tmp_path_factory) -> str:
    """COCO, DAVIS and YouTube-VOS layouts written by the synthetic generator ("tiny" preset)."""
    root = tmp_path_factory.mktemp("datasets")
    make_all(str(root), preset="tiny", seed=0)
    return str(root)


def _small_cfg(root: str, mode: str, train: list[str], *extra: str):
    return load_config(
        None, ["DATASETS.ROOT", root, "DATASETS.TRAIN", str(train), "TRAINING.MODE", mode, *SMALL, *extra]
    )


@pytest.fixture
def small_cfg():
    """``small_cfg(root, mode, [names], *KEY_VALUE)``: a frozen config with tiny image sizes."""
    return _small_cfg
