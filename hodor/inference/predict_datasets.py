"""Run a checkpoint over evaluation datasets and write the outputs the evaluators read
(``hodor-eval-vos`` mode 2 and ``hodor-train --eval-only``).

DAVIS-layout data gets ``<out>/results/<video>/<frame>.png`` (DAVIS palette) that the evaluator
then scores; YouTube-VOS gets ``<out>/Annotations/`` for the frames the server expects plus
``<out>/Annotations.zip``. ``<out>`` is ``--out`` when given, else
``OUTPUT_DIR/inference/<dataset name>``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import CfgNode
from ..data.catalog import load_dataset
from ..utils.device import resolve_device
from ..utils.logger import get_logger
from .model_loading import build_inference_model
from .run_dataset import run_dataset, run_youtube_vos
from .targets import resolve_test_dataset

logger = get_logger(__name__)


@dataclass
class EvalJob:
    """What was produced for one dataset."""

    dataset: str
    kind: str  # "davis" (results to score) or "youtube_vos" (submission zip)
    out_dir: str
    results_dir: str = ""
    davis_root: str = ""
    split: str = "val"
    zip_path: str = ""


def predict_for_eval(
    cfg: CfgNode,
    davis_root: str | None = None,
    split: str = "val",
    resolution: str = "480p",
    out: str | None = None,
) -> list[EvalJob]:
    """Build the model from the config (MODEL.WEIGHTS) and predict each evaluation dataset.

    With ``davis_root``: that DAVIS-layout folder (videos of ``ImageSets/2017/<split>.txt``).
    Otherwise every name in ``DATASETS.TEST``: ``davis_2017_<split>``, ``davis_folder:<path>`` or
    ``youtube_vos_2019_valid`` (roots under ``DATASETS.ROOT``).
    """
    if davis_root:
        targets = [("davis_folder:" + davis_root, "davis", davis_root, split)]
    else:
        if not cfg.DATASETS.TEST:
            raise ValueError("nothing to evaluate: pass --davis-root or set DATASETS.TEST (e.g. davis_2017_val)")
        targets = []
        for name in cfg.DATASETS.TEST:
            kind, droot, sp = resolve_test_dataset(name, cfg.DATASETS.ROOT, split)
            if kind == "unknown":
                raise ValueError(f"DATASETS.TEST: don't know how to evaluate {name!r} (DAVIS layouts and YouTube-VOS)")
            targets.append((name, kind, droot, sp))

    model = build_inference_model(cfg, resolve_device(cfg.DEVICE))
    jobs = []
    for name, kind, droot, sp in targets:
        base = out or os.path.join(cfg.OUTPUT_DIR, "inference", name.replace(":", "_").replace(os.sep, "_"))
        if kind == "davis":
            res = run_dataset(model, cfg, droot, os.path.join(base, "results"), split=sp, resolution=resolution)
            jobs.append(EvalJob(name, kind, base, results_dir=res, davis_root=droot, split=sp))
        else:
            records = load_dataset(name, cfg.DATASETS.ROOT)
            zp = run_youtube_vos(model, cfg, records, base)
            jobs.append(EvalJob(name, kind, base, zip_path=zp))
        logger.info("%s: predictions in %s", name, base)
    return jobs
