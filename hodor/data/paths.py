"""Dataset paths that cannot leave their dataset root.

Names in split files, meta.json and annotation files come from data, not from the user's
command line: ``../../etc/passwd`` or an absolute path there must not make a training or
evaluation run read files outside the dataset (or write outside its output folder).
"""

from __future__ import annotations

import math
import os

from .io import DataError

__all__ = ["confined_join", "check_plain_name", "numbering_gaps"]


def check_plain_name(name: str, source: str, what: str = "name") -> str:
    """``name`` must be one path component (no separator, not ``.``/``..``, not empty)."""
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or os.sep in name
        or "\x00" in name
    ):
        raise DataError(source, f"{what} {name!r} is not a plain folder/file name (it would leave the dataset root)")
    return name


def confined_join(root: str, relative: str, source: str, what: str = "path") -> str:
    """``root/relative``, refusing absolute paths and ``..`` that lead outside ``root``.

    Symbolic links inside the dataset are allowed (datasets are often assembled from links);
    only the written path is checked.
    """
    if not isinstance(relative, str) or not relative or "\x00" in relative:
        raise DataError(source, f"{what} {relative!r} is not a valid relative path")
    if os.path.isabs(relative):
        raise DataError(source, f"{what} {relative!r} is absolute; paths must be relative to {root}")
    base = os.path.normpath(os.path.abspath(root))
    full = os.path.normpath(os.path.join(base, relative))
    if full != base and not full.startswith(base + os.sep):
        raise DataError(source, f"{what} {relative!r} points outside the dataset root {root}")
    return os.path.join(root, relative)


def numbering_gaps(stems: list[str]) -> list[tuple[int, int]]:
    """Missing numbers in frame names that are all integers: ``[(first missing, last missing), ...]``.

    The step is the greatest common divisor of the differences, so folders sampled every 5th
    frame (YouTube-VOS train) have no gaps; names that are not all numbers have none either.
    """
    if len(stems) < 2 or not all(s.isdigit() for s in stems):
        return []
    nums = sorted(int(s) for s in stems)
    diffs = [b - a for a, b in zip(nums, nums[1:]) if b > a]
    if not diffs:
        return []
    step = 0
    for d in diffs:
        step = math.gcd(step, d)
    return [(a + step, b - step) for a, b in zip(nums, nums[1:]) if b - a > step]
