"""The training loop on the real tiny model: exact resume, non-finite guard, input errors."""

import json
import os

import pytest
import torch

from hodor.checkpoint.checkpointer import CheckpointError
from hodor.engine.hooks import HookBase
from hodor.engine.setup import default_setup
from hodor.engine.trainer import NonFiniteLossError
from hodor.training.build import build_trainer
from tests.helpers import ClipStream, tiny_cfg


class LossRecorder(HookBase):
    def __init__(self):
        self.losses = {}

    def after_step(self):
        self.losses[self.trainer.iter] = self.trainer.storage.latest()["loss"][0]


def _run(out, max_iter, resume=False, *opts, stream=None):
    cfg = tiny_cfg(out, "SOLVER.MAX_ITER", str(max_iter), *opts)
    default_setup(cfg)
    stream = stream or ClipStream(1, size=32, seed=5)
    trainer = build_trainer(cfg, resume=resume, data=stream, progress_bar=False)
    rec = LossRecorder()
    trainer.register_hooks([rec])
    trainer.train()
    return trainer, rec.losses


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path):
    # N = 2 steps in one run (global batch 2 = 2 accumulated forwards of 1 sample, dropout on)
    full, losses_full = _run(tmp_path / "full", 2, False, "SOLVER.CHECKPOINT_PERIOD", "1")
    assert sorted(losses_full) == [0, 1]
    # N/2 steps, then a fresh trainer (new model, optimiser, data stream, reseeded RNGs) resumes
    _run(tmp_path / "split", 1)
    assert open(tmp_path / "split" / "last_checkpoint").read().strip() == "model_final.pth"
    resumed, losses_resumed = _run(tmp_path / "split", 2, True)
    assert sorted(losses_resumed) == [1]
    assert losses_resumed[1] == losses_full[1]  # bit-identical on CPU
    for (n, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), n
    # outputs of a run: metrics as JSON lines, TensorBoard events, resolved config, checkpoints
    lines = [json.loads(x) for x in open(tmp_path / "full" / "metrics.json")]
    assert [x["iteration"] for x in lines] == [1, 2] and {"loss", "loss_ce", "loss_dice", "lr", "iou"} <= set(lines[0])
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = EventAccumulator(str(tmp_path / "full" / "tb"))
    tb.Reload()
    assert {"train/loss_ce", "train/loss_dice", "train/lr", "train/iou", "train/throughput", "train/memory_gb"} <= set(
        tb.Tags()["scalars"]
    )
    assert tb.Tags()["images"] == ["train/gt_vs_pred"]  # ground truth vs prediction over the clip
    files = sorted(os.listdir(tmp_path / "full"))
    assert {"config.yaml", "env.json", "log.txt", "model_final.pth", "model_0000001.pth"} <= set(files)


def test_nonfinite_steps_are_skipped_then_abort(tmp_path):
    stream = ClipStream(1, size=32, seed=2)
    stream.poison = {0}  # the first step's input is NaN
    trainer, losses = _run(tmp_path / "one", 2, False, "SOLVER.IMS_PER_BATCH", "1", stream=stream)
    assert trainer.nonfinite_total == 1 and not torch.isfinite(torch.tensor(losses[0])) and losses[1] == losses[1]
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())

    stream = ClipStream(1, size=32, seed=2)
    stream.poison = set(range(100))
    cfg = tiny_cfg(
        tmp_path / "abort", "SOLVER.MAX_NONFINITE_STEPS", "2", "SOLVER.MAX_ITER", "10", "SOLVER.IMS_PER_BATCH", "1"
    )
    default_setup(cfg)
    trainer = build_trainer(cfg, data=stream, progress_bar=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(NonFiniteLossError, match="2 consecutive non-finite losses"):
        trainer.train()
    assert open(tmp_path / "abort" / "last_checkpoint").read().strip() == "model_0000002.pth"
    after = trainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # skipped steps change nothing


def test_resume_refuses_other_architecture_or_changed_config(tmp_path):
    _run(tmp_path, 1)
    stream = ClipStream(1, size=32)
    cfg = tiny_cfg(tmp_path, "SOLVER.MAX_ITER", "2", "MODEL.ENCODER.FFN_DIM", "32")
    with pytest.raises(CheckpointError, match="different architecture"):
        build_trainer(cfg, resume=True, data=stream, progress_bar=False)
    cfg = tiny_cfg(tmp_path, "SOLVER.MAX_ITER", "2", "SOLVER.BASE_LR", "0.001")
    with pytest.raises(CheckpointError, match=r"SOLVER.BASE_LR: 0.0001 -> 0.001"):
        build_trainer(cfg, resume=True, data=stream, progress_bar=False)
    # keys that may change on resume (run length, output cadence) are accepted
    cfg = tiny_cfg(tmp_path, "SOLVER.MAX_ITER", "2", "SOLVER.LOG_PERIOD", "5")
    trainer = build_trainer(cfg, resume=True, data=stream, progress_bar=False)
    assert trainer.start_iter == 1


def test_unwritable_output_dir_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PermissionError, match="OUTPUT_DIR"):
        default_setup(tiny_cfg(blocker / "out"))


def test_fine_tuning_loads_weights_only(tmp_path):
    from hodor.checkpoint.checkpointer import Checkpointer
    from hodor.modeling import build_model

    torch.manual_seed(123)
    source = build_model(tiny_cfg(tmp_path / "src"))
    Checkpointer(source, str(tmp_path / "src")).save("model_final", 7, periodic=False)
    stream = ClipStream(1, size=32)
    cfg = tiny_cfg(tmp_path / "ft", "MODEL.WEIGHTS", str(tmp_path / "src" / "model_final.pth"))
    trainer = build_trainer(cfg, data=stream, progress_bar=False)
    assert trainer.start_iter == 0  # weights only: no iteration, optimiser or schedule state
    for k, v in source.state_dict().items():
        assert torch.equal(v, trainer.model.state_dict()[k]), k
    bad = tiny_cfg(tmp_path / "ft2", "MODEL.WEIGHTS", str(tmp_path / "missing.pth"))
    with pytest.raises(Exception, match="missing.pth"):
        build_trainer(bad, data=stream, progress_bar=False)


def test_forward_index_under_accumulation_is_the_originals(tmp_path):
    """The original passes ``elapsed_iterations + sub_iteration`` to every forward (its
    hodor/training/main.py Trainer.forward); with 4 forwards per step: [0,1,2,3], [1,2,3,4]."""
    cfg = tiny_cfg(tmp_path, "SOLVER.MAX_ITER", "2", "SOLVER.IMS_PER_BATCH", "4", "SOLVER.MAX_SAMPLES_PER_GPU", "1")
    default_setup(cfg)
    stream = ClipStream(1, size=32, seed=5)
    trainer = build_trainer(cfg, data=stream, progress_bar=False)
    assert trainer.accum_steps == 4
    seen = []
    forward = trainer.module.forward

    def recording_forward(batch, iteration, record=False):
        seen.append(iteration)
        return forward(batch, iteration, record=record)

    trainer.module.forward = recording_forward
    trainer.train()
    assert seen == [0, 1, 2, 3, 1, 2, 3, 4]
