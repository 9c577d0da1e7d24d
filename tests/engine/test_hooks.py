"""Hooks and run control: periodic evaluation with model_best, SIGTERM checkpointing, bf16 autocast."""

import json
import os
import signal

import pytest
import torch

from hodor.engine.hooks import HookBase
from hodor.engine.setup import default_setup
from hodor.engine.trainer import TrainingInterrupted
from hodor.training.build import build_trainer
from tests.helpers import ClipStream, tiny_cfg


def _trainer(out, *opts, eval_fn=None):
    cfg = tiny_cfg(out, "SOLVER.IMS_PER_BATCH", "1", *opts)
    default_setup(cfg)
    stream = ClipStream(1, size=32, seed=4)
    return build_trainer(cfg, eval_fn=eval_fn, data=stream, progress_bar=False)


def test_eval_hook_logs_results_and_keeps_best(tmp_path):
    scores = iter([50.0, 40.0])
    calls = []

    def eval_fn():
        calls.append(torch.is_grad_enabled())
        return {"J&F-Mean": next(scores), "J-Mean": 1.0}

    trainer = _trainer(tmp_path, "SOLVER.MAX_ITER", "2", "TEST.EVAL_PERIOD", "1", eval_fn=eval_fn)
    trainer.train()
    assert len(calls) == 2
    best = torch.load(tmp_path / "model_best.pth", weights_only=True)
    assert best["iteration"] == 1  # the better score came first
    assert open(tmp_path / "last_checkpoint").read().strip() == "model_final.pth"  # resume point unchanged
    lines = [json.loads(x) for x in open(tmp_path / "metrics.json")]
    assert [x.get("eval/J&F-Mean") for x in lines] == [50.0, 40.0]
    hook_states = dict(zip(best["extra"]["hook_names"], best["extra"]["hooks"]))  # stored by hook class
    assert hook_states["EvalHook"] == {"best": 50.0, "best_iter": 1}


def test_sigterm_saves_a_checkpoint_and_stops(tmp_path):
    class Terminate(HookBase):
        def after_step(self):
            if self.trainer.iter == 0:
                os.kill(os.getpid(), signal.SIGTERM)

    trainer = _trainer(tmp_path, "SOLVER.MAX_ITER", "5")
    trainer.register_hooks([Terminate()])
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted) as exc:
        trainer.train()
    assert exc.value.signum == signal.SIGTERM and exc.value.iteration == 1
    assert open(tmp_path / "last_checkpoint").read().strip() == "model_0000001.pth"
    assert signal.getsignal(signal.SIGTERM) is previous  # handlers restored


def test_bf16_autocast_step(tmp_path):
    trainer = _trainer(tmp_path, "SOLVER.MAX_ITER", "1", "SOLVER.PRECISION", "bf16", "SOLVER.WARMUP_ITERS", "0")
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    assert trainer.nonfinite_total == 0 and trainer.storage.latest()["loss"][0] > 0
    after = trainer.model.state_dict()
    assert all(v.dtype == before[k].dtype for k, v in after.items())  # parameters stay fp32
    assert any(not torch.equal(before[k], after[k]) for k in before if after[k].is_floating_point())


@pytest.mark.gpu
def test_fp16_grad_scaler_step_on_cuda(tmp_path):
    trainer = _trainer(tmp_path, "SOLVER.MAX_ITER", "2", "SOLVER.PRECISION", "fp16", "DEVICE", "cuda")
    assert trainer.scaler is not None
    trainer.train()
    assert trainer.nonfinite_total == 0
