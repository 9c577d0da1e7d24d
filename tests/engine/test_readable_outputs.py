"""What a user reads from training: resume/finish messages, the median in the log line, labelled TB images."""

import io
import logging

import numpy as np
from PIL import Image

from hodor.engine.setup import default_setup
from hodor.training.build import build_trainer
from tests.helpers import ClipStream, tiny_cfg


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _train(out, max_iter, resume=False, *opts, stream=None):
    cfg = tiny_cfg(out, "SOLVER.MAX_ITER", str(max_iter), "SOLVER.LOG_PERIOD", "1", *opts)
    default_setup(cfg)  # (re)installs the hodor log handlers: listen after it
    cap = _Capture()
    logging.getLogger("hodor").addHandler(cap)
    try:
        stream = stream or ClipStream(1, size=32, seed=5)
        trainer = build_trainer(cfg, resume=resume, data=stream, progress_bar=False)
        trainer.train()
    finally:
        logging.getLogger("hodor").removeHandler(cap)
    return trainer, cap.lines


def test_resume_messages_and_windowed_median(tmp_path):
    _, lines = _train(tmp_path / "r", 1)
    assert "Starting training: 1 iterations" in lines
    assert any("(loss/iou/time: median of last 20 iters)" in x for x in lines)
    _, lines = _train(tmp_path / "r", 2, True)
    assert "Resuming training after iteration 1, up to 2" in lines
    _, lines = _train(tmp_path / "r", 2, True)  # resuming a finished run: nothing to do, said so
    assert any(x.startswith("Nothing to train: 2 of SOLVER.MAX_ITER=2 iterations are already done") for x in lines)
    assert not any("from iteration 2 to 2" in x for x in lines)


def test_sparse_video_tensorboard_image_shows_every_frame(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    stream = ClipStream(1, size=32, seed=3, sparse=True)
    trainer, _ = _train(
        tmp_path / "s", 1, False, "TRAINING.MODE", "sparse_video", "SOLVER.IMAGE_LOG_PERIOD", "1", stream=stream
    )
    group = next(g for g in trainer.last_output.groups if g.predictions)
    preds = group.predictions[:8]
    targets = [p.step.tgt for p in preds]
    assert 0 in targets and {1, 2} <= set(targets)  # not only the reference frame
    assert [p.step.tgt for p in group.predictions if p.supervised] == [0] * sum(p.supervised for p in group.predictions)
    tb = EventAccumulator(str(tmp_path / "s" / "tb"), size_guidance={"images": 0})
    tb.Reload()
    ev = tb.Images("train/gt_vs_pred")[-1]
    img = np.array(Image.open(io.BytesIO(ev.encoded_image_string)).convert("RGB"))
    assert img.shape[:2] == (2 * 32, len(preds) * 32)  # one labelled column per decoder call
    for n in range(len(preds)):  # every cell starts with its label box (black), on both rows
        for row in (0, 32):
            assert tuple(img[row + 1, n * 32 + 1]) == (0, 0, 0)
    # columns of different frames show different pixels (the old image repeated frame 0)
    cols = [img[32:, n * 32 + 16 :][:, :16] for n in range(len(preds))]
    i1, i0 = targets.index(1), targets.index(0)
    assert not np.array_equal(cols[i1], cols[i0])


def test_bar_on_a_terminal_never_reaches_log_txt(tmp_path, monkeypatch):
    """With a (fake) terminal the bar is drawn there; log.txt gets only log records, and the console
    handler is restored after training."""
    import sys

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    monkeypatch.delenv("HODOR_PROGRESS", raising=False)
    monkeypatch.setattr(sys, "stderr", tty)
    cfg = tiny_cfg(tmp_path / "t", "SOLVER.MAX_ITER", "2", "SOLVER.LOG_PERIOD", "1")
    default_setup(cfg)
    before = list(logging.getLogger("hodor").handlers)
    stream = ClipStream(1, size=32, seed=5)
    build_trainer(cfg, data=stream, progress_bar=True).train()
    assert "train:" in tty.getvalue() and "2/2" in tty.getvalue()  # the bar was drawn on the terminal
    log = (tmp_path / "t" / "log.txt").read_text()
    assert "iter: 2/2" in log and "\r" not in log and "%|" not in log
    assert logging.getLogger("hodor").handlers == before
