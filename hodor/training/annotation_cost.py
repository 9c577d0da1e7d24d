"""The run's annotation cost on disk and in the log (the counting is ``hodor.data.annotation_cost``).

``OUTPUT_DIR/annotation_cost.json`` holds the full entry (per dataset). ``metrics.json`` is a
time series of per-iteration rows (resume truncates it by iteration), so the totals are
repeated in every row as ``labels/images``, ``labels/video_frames`` and ``labels/pseudo_frames``
(``annotation_cost_scalars``): any row, and any plot of it, says what the run trained on. The
same dict is stored in every checkpoint (``training_metadata["annotation_cost"]``) and in
exported weights.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ANNOTATION_COST_FILE",
    "annotation_cost_scalars",
    "format_annotation_cost",
    "write_annotation_cost",
    "labels_used",
]

ANNOTATION_COST_FILE = "annotation_cost.json"


def labels_used(cost: Mapping[str, Any]) -> int:
    """Labelled images + labelled video frames (ground truth); pseudo-labels are not annotations."""
    return int(cost.get("labelled_images", 0)) + int(cost.get("labelled_video_frames", 0))


def annotation_cost_scalars(cost: Mapping[str, Any]) -> dict[str, float]:
    """The totals as ``labels/*`` scalars, repeated in every metrics.json row of the run."""
    return {
        "labels/images": float(cost.get("labelled_images", 0)),
        "labels/video_frames": float(cost.get("labelled_video_frames", 0)),
        "labels/pseudo_frames": float(cost.get("pseudo_labelled_frames", 0)),
    }


def format_annotation_cost(cost: Mapping[str, Any]) -> str:
    """One log line: totals, then per dataset."""
    per = "; ".join(
        f"{name}: {d.get('labelled_images', 0)} images, {d.get('labelled_video_frames', 0)} frames"
        + (f" of {d['videos']} videos" if "videos" in d else "")
        for name, d in cost.get("datasets", {}).items()
    )
    return (
        f"{cost.get('labelled_images', 0)} labelled images, {cost.get('labelled_video_frames', 0)} labelled video "
        f"frames, {cost.get('pseudo_labelled_frames', 0)} pseudo-labelled frames ({cost.get('mode')}; {per})"
    )


def write_annotation_cost(output_dir: str, cost: Mapping[str, Any]) -> str:
    """Write ``output_dir/annotation_cost.json`` atomically; returns its path."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, ANNOTATION_COST_FILE)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(dict(cost), fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
    return path
