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

from .base import EvaluationError


class GroupedObject(Protocol):
    unseen: bool


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else float("nan")


def seen_unseen_means(objects: Sequence[GroupedObject], metric: str) -> tuple[float, float]:
    """(mean over seen objects, mean over unseen objects) of attribute ``metric``; NaN for an empty
    group, an error when there are no objects at all."""
    if not objects:
        raise EvaluationError("no objects were evaluated")
    seen = _mean([getattr(o, metric) for o in objects if not o.unseen])
    unseen = _mean([getattr(o, metric) for o in objects if o.unseen])
    return seen, unseen


def overall_jf(objects: Sequence[GroupedObject]) -> dict[str, tuple[float, float] | float]:
    """``{"J": (seen, unseen), "F": (seen, unseen), "overall": mean of the four}`` (LVOS's
    J&F-Mean, YouTube-VOS's Overall)."""
    j, f = seen_unseen_means(objects, "J"), seen_unseen_means(objects, "F")
    # summed in lvos-evaluation's order (J-seen, F-seen, J-unseen, F-unseen): the last bit matches
    return {"J": j, "F": f, "overall": (j[0] + f[0] + j[1] + f[1]) / 4}
