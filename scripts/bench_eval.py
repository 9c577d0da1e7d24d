#!/usr/bin/env python
"""Time our DAVIS evaluator on the developer fixtures and compare with the official toolkit.

    python scripts/bench_eval.py [--repeats 3]

Reports, per fixture and worker count, the median wall and CPU seconds of ``evaluate_davis``
(the counterpart of the toolkit's ``evaluate()``), and the median wall time of the whole CLI in a
fresh interpreter (the counterpart of running ``evaluation_method.py``). Reference numbers are
from tests/fixtures/davis_eval (2-vCPU VM): ``evaluate()`` seconds from timing.json, CLI wall
from its README. Timings on a shared machine are noisy; CPU seconds are the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "davis_eval")
# (fixture, expected folder, official CLI wall seconds: median from the fixture README)
CASES = [("fixture", "expected", 4.2), ("fixture_large", "expected_large", 6.6)]


def _official_evaluate_seconds(expected: str) -> float:
    with open(os.path.join(FIX, expected, "full_precision", "timing.json")) as f:
        return float(json.load(f)["evaluate_seconds"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    sys.path.insert(0, ROOT)
    from hodor.evaluation import evaluate_davis

    print(f"{'case':<19}{'workers':>8}{'wall s':>9}{'cpu s':>8}{'official s':>12}{'speed-up':>10}")
    for fx, expected, official_cli in CASES:
        davis, results = os.path.join(FIX, fx, "DAVIS"), os.path.join(FIX, fx, "results")
        official = _official_evaluate_seconds(expected)
        evaluate_davis(davis, results, workers=1)  # warm the page cache and imports
        for workers in (1, 2):
            walls, cpus = [], []
            for _ in range(args.repeats):
                t, c = time.perf_counter(), time.process_time()
                evaluate_davis(davis, results, workers=workers)
                walls.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
            wall, cpu = statistics.median(walls), statistics.median(cpus)
            print(f"{fx:<19}{workers:>8}{wall:>9.3f}{cpu:>8.3f}{official:>12.2f}{official / wall:>9.1f}x")
        walls = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                res = os.path.join(tmp, "results")
                shutil.copytree(results, res)
                t = time.perf_counter()
                cmd = [sys.executable, os.path.join(ROOT, "tools", "eval_vos.py"), "--davis-root", davis]
                subprocess.run(cmd + ["--results", res, "--workers", "2"], check=True, capture_output=True)
                walls.append(time.perf_counter() - t)
        wall = statistics.median(walls)
        print(f"{fx + ' CLI':<19}{2:>8}{wall:>9.3f}{'':>8}{official_cli:>12.2f}{official_cli / wall:>9.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
