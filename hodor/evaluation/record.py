"""``eval_record.json``: what exactly an evaluation scored, written next to its tables.

Published VOS numbers have been traced back to evaluation details that nobody wrote down (a
split scored on 136 of its 140 videos, numbers that move with the GPU count, a checkpoint that is
not the one in the paper). Every evaluation therefore records the split (its sorted video list
and a hash of it), how many videos and frames were scored against how many exist, the inference
settings and speed, the checkpoint's SHA-256, the hodor version and git commit, and - when the
checkpoint carries training metadata - the annotation cost of its training data, so that a
weakly-supervised result can be read against the labels it used.

The checkpoint block (path, SHA-256, annotation cost) is computed by the caller, which may open
checkpoints (``hodor.checkpoint.identity.checkpoint_info``), and passed in: this package sits
below the checkpoint package and never opens a checkpoint file.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

RECORD_NAME = "eval_record.json"
NO_CHECKPOINT: dict[str, Any] = {"path": None, "sha256": None, "annotation_cost": None}


def video_list_hash(videos: Sequence[str]) -> str:
    """SHA-256 of the sorted video names joined by newlines (comparable across runs and papers)."""
    return hashlib.sha256("\n".join(sorted(videos)).encode("utf-8")).hexdigest()


def hodor_version() -> dict[str, str | None]:
    """Package version and, in a git checkout, the commit (``+dirty`` with local changes)."""
    from hodor import __version__ as version

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = None
    try:
        out = subprocess.run(
            ["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        )
        commit = out.stdout.strip() or None
        dirty = subprocess.run(
            ["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if commit and dirty.returncode == 0 and dirty.stdout.strip():
            commit += "+dirty"
    except (OSError, subprocess.SubprocessError):
        pass
    return {"version": version, "git_commit": commit}


def build_eval_record(
    *,
    dataset: str,
    split: str,
    evaluator: str,
    videos_scored: Sequence[str],
    videos_present: Sequence[str],
    frames_scored: int,
    frames_present: int,
    metrics: Mapping[str, float] | None = None,
    inference: Mapping[str, Any] | None = None,
    checkpoint: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The record as a JSON-ready dict.

    ``videos_present`` are the videos of the split on disk; ``videos_scored`` those the metric
    covered (they differ when e.g. TEST.MAX_VIDEOS limits a training-time evaluation).
    ``frames_scored`` counts the frames whose predictions entered the metric; ``frames_present``
    every frame of the scored videos. ``inference`` holds the predictor settings and timing
    (``None`` for scoring-only runs). ``checkpoint`` is ``{"path", "sha256", "annotation_cost"}``
    from ``hodor.checkpoint.identity.checkpoint_info`` (``None``: no checkpoint, e.g. scoring only).
    """
    scored = sorted(videos_scored)
    return {
        "dataset": dataset,
        "split": split,
        "evaluator": evaluator,
        "videos": scored,
        "videos_sha256": video_list_hash(scored),
        "num_videos_scored": len(scored),
        "num_videos_present": len(set(videos_present)),
        "videos_not_scored": sorted(set(videos_present) - set(scored)),
        "num_frames_scored": int(frames_scored),
        "num_frames_present": int(frames_present),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        "inference": dict(inference) if inference is not None else None,
        "checkpoint": dict(checkpoint) if checkpoint is not None else dict(NO_CHECKPOINT),
        "hodor": hodor_version(),
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **dict(extra or {}),
    }


def write_eval_record(out_dir: str, record: Mapping[str, Any]) -> str:
    """Write ``out_dir/eval_record.json`` (atomically); returns its path."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, RECORD_NAME)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)
    return path
