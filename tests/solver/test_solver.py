import math

import pytest
import torch

from hodor.engine.trainer import accumulation_plan
from hodor.solver import LRSchedule, build_lr_scheduler, build_optimizer
from hodor.solver.build import split_backbone_params
from tests.helpers import tiny_cfg


def test_step_schedule_matches_original():
    s = LRSchedule("step", base_lr=1e-4, max_iter=250000, warmup_iters=10000, warmup_init_lr=1e-7, steps=[100000])
    assert s.lr(0) == pytest.approx(1e-7)
    assert s.lr(5000) == pytest.approx(1e-7 + 0.5 * (1e-4 - 1e-7))
    assert s.lr(10000) == pytest.approx(1e-4)
    assert s.lr(99999) == pytest.approx(1e-4)
    assert s.lr(100000) == pytest.approx(1e-5)
    assert s.lr(249999) == pytest.approx(1e-5)


def test_warmup_and_cosine():
    w = LRSchedule("warmup", base_lr=1e-5, max_iter=100, warmup_iters=10, warmup_init_lr=1e-8, steps=[50])
    assert w.lr(0) == pytest.approx(1e-8) and w.lr(10) == pytest.approx(1e-5) and w.lr(90) == pytest.approx(1e-5)
    c = LRSchedule("cosine", base_lr=1.0, max_iter=110, warmup_iters=10)
    assert c.lr(10) == pytest.approx(1.0) and c.lr(60) == pytest.approx(0.5) and c.lr(110) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="LR_SCHEDULER"):
        LRSchedule("poly", base_lr=1.0, max_iter=1)


def test_optimizer_groups_and_scheduler(tmp_path):
    from hodor.modeling import build_model

    cfg = tiny_cfg(tmp_path, "SOLVER.BACKBONE_LR_MULTIPLIER", "0.1", "SOLVER.WARMUP_ITERS", "0")
    model = build_model(cfg)
    opt = build_optimizer(cfg, model)
    assert isinstance(opt, torch.optim.AdamW)
    backbone, rest = split_backbone_params(model)
    assert len(opt.param_groups) == 2 and len(backbone) > 0 and len(rest) > 0
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-5) and opt.param_groups[1]["lr"] == pytest.approx(1e-4)
    assert all(g["weight_decay"] == 0.01 for g in opt.param_groups)
    sched = build_lr_scheduler(cfg, opt)
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-5)  # warm-up off: constant, multiplier kept
    one = build_optimizer(tiny_cfg(tmp_path), model)
    assert len(one.param_groups) == 1  # the original's single group


def test_accumulation_plan():
    assert accumulation_plan(8, 2, 1) == (2, 4)
    assert accumulation_plan(8, 2, 4) == (2, 1)
    assert accumulation_plan(8, 2, 8) == (1, 1)
    with pytest.raises(ValueError, match="not divisible by the number of processes"):
        accumulation_plan(8, 2, 3)
    with pytest.raises(ValueError, match="MAX_SAMPLES_PER_GPU"):
        accumulation_plan(8, 3, 1)
    assert math.prod(accumulation_plan(16, 4, 2)) == 8
