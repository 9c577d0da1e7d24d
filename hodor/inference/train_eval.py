"""VOS evaluation during training: the function the trainer's ``EvalHook`` calls every TEST.EVAL_PERIOD.

It runs the same streaming predictor and the same evaluators as ``tools/eval_vos.py`` through
:func:`~hodor.inference.evaluate_dataset.inference_on_dataset`, on every ``DATASETS.TEST`` entry
whose dataset spec names an evaluator (optionally only the first TEST.MAX_VIDEOS videos), so the
numbers logged to TensorBoard and the ``model_best`` selection use the official protocol.
Predictions are scored in memory (no PNGs); every rank predicts its share of the videos and rank 0
returns the tables (other ranks return an empty dict). ``eval_record.json`` of the latest
evaluation is written to ``OUTPUT_DIR/eval_during_training/<dataset>/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from torch import nn

from ..data.catalog import get_dataset_spec
from ..utils import comm
from ..utils.logger import get_logger
from .evaluate_dataset import (
    build_dataset_evaluator,
    inference_on_dataset,
    load_eval_records,
    record_for_run,
    split_of,
    write_record,
)
from .targets import resolve_test_dataset

logger = get_logger(__name__)


def davis_targets(cfg) -> list[tuple[str, str, str]]:
    """(name, DAVIS root, split) for every DAVIS-layout dataset in DATASETS.TEST."""
    targets = []
    for name in cfg.DATASETS.TEST:
        kind, root, split = resolve_test_dataset(name, cfg.DATASETS.ROOT)
        if kind == "davis":
            targets.append((name, root, split))
    return targets


def eval_targets(cfg) -> list[str]:
    """Names in DATASETS.TEST that have local ground truth (their spec names an evaluator)."""
    names = []
    for name in cfg.DATASETS.TEST:
        try:
            spec = get_dataset_spec(name)
        except KeyError:
            spec = None
        if spec is not None and spec.evaluator:
            names.append(name)
        else:
            logger.warning("in-training evaluation skips %s (no local ground truth / evaluator)", name)
    return names


def make_davis_eval_fn(cfg, model: nn.Module) -> Callable[[], dict[str, float]] | None:
    """A no-argument callable returning the global tables of every evaluable DATASETS.TEST entry
    (the first dataset's keys unprefixed, e.g. ``J&F-Mean``; later ones as ``<name>/<key>``);
    None when nothing can be evaluated. (The name predates the other benchmarks.)"""
    targets = eval_targets(cfg)
    if not targets:
        return None

    def evaluate() -> dict[str, float]:
        out: dict[str, float] = {}
        for i, name in enumerate(targets):
            split = split_of(name)
            present = load_eval_records(name, cfg.DATASETS.ROOT, split)
            records = present[: cfg.TEST.MAX_VIDEOS] if cfg.TEST.MAX_VIDEOS > 0 else present
            evaluator = build_dataset_evaluator(name, records)
            res = inference_on_dataset(model, cfg, records, evaluator, results_dir=None, progress=False)
            if res.results is None:  # not rank 0
                continue
            metrics = res.results.global_metrics()
            prefix = "" if i == 0 else f"{name}/"
            out.update({prefix + k: float(v) for k, v in metrics.items()})
            rec_dir = os.path.join(cfg.OUTPUT_DIR, "eval_during_training", name.replace(":", "_").replace(os.sep, "_"))
            device = str(next(iter(model.parameters())).device) if any(True for _ in model.parameters()) else "cpu"
            write_record(rec_dir, record_for_run(name, split, evaluator, res, present, cfg, device, None))
            summary = ", ".join(f"{k} {v:.4f}" for k, v in list(metrics.items())[:3])
            logger.info("%s: %s", name, summary)
        comm.synchronize()
        return out

    return evaluate
