#!/usr/bin/env python3
"""Check our HODOR re-implementation against golden outputs of the original.

    python scripts/check_parity.py tests/fixtures/hodor_parity [--require a,b,c,d,e] [--cases a,b]

Prints the max relative error of every compared array and PASS/FAIL/SKIP per case; exits 1 if
any case fails (a required case that is not implemented, or not in the fixture, fails).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument(
        "fixture_dir", help="directory with cases.json, inputs.npz, expected.npz, make_weights.py, manifest.json"
    )
    p.add_argument("--require", type=_names, default=[], help="comma-separated cases that must run and pass")
    p.add_argument("--cases", type=_names, default=None, help="comma-separated cases to run (default: all)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)

    import torch

    from hodor.parity.runner import run_parity

    torch.manual_seed(0)
    results = run_parity(args.fixture_dir, cases=args.cases, require=args.require, device=args.device)
    failed = [r.name for r in results if r.status == "FAIL"]
    summary = ", ".join(f"{r.name}={r.status}" for r in results)
    print(f"parity: {summary}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
