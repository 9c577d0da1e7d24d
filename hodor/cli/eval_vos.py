"""Command line of ``tools/eval_vos.py`` (console entry point ``hodor-eval-vos``).

Mode 1 (implemented): score an existing DAVIS results folder like the official toolkit:

    python tools/eval_vos.py --davis-root DAVIS --results RESULTS [--set val] [--out DIR] [--workers N]

Any registered dataset, with its benchmark's own metric (hodor/cli/eval_dataset.py)::

    python tools/eval_vos.py --dataset sav_val --results RESULTS            # score only
    python tools/eval_vos.py --dataset vost_val --weights CKPT               # run + score
    torchrun --nproc_per_node 4 tools/eval_vos.py --dataset lvos_v1_valid --weights CKPT ...

Every evaluation writes ``eval_record.json`` next to its tables.

Mode 2: ``--weights CKPT [--config-file CFG] [--davis-root DAVIS] [--out DIR] [KEY VALUE ...]``
runs the checkpoint (its stored config rebuilds the model; a config file or KEY VALUE pairs
override) over a DAVIS-layout dataset (or every ``DATASETS.TEST`` entry). ``--davis-root DAVIS``
here is an alias of ``--dataset davis_folder:DAVIS``: the same ``inference_on_dataset`` path
writes ``<out>/results/`` PNGs, the CSVs and eval_record.json (hodor/cli/eval_dataset.py).

The official tool prints a message and exits 0 on broken predictions; we exit with status 2 and
write no CSV, so a script cannot mistake an aborted run for a finished one.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..evaluation.davis_evaluator import DavisEvalError, csv_names, evaluate_davis, format_table, write_csvs

if TYPE_CHECKING:  # pragma: no cover  (mode 1 must not import torch: the config package is imported lazily)
    from ..config import CfgNode

EXIT_OK = 0
EXIT_EVAL_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eval_vos",
        description="DAVIS 2017 semi-supervised J&F, numerically identical to the official davis2017-evaluation.",
    )
    g = p.add_argument_group("evaluate existing predictions")
    g.add_argument("--davis-root", help="DAVIS root holding JPEGImages/, Annotations/, ImageSets/2017/")
    g.add_argument("--results", help="folder with <seq>/<frame>.png predictions (index PNGs)")
    g.add_argument("--set", default="val", help="ImageSets/2017/<set>.txt to evaluate (default: val)")
    g.add_argument("--resolution", default="480p", help="resolution folder (default: 480p)")
    g.add_argument(
        "--out", default=None, help="where the CSVs go (default: the results folder, like the official tool)"
    )
    g.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="threads (default: min(4, cpus))")
    g.add_argument(
        "--full-precision", action="store_true", help="also write *-full.csv copies with 12 decimals next to the CSVs"
    )
    d = p.add_argument_group("any registered dataset (the benchmark's own metric)")
    d.add_argument(
        "--dataset",
        default=None,
        help="registered dataset name (davis_2017_val, vost_val, sav_val, mose_v1_train, ... or "
        "davis_folder:PATH); with --results: score that folder; with --config-file: run the model, write "
        "the PNGs to <out>/results, then score",
    )
    d.add_argument("--datasets-root", default="", help="datasets root (default: $HODOR_DATASETS or ./datasets)")
    d.add_argument(
        "--seen-categories",
        default=None,
        metavar="FILE",
        help="YouTube-VOS: categories seen in training, one per line (default: the categories of the train "
        "videos not evaluated)",
    )
    m = p.add_argument_group("run a checkpoint first (mode 2)")
    m.add_argument("--weights", default=None, metavar="CKPT", help="checkpoint to run (same as MODEL.WEIGHTS CKPT)")
    m.add_argument("--config-file", default=None, help="config overriding the checkpoint's own (optional)")
    m.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides, e.g. MODEL.WEIGHTS ckpt.pth")
    return p


def _evaluate_and_report(args: argparse.Namespace, results_dir: str) -> int:
    """Score ``results_dir``, print the table, write the CSVs; the shared tail of both modes."""
    out_dir = args.out or results_dir
    try:
        res = evaluate_davis(args.davis_root, results_dir, args.set, args.resolution, workers=args.workers)
    except DavisEvalError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        print("No results were written.", file=sys.stderr)
        stale = [n for n in csv_names(args.set) if os.path.exists(os.path.join(out_dir, n))]
        if stale:
            print(f"Note: {', '.join(stale)} in {out_dir} are from an earlier run, not from this one.", file=sys.stderr)
        return EXIT_EVAL_ERROR
    for name in csv_names(args.set):
        if os.path.exists(os.path.join(out_dir, name)):
            print(f"overwriting {os.path.join(out_dir, name)}")
    paths = write_csvs(res, out_dir, precision=3, split=args.set)
    if args.full_precision:
        from .eval_dataset import write_full_precision_csvs

        paths += write_full_precision_csvs(res, out_dir, args.set)
    paths.append(_write_davis_record(args, res, out_dir, results_dir))
    print(format_table(res))
    for p in paths:
        print(f"wrote {p}")
    return EXIT_OK


def evaluate_checkpoint(cfg: CfgNode, args: argparse.Namespace) -> int:
    """Predict with ``cfg.MODEL.WEIGHTS`` and score: ``--davis-root`` is an alias of ``--dataset
    davis_folder:<root>`` (split ``--set``), otherwise every ``DATASETS.TEST`` entry (also
    ``hodor-train --eval-only``). One inference path for all: ``inference_on_dataset`` via
    :func:`hodor.cli.eval_dataset.evaluate_model`; YouTube-VOS valid gets its submission zip."""
    from .eval_dataset import evaluate_model

    if args.davis_root:
        names = [f"davis_folder:{args.davis_root}"]
    else:
        names = list(cfg.DATASETS.TEST)
        if not names:
            print(
                "ERROR: nothing to evaluate: pass --davis-root or set DATASETS.TEST (e.g. davis_2017_val)",
                file=sys.stderr,
            )
            return EXIT_EVAL_ERROR
    return evaluate_model(cfg, names, args)


def _write_davis_record(args: argparse.Namespace, res, out_dir: str, results_dir: str) -> str:
    """eval_record.json of a ``--davis-root`` scoring run (no inference settings: scoring only)."""
    from ..evaluation.record import build_eval_record, write_eval_record

    jpeg_root = os.path.join(args.davis_root, "JPEGImages", args.resolution)
    frames_present = sum(
        len([f for f in os.listdir(os.path.join(jpeg_root, s)) if f.lower().endswith(".jpg")]) for s in res.sequences
    )
    first_rows = {o.sequence: len(o.frames) for o in res.objects}
    record = build_eval_record(
        dataset=f"davis_folder:{os.path.abspath(args.davis_root)}",
        split=args.set,
        evaluator="davis",
        videos_scored=res.sequences,
        videos_present=res.sequences,
        frames_scored=sum(first_rows.values()),
        frames_present=frames_present,
        metrics=res.global_metrics(),
        extra={"results_dir": os.path.abspath(results_dir), "resolution_folder": args.resolution},
    )
    return write_eval_record(out_dir, record)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status (0 ok, 2 evaluation error or bad arguments)."""
    parser = build_parser()
    # No setup_logger() here: it imports torch (3 s), which mode 1 never needs; warnings still
    # reach stderr through logging's last-resort handler.
    args = parser.parse_args(argv)

    if args.dataset:
        if args.davis_root:
            parser.error("--dataset and --davis-root are exclusive")
        if not (args.config_file or args.weights or args.opts) and not args.results:
            parser.error(
                "--dataset needs --results DIR (score only) or --weights CKPT / --config-file CFG (run a model first)"
            )
        from .eval_dataset import run_dataset_evaluation

        return run_dataset_evaluation(args)

    if args.config_file or args.weights or args.opts:
        # ---- Mode 2: run a checkpoint, then evaluate --------------------------------------------
        if args.results:
            parser.error(f"--results scores existing predictions; it does not go with a model to run ({args.opts})")
        from ..checkpoint.loading import load_config_with_weights
        from ..utils.logger import setup_logger

        try:
            cfg = load_config_with_weights(args.config_file, args.opts, args.weights)
        except (ValueError, OSError) as e:  # config and checkpoint errors name the file
            print(f"ERROR: {e}", file=sys.stderr)
            return EXIT_EVAL_ERROR
        setup_logger()
        return evaluate_checkpoint(cfg, args)

    # ---- Mode 1: evaluate existing predictions ----------------------------------------------------
    if not args.davis_root:
        parser.error("--davis-root is required")
    if not args.results:
        parser.error("--results is required (or --weights / --config-file to run a model first)")
    return _evaluate_and_report(args, args.results)


if __name__ == "__main__":
    sys.exit(main())
