"""Hooks run by the trainer around every optimiser step, in registration order.

Order used by ``hodor.training.build_trainer``: IterationTimer, EvalHook (if TEST.EVAL_PERIOD > 0),
ImageWriter, MetricsWriter, PeriodicCheckpointer (after MetricsWriter: a checkpoint never runs
ahead of its metrics row), ProgressBar. ``after_step`` sees
``trainer.iter`` = index of the step just finished (so ``trainer.iter + 1`` steps are done).
"""

from __future__ import annotations

import json
import math
import os
import resource
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..modeling.masks import merge_bg_logits
from ..utils import comm
from ..utils.logger import get_logger
from ..utils.palette import davis_palette
from ..utils.run_dir import truncate_metrics
from .trainer import HookBase

logger = get_logger(__name__)


def _due(it_done: int, period: int, max_iter: int) -> bool:
    return period > 0 and (it_done % period == 0 or it_done == max_iter)


class IterationTimer(HookBase):
    """Step time and throughput (samples per second over the global batch)."""

    def __init__(self, samples_per_step: int) -> None:
        self.samples_per_step = samples_per_step
        self._t0 = 0.0

    def before_step(self) -> None:
        self._t0 = time.perf_counter()

    def after_step(self) -> None:
        dt = time.perf_counter() - self._t0
        s = self.trainer.storage
        s.put_scalar("time", dt)
        s.put_scalar("throughput", self.samples_per_step / max(dt, 1e-9))
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            s.put_scalar("memory_gb", torch.cuda.max_memory_allocated() / 1024**3)
        else:  # peak resident set size of this process (Linux reports KiB)
            s.put_scalar("memory_gb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2)


class PeriodicCheckpointer(HookBase):
    """``model_XXXXXXX.pth`` every ``period`` steps (newest K kept) and ``model_final.pth`` at the end."""

    def __init__(self, period: int) -> None:
        self.period = period

    def after_step(self) -> None:
        done = self.trainer.iter + 1
        if done == self.trainer.max_iter:
            self.trainer.save_checkpoint("model_final", periodic=False)
        elif _due(done, self.period, self.trainer.max_iter):
            self.trainer.save_checkpoint(f"model_{done:07d}")


class EvalHook(HookBase):
    """Run ``eval_fn()`` every ``period`` steps; log its dict and keep ``model_best`` by ``metric``.

    ``eval_fn`` returns a flat ``{name: number}`` dict (e.g. the DAVIS evaluator's "J&F-Mean").
    It is called on every rank (evaluators may shard); results are logged from the main process.
    """

    def __init__(
        self, period: int, eval_fn: Callable[[], dict[str, float]], metric: str = "J&F-Mean", mode: str = "max"
    ) -> None:
        self.period, self.eval_fn, self.metric, self.mode = period, eval_fn, metric, mode
        self.best: float | None = None
        self.best_iter = -1

    def after_step(self) -> None:
        done = self.trainer.iter + 1
        if _due(done, self.period, self.trainer.max_iter):
            self.run(done)

    def run(self, done: int) -> dict[str, float]:
        model = self.trainer.model
        was_training = model.training
        model.eval()
        try:
            results = self.eval_fn() or {}
        finally:
            model.train(was_training)
        for k, v in results.items():
            if isinstance(v, (int, float)):
                self.trainer.storage.put_scalar(f"eval/{k}", v)
        value = results.get(self.metric)
        if value is not None and math.isfinite(float(value)):
            better = self.best is None or (value > self.best if self.mode == "max" else value < self.best)
            if better:
                self.best, self.best_iter = float(value), done
                logger.info("New best %s = %.4f at iteration %d", self.metric, value, done)
                # not the resume point: last_checkpoint keeps naming the newest state
                self.trainer.save_checkpoint("model_best", periodic=False, update_pointer=False)
        return results

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_iter": self.best_iter}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_iter = state.get("best"), state.get("best_iter", -1)


class MetricsWriter(HookBase):
    """Every ``period`` steps: one JSON line in metrics.json, TensorBoard scalars, a log line.

    ``constants``: facts of the whole run (e.g. the annotation cost, ``labels/*``) repeated in
    every row, so that any row (and a resumed, truncated file) says what the run trained on.
    """

    def __init__(self, output_dir: str, period: int, constants: Mapping[str, float] | None = None) -> None:
        self.output_dir, self.period = output_dir, period
        self.constants = dict(constants or {})
        self._json = None

    def before_train(self) -> None:
        if comm.is_main_process():
            path = os.path.join(self.output_dir, "metrics.json")
            # rows after the resumed iteration are recomputed now; a fresh start keeps none
            truncate_metrics(path, self.trainer.start_iter)
            self._json = open(path, "a", encoding="utf-8")

    def after_step(self) -> None:
        done = self.trainer.iter + 1
        if _due(done, self.period, self.trainer.max_iter):
            self.write(done)

    def write(self, done: int) -> None:
        if not comm.is_main_process():
            return
        latest = {k: v for k, (v, it) in self.trainer.storage.latest().items() if it == self.trainer.iter}
        record = {"iteration": done, **latest, **self.constants}
        if self._json is not None:
            self._json.write(json.dumps(record) + "\n")
            self._json.flush()
        tb = self.trainer.tb_writer
        if tb is not None:
            for k, v in latest.items():
                tb.add_scalar(k if "/" in k else f"train/{k}", v, done)
        s = self.trainer.storage
        eta = s.smoothed("time") * (self.trainer.max_iter - done)
        losses = "  ".join(f"{k}: {s.smoothed(k):.4f}" for k in sorted(latest) if k.startswith("loss"))
        # losses, iou and time are medians over the last `window` iterations (steadier than one step);
        # metrics.json and TensorBoard hold the raw value of the logged iteration.
        logger.info(
            "iter: %d/%d  %s  iou: %.3f  lr: %.3g  time: %.3fs  eta: %s  (loss/iou/time: median of last %d iters)",
            done,
            self.trainer.max_iter,
            losses,
            s.smoothed("iou"),
            latest.get("lr", float("nan")),
            s.smoothed("time"),
            _fmt_seconds(eta),
            s.window,
        )

    def after_train(self) -> None:
        if self._json is not None:
            self._json.close()
            self._json = None
        if self.trainer.tb_writer is not None:
            self.trainer.tb_writer.flush()


def _fmt_seconds(sec: float) -> str:
    if not math.isfinite(sec):
        return "?"
    sec = int(sec)
    return f"{sec // 3600}:{sec % 3600 // 60:02d}:{sec % 60:02d}"


def render_predictions(
    frames: torch.Tensor,
    targets: torch.Tensor,
    pred_logits: torch.Tensor,
    target_frames: list[int],
    pixel_mean: list[float],
    pixel_std: list[float],
    alpha: float = 0.5,
    column_labels: list[str] | None = None,
) -> np.ndarray:
    """A [3, 2H, N*W] uint8 image: top row ground truth, bottom row prediction, one column per prediction.

    Shapes: frames [T, 3, H, W] (normalised), targets [N, H, W] (-1 = no ground truth),
    pred_logits [1+I, N, H, W]. Every cell is labelled ("GT frame t" / "no GT frame t" and
    "pred <column label>", the label defaulting to "frame t").
    """
    from ..utils.draw import put_label

    mean = torch.tensor(pixel_mean).view(3, 1, 1)
    std = torch.tensor(pixel_std).view(3, 1, 1)
    palette = davis_palette()  # the colours of the dataset masks and of every output we write
    pred = pred_logits.argmax(0).cpu().numpy()  # [N, H, W]
    tgt = targets.clamp(min=0).cpu().numpy()
    cols = []
    for n, t in enumerate(target_frames):
        img = (frames[t].float().cpu() * std + mean).clamp(0, 255).permute(1, 2, 0).numpy()
        rows = []
        has_gt = bool((targets[n] >= 0).any())
        titles = (
            f"GT frame {t}" if has_gt else f"no GT frame {t}",
            f"pred {column_labels[n]}" if column_labels else f"pred frame {t}",
        )
        for lab, title in zip((tgt[n], pred[n]), titles):
            col = palette[lab % len(palette)].astype(np.float32)
            blend = np.ascontiguousarray(
                np.where(lab[..., None] > 0, (1 - alpha) * img + alpha * col, img).astype(np.uint8)
            )
            rows.append(put_label(blend, title))
        cols.append(np.concatenate(rows, axis=0))
    return np.concatenate(cols, axis=1).astype(np.uint8).transpose(2, 0, 1)


class ImageWriter(HookBase):
    """Every ``period`` steps: ground truth vs predicted masks of the first sample to TensorBoard.

    One column per decoder call of the sample's cycles, labelled with the step (``[0]->1``) and
    "(loss)" where it is supervised; the top row is the ground truth ("no GT" where the regime has
    none, e.g. unlabelled frames of sparse video)."""

    def __init__(self, period: int, pixel_mean: list[float], pixel_std: list[float], max_columns: int = 8) -> None:
        self.period, self.pixel_mean, self.pixel_std = period, pixel_mean, pixel_std
        self.max_columns = max_columns

    def after_step(self) -> None:
        done = self.trainer.iter + 1
        tb = self.trainer.tb_writer
        out, batch = self.trainer.last_output, self.trainer.last_batch
        if tb is None or out is None or batch is None or not _due(done, self.period, self.trainer.max_iter):
            return
        group = next((g for g in out.groups if g.predictions), None)
        if group is None:
            return
        sample = int(group.sample_index[0])
        frames = batch.frames[sample]
        h, w = frames.shape[-2:]
        # every decoder call of the first sample (up to 8), not only the supervised ones: in the
        # sparse-video regime those all return to frame 0, which showed one frame N times.
        preds = group.predictions[: self.max_columns]
        num_bg = preds[0].logits.shape[1] - 1 - group.num_objects
        with torch.no_grad():
            logits = torch.stack(
                [
                    F.interpolate(
                        merge_bg_logits(p.logits[:1].detach().float(), num_bg),
                        size=(h, w),
                        mode="bilinear",
                        align_corners=False,
                    )[0]
                    for p in preds
                ],
                dim=1,
            )  # [1+I, N, H, W]
        targets = torch.stack([p.target[0].detach() for p in preds])  # [N, H, W]
        labels = [f"{p.step}" + (" (loss)" if p.supervised else "") for p in preds]
        img = render_predictions(
            frames, targets, logits, [p.step.tgt for p in preds], self.pixel_mean, self.pixel_std, column_labels=labels
        )
        tb.add_image("train/gt_vs_pred", img, done)


class ProgressBar(HookBase):
    """A tqdm bar with ETA on the main process, only on a terminal (see ``hodor.utils.progress``)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bar = None
        self._redirect = None

    def before_train(self) -> None:
        from ..utils.progress import progress_enabled

        if progress_enabled(self.enabled) and comm.is_main_process():
            import logging

            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            # console log lines go through tqdm.write (printed above the bar, not through it);
            # the log.txt file handler is left as it is
            self._redirect = logging_redirect_tqdm(loggers=[logging.getLogger("hodor")])
            self._redirect.__enter__()
            self._bar = tqdm(
                total=self.trainer.max_iter, initial=self.trainer.start_iter, desc="train", dynamic_ncols=True
            )

    def after_step(self) -> None:
        if self._bar is not None:
            s = self.trainer.storage
            self._bar.set_postfix(
                loss=f"{s.smoothed('loss'):.4f}", lr=f"{s.latest().get('lr', (float('nan'), 0))[0]:.2e}"
            )
            self._bar.update(1)

    def after_train(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._redirect is not None:
            self._redirect.__exit__(None, None, None)
            self._redirect = None
