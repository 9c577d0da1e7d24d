"""LVOS v1/v2 (semi-supervised): J, F and V (the J&F variance), split into seen / unseen videos.

Follows LingyiHongfd/lvos-evaluation ``lvos/evaluation.py`` (``LVOSEvaluation.
_evaluate_semisupervised`` and ``evaluate``), ``lvos/utils.py`` (``db_statistics``,
``db_statistics_var``), ``lvos/metrics.py`` (``db_eval_iou``, ``f_measure``) and
``evaluation_method.py`` (the tables):

* per object, the frames are ``range(start, end, 5)`` of its ``frame_range`` in
  ``<split>_meta.json`` (file names ``%08d``); the first of them and the one at position
  ``frame_nums - 1`` are skipped, and the scores fill an array of ``frame_nums - 2`` slots - slots
  the range never reaches stay 0 (reproduced);
* the object is ``mask == id`` in the GT and in the prediction (no void); J is the IoU (both empty
  -> 1), F the DAVIS boundary measure (radius ceil(0.008 * diagonal));
* per object: J-Mean, F-Mean, and V = sqrt(round(sum((mean(JF) - JF)^2) / n, 4)) with
  JF = (J + F) / 2 per frame (the official rounding to 4 decimals before the square root);
* global: J-seen / J-unseen are means over the objects of seen / unseen videos, J-Mean their
  average (not the object-weighted mean), J&F-Mean = (J-seen + F-seen + J-unseen + F-unseen) / 4;
  likewise F and V. A group with no objects gives NaN, as in the official tool.

Seen/unseen: the official tool reads ``./unseen_videos.txt`` from its working directory; here it
is ``unseen_videos.txt`` next to the meta file (copy it from lvos-evaluation), or the ``unseen``
argument; without it every video is "seen" and the unseen columns (and J&F-Mean) are NaN.
A missing prediction frame, where the official tool calls ``sys.exit()``, is an error here.
"""

from __future__ import annotations

import glob
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hodor.utils.logger import get_logger

from .base import EVALUATOR_REGISTRY, EvaluationError, VOSEvaluator, frame_pair
from .davis_metrics import object_jf
from .results_io import write_global_and_object_csvs
from .seen_unseen import overall_jf, seen_unseen_means

logger = get_logger(__name__)

FRAME_STEP = 5
GLOBAL_HEADER = [
    "J&F-Mean",
    "J-Mean",
    "J-seen-Mean",
    "J-unseen-Mean",
    "F-Mean",
    "F-seen-Mean",
    "F-unseen-Mean",
    "V-Mean",
    "V-seen-Mean",
    "V-unseen-Mean",
]
PER_OBJECT_HEADER = ["Sequence", "J-Mean", "F-Mean", "V-Mean"]


def jf_variance(j: np.ndarray, f: np.ndarray) -> float:
    """Official V: sqrt(round(sum((mean(JF) - JF)^2) / n, 4)) with JF = (J + F) / 2."""
    jf = (np.asarray(j, np.float64) + np.asarray(f, np.float64)) / 2
    v = np.nansum((np.nanmean(jf) - jf) ** 2) / jf.size
    return math.sqrt(float(np.round(v, 4)))


@dataclass
class LvosObject:
    key: str
    unseen: bool
    J: float
    F: float
    V: float


@dataclass
class _LvosVideo:
    objects: list[LvosObject]
    num_frames_scored: int


