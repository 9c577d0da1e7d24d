import logging
import os

import torch

from hodor.config import load_config
from hodor.engine.setup import check_writable_dir, default_setup
from hodor.utils import comm
from hodor.utils.env import collect_env_info, seed_all
from hodor.utils.logger import setup_logger


def test_single_process_comm_helpers():
    assert comm.get_rank() == 0 and comm.get_world_size() == 1 and comm.is_main_process()
    comm.synchronize()
    assert comm.all_gather_object({"a": 1}) == [{"a": 1}]
    t = torch.ones(3)
    assert torch.equal(comm.reduce_mean(t), t)


def test_seed_all_is_reproducible():
    seed_all(3)
    a = torch.rand(4)
    seed_all(3)
    assert torch.equal(a, torch.rand(4))
    assert seed_all(-1) >= 0


def test_env_info_has_versions():
    info = collect_env_info()
    for key in ("torch", "torchvision", "git", "python", "cuda_available"):
        assert key in info


def test_logger_writes_file(tmp_path):
    log = setup_logger(str(tmp_path))
    log.info("hello file")
    for h in log.handlers:
        h.flush()
    assert "hello file" in (tmp_path / "log.txt").read_text()
    setup_logger(None)  # detach the file handler again
    assert not any(isinstance(h, logging.FileHandler) for h in logging.getLogger("hodor").handlers)


def test_default_setup_writes_config_and_env(tmp_path):
    cfg = load_config(None, ["OUTPUT_DIR", str(tmp_path / "run")])
    default_setup(cfg)
    assert os.path.isfile(tmp_path / "run" / "config.yaml")
    assert os.path.isfile(tmp_path / "run" / "env.json")
    assert load_config(str(tmp_path / "run" / "config.yaml")).OUTPUT_DIR == str(tmp_path / "run")
    setup_logger(None)


def test_unwritable_output_dir_fails_clearly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    try:
        check_writable_dir(str(blocker / "sub"))
    except PermissionError as exc:
        assert "OUTPUT_DIR" in str(exc) and "not writable" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected PermissionError")
