"""YouTube-VOS scored locally (held-out train videos): J and F, seen / unseen categories, Overall.

**This is not the server's code.** YouTube-VOS is scored on a CodaLab server whose scorer has
never been published, so there is no official code to follow or to build a golden fixture from.
This evaluator implements the protocol as the benchmark publishes it, so that held-out *train*
videos (whose every-5th-frame annotations are public) can be scored locally:

* Source: Xu et al., "YouTube-VOS: A Large-Scale Video Object Segmentation Benchmark", ECCV 2018
  (evaluation section: region similarity J and contour accuracy F as in DAVIS, reported
  separately for categories seen in training and unseen ones; the overall score is the mean of
  the four numbers), and the columns the server reports: ``Overall``, ``J_seen``, ``J_unseen``,
  ``F_seen``, ``F_unseen`` with Overall = (J_seen + J_unseen + F_seen + F_unseen) / 4.
* J and F per frame are the DAVIS toolkit's ``db_eval_iou`` and ``db_eval_boundary``
  (``hodor.evaluation.davis_metrics``: J of two empty masks = 1, F tolerance
  ceil(0.008 * image diagonal)), the object being ``mask == id`` in GT and prediction.
* Per object: the mean over the **annotated** frames (PNGs in ``Annotations/<video>/``) that come
  **after** the object's first appearance. The first-appearance frame is where the object's mask
  is given to the method, so it is excluded (as the server does); frames without an annotation
  are not scored; annotated frames after the first appearance on which the object is absent
  are scored (prediction empty -> J = F = 1, as in DAVIS).
* Global: means over objects of seen categories and over objects of unseen categories (the
  aggregation shared with LVOS, ``hodor.evaluation.seen_unseen``), Overall = mean of the four.

Our choices (not documented for the server):

* An object's first appearance is the first frame meta.json lists for it (``frames`` of train
  meta.json = annotated frames where it is visible), the same frame ``load_youtube_vos`` uses to
  give its mask to the predictor. Its category is meta.json's ``category``.
* "Seen" categories: the ``seen_categories`` argument (a list, or ``--seen-categories FILE`` on
  the CLI, one name per line) when given; by default the categories of the objects of every
  meta.json video that is **not** being evaluated, i.e. of the remaining train videos of a
  held-out split. (Evaluating all of train leaves no training videos: every object is unseen
  and a warning says so.)
* An object with no annotated frame after its first appearance (it appears on the last annotated
  frame) has nothing to score: it is left out of the means and listed in ``warnings``.
* A missing prediction for a scored frame is an error naming the file (or video and frame).
* A group without objects gives NaN, and so does Overall (as lvos-evaluation does).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hodor.utils.logger import get_logger

from .base import EVALUATOR_REGISTRY, EvaluationError, VideoPredictions, VOSEvaluator, frame_pair
from .davis_metrics import object_jf
from .results_io import write_global_and_object_csvs
from .seen_unseen import overall_jf

logger = get_logger(__name__)

GLOBAL_HEADER = ["Overall", "J_seen", "J_unseen", "F_seen", "F_unseen"]
PER_OBJECT_HEADER = ["Video", "Object", "Category", "Seen", "J", "F", "Frames"]


@dataclass
class YtvosObject:
    video: str
    object_id: int
    category: str
    unseen: bool
    J: float
    F: float
    num_frames: int


@dataclass
class _YtvosVideo:
    objects: list[YtvosObject]
    num_frames_scored: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class YtvosResults:
    objects: list[YtvosObject]
    warnings: list[str] = field(default_factory=list)

    def global_metrics(self) -> dict[str, float]:
        jf = overall_jf(self.objects)
        (j_seen, j_unseen), (f_seen, f_unseen) = jf["J"], jf["F"]
        return {
            "Overall": jf["overall"],
            "J_seen": j_seen,
            "J_unseen": j_unseen,
            "F_seen": f_seen,
            "F_unseen": f_unseen,
        }

    def write_tables(self, out_dir: str, split: str = "train") -> list[str]:
        g = self.global_metrics()
        rows = [
            (o.video, str(o.object_id), o.category, "unseen" if o.unseen else "seen", o.J, o.F, str(o.num_frames))
            for o in self.objects
        ]
        return write_global_and_object_csvs(
            out_dir, split, GLOBAL_HEADER, [g[k] for k in GLOBAL_HEADER], "per-object_results", PER_OBJECT_HEADER, rows
        )

    def format_table(self) -> str:
        g = self.global_metrics()
        lines = ["Global results:", "  ".join(f"{k}={g[k]:.3f}" for k in GLOBAL_HEADER), "", "Per-object results:"]
        lines += [
            f"{o.video}/{o.object_id} ({o.category}, {'unseen' if o.unseen else 'seen'})  J={o.J:.3f}  F={o.F:.3f}"
            for o in self.objects
        ]
        return "\n".join(lines + self.warnings)


def _frame_key(stem: str) -> tuple[int, str]:
    """Temporal order of frame stems (zero-padded numbers in YouTube-VOS)."""
    return (len(stem), stem)


@EVALUATOR_REGISTRY.register("youtube_vos")
class YoutubeVosEvaluator(VOSEvaluator):
    """YouTube-VOS J / F with seen / unseen categories on local ground truth (module docstring).

    ``gt_root`` is ``<split>/Annotations``; ``meta`` defaults to ``<split>/meta.json``.
    """

    name = "youtube_vos"

    def __init__(
        self,
        gt_root: str,
        videos: Sequence[str],
        meta: str | None = None,
        seen_categories: Iterable[str] | None = None,
    ) -> None:
        super().__init__(gt_root, videos)
        self.meta_path = meta or os.path.join(os.path.dirname(os.path.normpath(self.gt_root)), "meta.json")
        try:
            with open(self.meta_path, encoding="utf-8") as f:
                meta_videos = json.load(f)["videos"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise EvaluationError(
                f"{self.meta_path}: cannot read the YouTube-VOS meta ({type(e).__name__}: {e})"
            ) from e
        missing = [v for v in self.videos if v not in meta_videos]
        if missing:
            raise EvaluationError(f"{self.meta_path}: videos not listed: {missing[:5]}")
        self.meta = {v: meta_videos[v].get("objects", {}) for v in self.videos}
        if seen_categories is None:
            evaluated = set(self.videos)
            seen_categories = {
                str(o.get("category", ""))
                for v, info in meta_videos.items()
                if v not in evaluated
                for o in info.get("objects", {}).values()
            }
            if not seen_categories:
                logger.warning(
                    "%s: every video is evaluated, so no training videos remain to define seen categories: "
                    "every object counts as unseen (J_seen/F_seen/Overall are NaN); evaluate a held-out "
                    "subset or pass the seen categories",
                    self.meta_path,
                )
        self.seen_categories = frozenset(seen_categories)

    def score_video(self, video: str, predictions: VideoPredictions) -> _YtvosVideo:
        if isinstance(predictions, str) and not os.path.isdir(predictions):
            raise EvaluationError(f"video {video!r}: prediction folder not found: {predictions}")
        gt_dir = os.path.join(self.gt_root, video)
        if not os.path.isdir(gt_dir):
            raise EvaluationError(f"video {video!r}: ground-truth folder not found: {gt_dir}")
        gt_frames = sorted((f[:-4] for f in os.listdir(gt_dir) if f.endswith(".png")), key=_frame_key)
        cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        objects, warnings = [], []
        for oid_s, obj in sorted(self.meta[video].items(), key=lambda kv: int(kv[0])):
            oid, category = int(oid_s), str(obj.get("category", ""))
            listed = obj.get("frames", [])
            if not listed:
                warnings.append(f"{video}/{oid}: meta.json lists no frames; not scored")
                continue
            first = min(listed, key=_frame_key)
            frames = [f for f in gt_frames if _frame_key(f) > _frame_key(first)]
            if not frames:
                warnings.append(f"{video}/{oid}: no annotated frame after its first appearance {first}; not scored")
                continue
            j, f = np.empty(len(frames)), np.empty(len(frames))
            for i, fid in enumerate(frames):
                gt, pred = frame_pair(cache, gt_dir, video, fid, predictions)
                j[i], f[i] = object_jf(gt, pred, oid)
            unseen = category not in self.seen_categories
            objects.append(YtvosObject(video, oid, category, unseen, float(j.mean()), float(f.mean()), len(frames)))
        return _YtvosVideo(objects, len(cache), warnings)

    def evaluate(self) -> YtvosResults:
        objects: list[YtvosObject] = []
        warnings: list[str] = []
        for _, r in self.ordered_results():
            objects += r.objects
            warnings += r.warnings
        for w in warnings:
            logger.warning(w)
        return YtvosResults(objects, warnings)