@dataclass
class LvosResults:
    objects: list[LvosObject]
    warnings: list[str] = field(default_factory=list)

    def global_metrics(self) -> dict[str, float]:
        g: dict[str, float] = {}
        for m in ("J", "F", "V"):
            seen, unseen = seen_unseen_means(self.objects, m)
            g[f"{m}-Mean"], g[f"{m}-seen-Mean"], g[f"{m}-unseen-Mean"] = (seen + unseen) / 2, seen, unseen
        g["J&F-Mean"] = float(overall_jf(self.objects)["overall"])
        return {k: g[k] for k in GLOBAL_HEADER}

    def write_tables(self, out_dir: str, split: str = "valid") -> list[str]:
        g = self.global_metrics()
        rows = [(o.key, o.J, o.F, o.V) for o in self.objects]
        return write_global_and_object_csvs(
            out_dir,
            split,
            GLOBAL_HEADER,
            [g[k] for k in GLOBAL_HEADER],
            "per-sequence_results",
            PER_OBJECT_HEADER,
            rows,
        )

    def format_table(self) -> str:
        g = self.global_metrics()
        lines = ["Global results:", "  ".join(f"{k}={g[k]:.3f}" for k in GLOBAL_HEADER), "", "Per-object results:"]
        lines += [f"{o.key}  J={o.J:.3f}  F={o.F:.3f}  V={o.V:.3f}" for o in self.objects]
        return "\n".join(lines)


def find_meta(gt_root: str) -> str:
    """The ``<split>_meta.json`` next to ``Annotations/`` (exactly one must exist)."""
    parent = os.path.dirname(os.path.normpath(gt_root))
    found = sorted(glob.glob(os.path.join(parent, "*_meta.json")))
    if len(found) != 1:
        raise EvaluationError(f"{parent}: expected one <split>_meta.json, found {[os.path.basename(f) for f in found]}")
    return found[0]


@EVALUATOR_REGISTRY.register("lvos")
class LvosEvaluator(VOSEvaluator):
    """LVOS J / F / V with seen/unseen columns (see the module docstring)."""

    name = "lvos"

    def __init__(
        self, gt_root: str, videos: Sequence[str], meta: str | None = None, unseen: Sequence[str] | None = None
    ) -> None:
        super().__init__(gt_root, videos)
        self.meta_path = meta or find_meta(self.gt_root)
        try:
            with open(self.meta_path, encoding="utf-8") as f:
                meta_videos = json.load(f)["videos"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise EvaluationError(f"{self.meta_path}: cannot read the LVOS meta ({type(e).__name__}: {e})") from e
        missing = [v for v in self.videos if v not in meta_videos]
        if missing:
            raise EvaluationError(f"{self.meta_path}: videos not listed: {missing[:5]}")
        self.meta = {v: meta_videos[v]["objects"] for v in self.videos}
        if unseen is None:
            path = os.path.join(os.path.dirname(self.meta_path), "unseen_videos.txt")
            unseen = []
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    unseen = [ln.strip() for ln in f]
            else:
                logger.warning("%s not found: every video counts as seen; the unseen columns will be NaN", path)
        self.unseen = set(unseen)

    def score_video(self, video: str, predictions) -> _LvosVideo:
        if isinstance(predictions, str) and not os.path.isdir(predictions):
            raise EvaluationError(f"video {video!r}: prediction folder not found: {predictions}")
        cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        objects, scored = [], 0
        for i, (oid, obj) in enumerate(self.meta[video].items()):
            fr = obj["frame_range"]
            start, end, n = int(fr["start"]), int(fr["end"]), int(fr["frame_nums"])
            j, f = np.zeros(n - 2), np.zeros(n - 2)
            for idx, t in enumerate(range(start, end, FRAME_STEP)):
                if idx == 0 or idx == n - 1:
                    continue
                fid = f"{t:08d}"
                gt, pred = frame_pair(cache, os.path.join(self.gt_root, video), video, fid, predictions)
                j[idx - 1], f[idx - 1] = object_jf(gt, pred, int(oid))
                scored += 1
            objects.append(
                LvosObject(
                    f"{video}_{i + 1}", video in self.unseen, float(j.mean()), float(f.mean()), jf_variance(j, f)
                )
            )
        return _LvosVideo(objects, scored)

    def evaluate(self) -> LvosResults:
        objects = []
        for _, r in sorted(self.ordered_results(), key=lambda x: x[0]):
            objects += r.objects
        return LvosResults(objects)
