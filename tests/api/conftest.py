"""A tiny "training run" folder (config.yaml + model_final.pth with optimizer state) and a user-like clip."""

import os
import shutil

import pytest
import torch

from hodor.config import cfg_to_dict, dump_config, load_config
from hodor.modeling import build_model
from tests.inference.conftest import TINY_OPTS
from tests.user_clip import user_clip

BIKE = user_clip()  # synthetic 854x480 clip shaped like Cutie's bike example (real clips stay out of the repo)
JUDO_MASK_853 = os.path.join(BIKE, "narrow_add_object.png")
# quick-start-like: the network runs far below the 854x480 frames (64x114)
RUN_OPTS = [*TINY_OPTS, "INFERENCE.MIN_DIM", "64", "INFERENCE.MAX_DIM", "114"]


def write_run_dir(path: str, seed: int = 0) -> str:
    """What training leaves in OUTPUT_DIR: config.yaml, model_final.pth (model, optimizer, config), pointer."""
    cfg = load_config(None, RUN_OPTS)
    torch.manual_seed(seed)
    model = build_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()  # creates the two AdamW moments per parameter, as a real checkpoint has
    os.makedirs(path, exist_ok=True)
    dump_config(cfg, os.path.join(path, "config.yaml"))
    torch.save(
        {"model": model.state_dict(), "optimizer": opt.state_dict(), "iteration": 5, "config": cfg_to_dict(cfg)},
        os.path.join(path, "model_final.pth"),
    )
    with open(os.path.join(path, "last_checkpoint"), "w") as fh:
        fh.write("model_final.pth\n")
    return path


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    return write_run_dir(str(tmp_path_factory.mktemp("run") / "static_image"))


@pytest.fixture(scope="session")
def predictor(run_dir):
    import hodor

    return hodor.load_predictor(run_dir, device="cpu")


@pytest.fixture
def bike_copy(tmp_path):
    dst = tmp_path / "bike"
    shutil.copytree(BIKE, dst)
    return dst
