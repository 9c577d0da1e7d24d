"""Command line of ``tools/eval_vos.py`` (console entry point ``hodor-eval-vos``).

Mode 1 (implemented): score an existing DAVIS results folder like the official toolkit:

    python tools/eval_vos.py --davis-root DAVIS --results RESULTS [--set val] [--out DIR] [--workers N]

Mode 2 (to be added by the inference owner): ``--config-file CFG [KEY VALUE ...]`` with
``MODEL.WEIGHTS`` runs the predictor over a DAVIS-layout dataset, writes the PNGs, then scores
them through the same ``_evaluate_and_report`` path.

The official tool prints a message and exits 0 on broken predictions; we exit with status 2 and
write no CSV, so a script cannot mistake an aborted run for a finished one.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .davis_evaluator import DavisEvalError, csv_names, evaluate_davis, format_table, write_csvs

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
    m = p.add_argument_group("run a checkpoint first (not available yet)")
    m.add_argument("--config-file", default=None, help="config of the model to run before evaluating")
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
        tmp = os.path.join(out_dir, ".full_precision_tmp")
        for p in write_csvs(res, tmp, precision=12, split=args.set):
            os.replace(p, os.path.join(out_dir, os.path.basename(p)[: -len(".csv")] + "-full.csv"))
        os.rmdir(tmp)
    print(format_table(res))
    for p in paths:
        print(f"wrote {p}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status (0 ok, 2 evaluation error or bad arguments)."""
    parser = build_parser()
    # No setup_logger() here: it imports torch (3 s), which mode 1 never needs; warnings still
    # reach stderr through logging's last-resort handler.
    args = parser.parse_args(argv)
    if not args.davis_root:
        parser.error("--davis-root is required")

    if args.config_file:
        # ---- Mode 2: run a checkpoint, then evaluate ------------------------------------------
        # To be implemented with hodor.inference: load_config(args.config_file, args.opts), build
        # the predictor from MODEL.WEIGHTS, write <out>/results/<seq>/<frame>.png for every
        # sequence of ImageSets/2017/<set>.txt, then `return _evaluate_and_report(args, results)`.
        print("ERROR: --config-file mode (run a checkpoint, then evaluate) is not implemented yet", file=sys.stderr)
        return EXIT_EVAL_ERROR

    # ---- Mode 1: evaluate existing predictions ----------------------------------------------------
    if args.opts:
        parser.error(f"unexpected arguments {args.opts}: KEY VALUE overrides need --config-file")
    if not args.results:
        parser.error("--results is required (or --config-file to run a model first)")
    return _evaluate_and_report(args, args.results)


if __name__ == "__main__":
    sys.exit(main())
