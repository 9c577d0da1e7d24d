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
    from ..data.io import DataError
    from ..inference.evaluate_dataset import (
        build_dataset_evaluator,
        inference_on_dataset,
        load_eval_records,
        record_for_run,
        split_of,
    )
    from ..inference.model_loading import build_inference_model
    from ..utils import comm
    from ..utils.device import resolve_device
    from ..utils.logger import setup_logger

    try:
        cfg = load_config_with_weights(args.config_file, list(args.opts), getattr(args, "weights", None))
        setup_logger()
        if comm.launched_by_torchrun():
            comm.init_distributed()
        split = split_of(args.dataset, args.set)
        records = load_eval_records(args.dataset, args.datasets_root or cfg.DATASETS.ROOT, split)
        evaluator = build_dataset_evaluator(args.dataset, records, workers=args.workers, **_evaluator_options(args))
        device = resolve_device(cfg.DEVICE)
        model = build_inference_model(cfg, device)
        base = args.out or os.path.join(
            cfg.OUTPUT_DIR, "inference", args.dataset.replace(":", "_").replace(os.sep, "_")
        )
        res_dir = os.path.join(base, "results")
        out = inference_on_dataset(model, cfg, records, evaluator, results_dir=res_dir)
    except (ValueError, RuntimeError, OSError, DataError) as e:  # config, data, checkpoint, evaluation errors
        print(f"ERROR: {e}", file=sys.stderr)
        return EXIT_EVAL_ERROR
    if not comm.is_main_process():
        return EXIT_OK
    if evaluator is None or out.results is None:
        print(f"{args.dataset}: no local ground truth; predictions written to {res_dir}")
        return EXIT_OK
    paths = out.results.write_tables(base, split=split)
    rec = record_for_run(args.dataset, split, evaluator, out, records, cfg, str(device), cfg.MODEL.WEIGHTS or None)
    paths.append(write_eval_record(base, rec))
    print(out.results.format_table())
    for p in paths:
        print(f"wrote {p}")
    return EXIT_OK


def run_dataset_evaluation(args: argparse.Namespace) -> int:
    """Entry of ``--dataset``: scoring only (``--results``) or inference + scoring (a model:
    ``--weights`` and/or ``--config-file`` / ``MODEL.WEIGHTS``)."""
    if args.config_file or getattr(args, "weights", None) or args.opts:
        return _infer_and_score(args)
    return _score_only(args)
