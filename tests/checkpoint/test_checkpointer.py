import os
import random

import numpy as np
import pytest
import torch
from torch import nn

from hodor.checkpoint import checkpointer as ck
from hodor.checkpoint.checkpointer import Checkpointer, CheckpointError, capture_rng_state, restore_rng_state


def _model():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_rng_state_roundtrip_through_weights_only_file(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    path = tmp_path / "rng.pth"
    torch.save(capture_rng_state(), path)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    restore_rng_state(torch.load(path, weights_only=True))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_save_load_keep_and_pointer(tmp_path):
    m = _model()
    opt = torch.optim.AdamW(m.parameters())
    m(torch.randn(2, 3)).sum().backward()
    opt.step()
    c = Checkpointer(m, str(tmp_path), opt, keep=2)
    for it in (1, 2, 3):
        c.save(f"model_{it:07d}", it, config={"SOLVER": {"BASE_LR": 0.1}}, sampler_state={"pos": it})
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith(".pth")) == ["model_0000002.pth", "model_0000003.pth"]
    assert c.last_checkpoint().endswith("model_0000003.pth")
    data = Checkpointer.read(c.last_checkpoint())  # weights_only=True inside
    assert data["iteration"] == 3 and data["sampler"] == [{"pos": 3}] and "torch" in data["versions"]
    m2 = _model()
    opt2 = torch.optim.AdamW(m2.parameters())
    Checkpointer(m2, str(tmp_path), opt2).resume(c.last_checkpoint(), config={"SOLVER": {"BASE_LR": 0.1}})
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), m2.state_dict().values()))
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_interrupted_save_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    m = _model()
    c = Checkpointer(m, str(tmp_path))
    good = c.save("model_0000001", 1)
    before = open(good, "rb").read()

    def broken_save(obj, fh):
        fh.write(b"partial data")
        raise KeyboardInterrupt  # killed in the middle of writing

    monkeypatch.setattr(ck.torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        c.save("model_0000002", 2)
    with pytest.raises(KeyboardInterrupt):
        c.save("model_0000001", 1)  # even overwriting the same name
    assert open(good, "rb").read() == before
    assert c.last_checkpoint() == good
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000001.pth"]  # no temporary left over


def test_bad_checkpoints_fail_clearly(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable hodor checkpoint"):
        Checkpointer.read(str(bad))
    other = tmp_path / "other"
    Checkpointer(nn.Linear(3, 5), str(other)).save("model_0000001", 1)
    with pytest.raises(CheckpointError, match="different architecture"):
        Checkpointer(_model(), str(other)).resume(str(other / "model_0000001.pth"))
    (other / "last_checkpoint").write_text("gone.pth\n")
    with pytest.raises(CheckpointError, match="does not exist"):
        Checkpointer(_model(), str(other)).last_checkpoint()
