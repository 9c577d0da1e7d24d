"""Command lines of the form ``tool [--options ...] [KEY VALUE ...]``.

Why one helper: every hodor tool lets config overrides (``INFERENCE.MIN_DIM 480``) sit anywhere
among its options, and each must refuse a misspelt ``--option`` instead of taking it for a key.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def parse_with_overrides(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, pairs: bool = False
) -> argparse.Namespace:
    """Parse ``argv``; every leftover word becomes ``args.opts`` (the ``KEY VALUE`` overrides).

    An unknown ``--word`` is an argument error (exit 2); with ``pairs`` an odd number of leftover
    words is one too (the config merger would otherwise report it later, less clearly).
    """
    args, rest = parser.parse_known_args(argv)
    unknown = [r for r in rest if r.startswith("--")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if pairs and len(rest) % 2:
        parser.error(f"config overrides come in KEY VALUE pairs, got {rest}")
    args.opts = rest
    return args
