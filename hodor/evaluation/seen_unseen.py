"""Seen / unseen group means, the aggregation shared by LVOS and YouTube-VOS.

Both benchmarks split their objects into a "seen" and an "unseen" group (LVOS by video, YouTube-VOS
by object category) and report each metric as two group means - means over *objects*, not over
frames - plus an overall number that averages the group means, so a group with few objects weighs
as much as a large one. A group without objects gives NaN (lvos-evaluation's behaviour), which
makes the overall number NaN too rather than silently the mean of one group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class GroupedObject(Protocol):
    unseen: bool


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else float("nan")


def seen_unseen_means(objects: Sequence[GroupedObject], metric: str) -> tuple[float, float]:
    """(mean over seen objects, mean over unseen objects) of attribute ``metric``; NaN for an empty group."""
    seen = _mean([getattr(o, metric) for o in objects if not o.unseen])
    unseen = _mean([getattr(o, metric) for o in objects if o.unseen])
    return seen, unseen
