"""``tools/eval_vos.py --dataset NAME``: any registered dataset, scored with its benchmark's metric.

* ``--dataset NAME --results DIR``: score an existing results folder (in the benchmark's own
  results layout, e.g. ``<video>/<frame>.png`` index PNGs, or SA-V's ``<video>/<object>/<frame>.png``);
  under ``torchrun --nproc_per_node N`` the videos are scored by N processes (gloo).
* ``--dataset NAME --config-file CFG [KEY VALUE ...]``: run ``MODEL.WEIGHTS`` over the split
  (sharded over ranks under torchrun), write its PNGs to ``<out>/results``, then score.

Tables, the printed summary and ``eval_record.json`` go to ``--out`` (default: the results
folder, or ``OUTPUT_DIR/inference/<dataset>`` after inference).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..evaluation.base import EvaluationError
from ..evaluation.record import build_eval_record, write_eval_record

EXIT_OK = 0
EXIT_EVAL_ERROR = 2


def _evaluator_options(args: argparse.Namespace) -> dict:
    """Evaluator arguments from the command line (``--seen-categories FILE`` for YouTube-VOS)."""
    path = getattr(args, "seen_categories", None)
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            names = [ln.strip() for ln in f if ln.strip()]
    except OSError as e:
        raise EvaluationError(f"{path}: cannot read the seen-category list ({e})") from e
    if not names:
        raise EvaluationError(f"{path}: the seen-category list is empty")
    return {"seen_categories": names}


def _score_only(args: argparse.Namespace) -> int:
    from ..data.io import DataError
    from ..inference.evaluate_dataset import (
        build_dataset_evaluator,
        load_eval_records,
        score_results_dir,
        split_of,
    )
    from ..utils import comm

    if comm.launched_by_torchrun():
        comm.init_distributed(backend="gloo")  # scoring is CPU work: shard the videos over processes

    split = split_of(args.dataset, args.set)
    try:
        records = load_eval_records(args.dataset, args.datasets_root, split)
        evaluator = build_dataset_evaluator(args.dataset, records, workers=args.workers, **_evaluator_options(args))
        if evaluator is None:
            raise EvaluationError(f"dataset {args.dataset} has no local ground truth (no evaluator registered)")
        if not os.path.isdir(args.results):
            raise EvaluationError(f"results folder not found: {args.results}")
        results = score_results_dir(evaluator, [r.video_id for r in records], args.results)
    except (EvaluationError, DataError, KeyError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        print("No results were written.", file=sys.stderr)
        return EXIT_EVAL_ERROR
    if results is None:  # not rank 0
        return EXIT_OK
    out_dir = args.out or args.results
    paths = results.write_tables(out_dir, split=split)
    record = build_eval_record(
        dataset=args.dataset,
        split=split,
        evaluator=evaluator.name,
        videos_scored=[r.video_id for r in records],
        videos_present=[r.video_id for r in records],
        frames_scored=evaluator.frames_scored(),
        frames_present=sum(len(r) for r in records),
        metrics=results.global_metrics(),
        inference=None,
        checkpoint=None,
        extra={"results_dir": os.path.abspath(args.results)},
    )
    paths.append(write_eval_record(out_dir, record))
    print(results.format_table())
    for p in paths:
        print(f"wrote {p}")
    return EXIT_OK


def _infer_and_score(args: argparse.Namespace) -> int:
    from ..checkpoint.loading import load_config_with_weights
    from ..utils.logger import setup_logger

    try:
        cfg = load_config_with_weights(args.config_file, list(args.opts), getattr(args, "weights", None))
    except (ValueError, RuntimeError, OSError) as e:  # config and checkpoint errors name the file
        print(f"ERROR: {e}", file=sys.stderr)
        return EXIT_EVAL_ERROR
    setup_logger()
    return evaluate_model(cfg, [args.dataset], args)


def submission_frames(records) -> dict[str, list[str]]:
    """``{video: [frame stem, ...]}`` the YouTube-VOS server expects (each record's ``eval_frames``,
    every frame when unset)."""
    return {
        r.video_id: [r.frame_names[i] for i in (r.eval_frames if r.eval_frames is not None else range(len(r)))]
        for r in records
    }


def evaluate_model(cfg, names: Sequence[str], args: argparse.Namespace) -> int:
    """Run ``cfg.MODEL.WEIGHTS`` over each dataset in ``names`` through ``inference_on_dataset``
    (sharded over ranks under torchrun) and score it with the dataset's evaluator; returns the exit
    status (the worst over the datasets).

    Outputs go to ``--out`` or ``OUTPUT_DIR/inference/<dataset>``: the PNGs under ``results/``, the
    tables, ``eval_record.json``. A dataset without local ground truth gets its predictions only;
    YouTube-VOS (valid) gets them as ``Annotations/`` plus the server's ``Annotations.zip``.
    """
    from ..inference.model_loading import build_inference_model
    from ..utils import comm
    from ..utils.device import resolve_device

    try:
        comm.init_distributed()  # no-op unless launched by torchrun
        device = resolve_device(cfg.DEVICE)
        model = build_inference_model(cfg, device)
    except (ValueError, RuntimeError, OSError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return EXIT_EVAL_ERROR
    status = EXIT_OK
    for name in names:
        status = max(status, _evaluate_one(model, cfg, str(device), name, args))
    return status


def _evaluate_one(model, cfg, device: str, name: str, args: argparse.Namespace) -> int:
    from ..data.io import DataError
    from ..evaluation.davis_evaluator import DavisResults
    from ..evaluation.youtube_vos import ANNOTATIONS, zip_submission
    from ..inference.evaluate_dataset import (
        build_dataset_evaluator,
        inference_on_dataset,
        load_eval_records,
        record_for_run,
        split_of,
    )
    from ..utils import comm

    split = split_of(name, getattr(args, "set", "val"))
    base = args.out or os.path.join(cfg.OUTPUT_DIR, "inference", name.replace(":", "_").replace(os.sep, "_"))
    submission = name.startswith("youtube_vos")
    try:
        root = getattr(args, "datasets_root", "") or cfg.DATASETS.ROOT
        records = load_eval_records(name, root, split, getattr(args, "resolution", "480p"))
        evaluator = build_dataset_evaluator(
            name, records, workers=getattr(args, "workers", 1), **_evaluator_options(args)
        )
        submission = submission and evaluator is None
        res_dir = os.path.join(base, ANNOTATIONS if submission else "results")
        out = inference_on_dataset(model, cfg, records, evaluator, results_dir=res_dir)
        if submission and comm.is_main_process():
            zp = zip_submission(res_dir, submission_frames(records), os.path.join(base, "Annotations.zip"))
    except KeyError as e:  # an unregistered dataset name
        print(f"ERROR: {e.args[0] if e.args else e}", file=sys.stderr)
        return EXIT_EVAL_ERROR
    except (ValueError, RuntimeError, OSError, DataError) as e:  # config, data, checkpoint, evaluation errors
        print(f"ERROR: {name}: {e}", file=sys.stderr)
        return EXIT_EVAL_ERROR
    if not comm.is_main_process():
        return EXIT_OK
    if submission:
        print(f"{name}: wrote submission {zp}")
        return EXIT_OK
    if evaluator is None or out.results is None:
        print(f"{name}: no local ground truth; predictions written to {res_dir}")
        return EXIT_OK
    paths = out.results.write_tables(base, split=split)
    if getattr(args, "full_precision", False) and isinstance(out.results, DavisResults):
        paths += write_full_precision_csvs(out.results, base, split)
    rec = record_for_run(name, split, evaluator, out, records, cfg, device, cfg.MODEL.WEIGHTS or None)
    paths.append(write_eval_record(base, rec))
    print(out.results.format_table())
    for p in paths:
        print(f"wrote {p}")
    return EXIT_OK


def write_full_precision_csvs(results, out_dir: str, split: str) -> list[str]:
    """``*-full.csv`` copies of the DAVIS CSVs with 12 decimals (``--full-precision``)."""
    from ..evaluation.davis_evaluator import write_csvs

    tmp = os.path.join(out_dir, ".full_precision_tmp")
    paths = []
    for p in write_csvs(results, tmp, precision=12, split=split):
        dst = os.path.join(out_dir, os.path.basename(p)[: -len(".csv")] + "-full.csv")
        os.replace(p, dst)
        paths.append(dst)
    os.rmdir(tmp)
    return paths


def run_dataset_evaluation(args: argparse.Namespace) -> int:
    """Entry of ``--dataset``: scoring only (``--results``) or inference + scoring (a model:
    ``--weights`` and/or ``--config-file`` / ``MODEL.WEIGHTS``)."""
    if args.config_file or getattr(args, "weights", None) or args.opts:
        return _infer_and_score(args)
    return _score_only(args)
