"""DAVIS J&F during training: the function the trainer's ``EvalHook`` calls every TEST.EVAL_PERIOD.

It runs the same streaming predictor and the same evaluator as ``tools/eval_vos.py`` on the
DAVIS-layout entries of ``DATASETS.TEST`` (optionally only the first TEST.MAX_VIDEOS videos),
so the numbers logged to TensorBoard and the ``model_best`` selection use the official protocol.
Only the main process predicts and scores; other ranks wait at a barrier and return nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from torch import nn

from ..evaluation import evaluate_davis, read_sequence_list
from ..utils import comm
from ..utils.logger import get_logger
from .run_dataset import run_dataset
from .targets import resolve_test_dataset

logger = get_logger(__name__)


def davis_targets(cfg) -> list[tuple[str, str, str]]:
    """(name, DAVIS root, split) for every DAVIS-layout dataset in DATASETS.TEST."""
    targets = []
    for name in cfg.DATASETS.TEST:
        kind, root, split = resolve_test_dataset(name, cfg.DATASETS.ROOT)
        if kind == "davis":
            targets.append((name, root, split))
        else:
            logger.warning("in-training evaluation skips %s (only DAVIS layouts have ground truth locally)", name)
    return targets


def make_davis_eval_fn(cfg, model: nn.Module) -> Callable[[], dict[str, float]] | None:
    """A no-argument callable returning the global J&F table; None when nothing can be evaluated."""
    targets = davis_targets(cfg)
    if not targets:
        return None

    def evaluate() -> dict[str, float]:
        out: dict[str, float] = {}
        if comm.is_main_process():
            for i, (name, root, split) in enumerate(targets):
                split_file = os.path.join(root, "ImageSets", "2017", f"{split}.txt")
                sequences = read_sequence_list(split_file) if os.path.isfile(split_file) else None
                if sequences is not None and cfg.TEST.MAX_VIDEOS > 0:
                    sequences = sequences[: cfg.TEST.MAX_VIDEOS]
                pred_dir = os.path.join(
                    cfg.OUTPUT_DIR, "eval_during_training", name.replace(":", "_").replace(os.sep, "_")
                )
                if os.path.isdir(pred_dir):
                    shutil.rmtree(pred_dir)
                run_dataset(model, cfg, root, pred_dir, sequences=sequences, split=split, progress=False)
                metrics = evaluate_davis(root, pred_dir, split=split, sequences=sequences).global_metrics()
                prefix = "" if i == 0 else f"{name}/"
                out.update({prefix + k: float(v) for k, v in metrics.items()})
                logger.info(
                    "%s: J&F %.4f (J %.4f, F %.4f)", name, metrics["J&F-Mean"], metrics["J-Mean"], metrics["F-Mean"]
                )
        comm.synchronize()
        return out

    return evaluate
