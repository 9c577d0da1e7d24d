"""MOSEv2: J, F_new (object-size-adaptive boundary), J&F_new, the DAVIS-style F and J&F, and the
disappearance / reappearance breakdown.

Follows henghuiding/MOSE-api ``MOSEv2/sam2_rcms/tools/score.py`` (``process_video_chunk``,
``merge_chunk_results``, ``main``) and ``metricsv2.py`` (``db_eval_iou``, ``db_eval_boundary``
with ``bound_th=0.1, bound_mode='area'``, ``f_measure_adaptive``, ``f_measure_func``). Per object
(the ids of ``meta.json``) and per scored frame (every frame but the first and the last):

* J = (|P n G| + 1) / (|P u G| + 1), 1 when both are empty (the +1 smoothing is official);
* D = 0.008 * sqrt(H^2 + W^2); the adaptive radius is ``min(D, ceil(0.1 * sqrt(|G|)))`` (``ceil(D)``
  when G is empty). When it is below D, F_new uses it and F uses ``ceil(D)``; otherwise both use
  the *unrounded* D, i.e. scikit-image's ``disk(D)`` built on ``arange(-D, D + 1)``, which for a
  non-integer D is an off-centre disk under OpenCV's centre anchor (reproduced quirk: a perfect
  mask of a large object can score F slightly below 1 at low resolution);
* disappearance segments run from a frame whose GT is empty after a non-empty one to the next
  reappearance (a segment starting at the first scored frame is skipped); reappearance segments
  run from a non-empty GT frame after an empty one to the next disappearance; each segment's
  mean J and mean F_new are averaged over the object's segments;
* global numbers: unweighted means over objects (disappear/reappear over objects that have such
  segments), x 100, rounded to 2 decimals as in ``scores.txt`` (``global_metrics`` keeps full
  precision; ``write_tables`` writes the official rounding).

Official behaviours kept: a video whose prediction folder is missing scores 0 for every object
(J, F, F_new; no segments) with a warning; a missing frame inside an existing folder is an error.
GT 255 is not void here (the official script compares ids only). Differences: frames come from
the GT folder (the official script lists the prediction folder, which misaligns when it holds
extra files) and masks are read by stored index (the official ``convert('P')`` is the identity
for palette PNGs, the format of MOSE annotations).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from hodor.utils.logger import get_logger

from .base import EVALUATOR_REGISTRY, EvaluationError, VOSEvaluator, check_id_map
from .davis_metrics import boundary_map
from .results_io import MaskReadError, read_index_png

logger = get_logger(__name__)

ADAPTIVE_FRACTION = 0.1  # official bound_th with bound_mode="area"
DIAGONAL_FRACTION = 0.008
KEYS = ["J&F_new", "J", "F_new", "disappear_J&F_new", "reappear_J&F_new", "F", "J&F"]


@lru_cache(maxsize=64)
def skimage_disk(radius: float) -> np.ndarray:
    """``skimage.morphology.disk(radius)`` for any float radius: the offsets of
    ``arange(-r, r + 1)`` (on both axes) with ``x^2 + y^2 <= r^2`` -> uint8 ``[n, n]``."""
    grid = np.arange(-radius, radius + 1)
    x, y = np.meshgrid(grid, grid)
    k = ((x**2 + y**2) <= radius**2).astype(np.uint8)
    k.setflags(write=False)
    return k


def _dilate_count(src: np.ndarray, other: np.ndarray, kernel: np.ndarray) -> int:
    """|other n cv2.dilate(src, kernel)| (OpenCV centre anchor), computed on a crop around src."""
    ys, xs = np.nonzero(src.any(axis=1))[0], np.nonzero(src.any(axis=0))[0]
    m = max(kernel.shape)
    h, w = src.shape
    y0, y1 = max(0, int(ys[0]) - m), min(h, int(ys[-1]) + m + 1)
    x0, x1 = max(0, int(xs[0]) - m), min(w, int(xs[-1]) + m + 1)
    crop = np.ascontiguousarray(src[y0:y1, x0:x1], dtype=np.uint8)
    dil = cv2.dilate(crop, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return int(np.count_nonzero(dil.view(bool) & other[y0:y1, x0:x1]))


def f_with_kernel(pred_b: np.ndarray, gt_b: np.ndarray, kernel: np.ndarray) -> float:
    """Boundary F of two boundary maps with a given structuring element (official ``f_measure_func``)."""
    n_p, n_g = int(np.count_nonzero(pred_b)), int(np.count_nonzero(gt_b))
    if n_p == 0 and n_g == 0:
        return 1.0
    if n_p == 0 or n_g == 0:
        return 0.0  # precision 1 / recall 0 or precision 0 / recall 1
    precision = _dilate_count(gt_b, pred_b, kernel) / n_p
    recall = _dilate_count(pred_b, gt_b, kernel) / n_g
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def smoothed_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """(|P n G| + 1) / (|P u G| + 1); 1 when both masks are empty."""
    union = int(np.count_nonzero(pred | gt))
    if union == 0:
        return 1.0
    return min(1.0, (int(np.count_nonzero(pred & gt)) + 1) / (union + 1))


def boundary_scores(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """(F, F_new) of two boolean masks ``[H, W]`` (official ``f_measure_adaptive(mode='area')``)."""
    diag = DIAGONAL_FRACTION * math.hypot(*gt.shape)
    if gt.any():
        adaptive = math.ceil(ADAPTIVE_FRACTION * math.sqrt(int(np.count_nonzero(gt))))
    else:
        adaptive = math.ceil(diag)
    radius = min(diag, adaptive)
    pb, gb = boundary_map(pred), boundary_map(gt)
    if radius < diag:
        return f_with_kernel(pb, gb, skimage_disk(float(math.ceil(diag)))), f_with_kernel(
            pb, gb, skimage_disk(float(radius))
        )
    f = f_with_kernel(pb, gb, skimage_disk(diag))
    return f, f


def segment_scores(j: np.ndarray, f_new: np.ndarray, empty_gt: np.ndarray) -> tuple[float | None, ...]:
    """(disappear J, disappear F_new, reappear J, reappear F_new) of one object (None: no segment)."""
    e = np.asarray(empty_gt, dtype=bool)
    disappear = list(np.nonzero(~e[:-1] & e[1:])[0] + 1)
    if e.size and e[0]:
        disappear.insert(0, 0)
    reappear = list(np.nonzero(e[:-1] & ~e[1:])[0] + 1)
    n = e.size
    dis = []
    for i, s in enumerate(disappear):
        end = reappear[i] if i < len(reappear) else n
        if s > 0:
            dis.append((j[s:end].mean(), f_new[s:end].mean()))
    rea = []
    for i, s in enumerate(reappear):
        end = disappear[i + 1] if i + 1 < len(disappear) else n
        rea.append((j[s:end].mean(), f_new[s:end].mean()))

    def avg(segs: list, k: int) -> float | None:
        return float(np.mean([s[k] for s in segs])) if segs else None

    return avg(dis, 0), avg(dis, 1), avg(rea, 0), avg(rea, 1)


@dataclass
class MoseObject:
    key: str
    J: float
    F_new: float
    F: float
    disappear: tuple[float | None, float | None] = (None, None)
    reappear: tuple[float | None, float | None] = (None, None)


@dataclass
class _MoseVideo:
    objects: list[MoseObject]
    num_frames_scored: int
    warnings: list[str] = field(default_factory=list)


def _round2(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x * 100, 2)


@dataclass
class MoseV2Results:
    objects: list[MoseObject]
    warnings: list[str] = field(default_factory=list)

    def global_metrics(self) -> dict[str, float]:
        if not self.objects:
            raise EvaluationError("no objects were evaluated")
        j = float(np.mean([o.J for o in self.objects]))
        fn = float(np.mean([o.F_new for o in self.objects]))
        f = float(np.mean([o.F for o in self.objects]))

        def seg(attr: str) -> float:
            vals = [getattr(o, attr) for o in self.objects if getattr(o, attr)[0] is not None]
            if not vals:
                return float("nan")  # official: mean of an empty list
            return (float(np.mean([v[0] for v in vals])) + float(np.mean([v[1] for v in vals]))) / 2

        return {
            "J&F_new": (j + fn) / 2,
            "J": j,
            "F_new": fn,
            "disappear_J&F_new": seg("disappear"),
            "reappear_J&F_new": seg("reappear"),
            "F": f,
            "J&F": (j + f) / 2,
        }

    def official_scores(self) -> dict[str, float | None]:
        """The numbers of ``scores.txt``: x 100, rounded to 2 decimals."""
        return {k: _round2(v) for k, v in self.global_metrics().items()}

    def per_object(self) -> dict[str, dict[str, float | None]]:
        """The official ``metrics.json`` rows (x 100, 2 decimals)."""
        out = {}
        for o in self.objects:
            dj, df = o.disappear
            rj, rf = o.reappear
            out[o.key] = {
                "J&F_new": _round2((o.J + o.F_new) / 2),
                "J": _round2(o.J),
                "F_new": _round2(o.F_new),
                "disappear_J&F_new": _round2((dj + df) / 2) if dj is not None and df is not None else None,
                "reappear_J&F_new": _round2((rj + rf) / 2) if rj is not None and rf is not None else None,
                "F": _round2(o.F),
                "J&F": _round2((o.J + o.F) / 2),
            }
        return out

    def format_table(self) -> str:
        s = self.official_scores()
        lines = [f"{k}: {s[k]}" for k in KEYS]
        lines.append("Copy-Paste: " + ",".join("nan" if s[k] is None else f"{s[k]:.1f}" for k in KEYS))
        return "\n".join(lines)

    def write_tables(self, out_dir: str, split: str = "valid") -> list[str]:
        os.makedirs(out_dir, exist_ok=True)
        sp, mp = os.path.join(out_dir, "scores.txt"), os.path.join(out_dir, "metrics.json")
        with open(sp, "w", encoding="utf-8") as f:
            f.write(self.format_table() + "\n")
        with open(mp, "w", encoding="utf-8") as f:
            json.dump(self.per_object(), f, indent=4)
        return [sp, mp]


@EVALUATOR_REGISTRY.register("mose_v2")
class MoseV2Evaluator(VOSEvaluator):
    """MOSEv2 metrics (see the module docstring). ``meta`` defaults to ``<gt_root>/../meta.json``."""

    name = "mose_v2"

    def __init__(self, gt_root: str, videos, meta: str | None = None) -> None:
        super().__init__(gt_root, videos)
        self.meta_path = meta or os.path.join(os.path.dirname(os.path.normpath(self.gt_root)), "meta.json")
        if not os.path.isfile(self.meta_path):
            raise EvaluationError(f"MOSEv2 meta.json not found: {self.meta_path}")
        try:
            with open(self.meta_path, encoding="utf-8") as f:
                meta_videos = json.load(f)["videos"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise EvaluationError(f"{self.meta_path}: not a MOSE meta.json ({type(e).__name__}: {e})") from e
        self.meta: dict[str, dict] = {}
        for v in self.videos:
            if v not in meta_videos:
                raise EvaluationError(f"{self.meta_path}: video {v!r} is not listed")
            self.meta[v] = meta_videos[v]

    def _frames(self, video: str) -> list[str]:
        vdir = os.path.join(self.gt_root, video)
        if not os.path.isdir(vdir):
            raise EvaluationError(f"video {video!r}: annotation folder not found: {vdir}")
        names = [os.path.splitext(f)[0] for f in os.listdir(vdir) if f.endswith(".png") and not f.startswith(".")]
        try:
            names.sort(key=int)
        except ValueError:
            names.sort()
        length = self.meta[video].get("length")
        if length is not None and int(length) != len(names):
            raise EvaluationError(
                f"video {video!r}: meta.json says {length} frames but {vdir} holds {len(names)} annotation PNGs"
            )
        return names

    def score_video(self, video: str, predictions) -> _MoseVideo:
        frames = self._frames(video)[1:-1]
        objs = [str(k) for k in self.meta[video].get("objects", {})]
        if isinstance(predictions, str) and not os.path.isdir(predictions):
            msg = f"video {video!r}: prediction folder {predictions} not found; its objects score 0 (official)"
            logger.warning(msg)
            return _MoseVideo([MoseObject(f"{video}_{o}", 0.0, 0.0, 0.0) for o in objs], 0, [msg])
        n = len(frames)
        j = np.zeros((len(objs), n))
        fn = np.zeros((len(objs), n))
        fs = np.zeros((len(objs), n))
        empty = np.zeros((len(objs), n), bool)
        for t, fid in enumerate(frames):
            try:
                gt = read_index_png(os.path.join(self.gt_root, video, f"{fid}.png"))
            except MaskReadError as e:
                raise EvaluationError(f"ground truth: {e}") from e
            if isinstance(predictions, str):
                path = os.path.join(predictions, f"{fid}.png")
                if not os.path.isfile(path):
                    raise EvaluationError(f"video {video!r}: prediction frame not found: {path}")
                try:
                    pred = read_index_png(path)
                except MaskReadError as e:
                    raise EvaluationError(str(e)) from e
            else:
                if fid not in predictions:
                    raise EvaluationError(f"video {video!r}, frame {fid}: no prediction")
                pred = check_id_map(predictions[fid], f"video {video!r}, frame {fid}")
            if pred.shape != gt.shape:
                raise EvaluationError(
                    f"video {video!r}, frame {fid}: wrong prediction shape {pred.shape} vs {gt.shape}"
                )
            for i, o in enumerate(objs):
                p, g = pred == int(o), gt == int(o)
                empty[i, t] = not g.any()
                j[i, t] = smoothed_iou(p, g)
                fs[i, t], fn[i, t] = boundary_scores(p, g)
        objects = []
        for i, o in enumerate(objs):
            if n == 0:
                objects.append(MoseObject(f"{video}_{o}", 0.0, 0.0, 0.0))  # official: no frames -> zeros
                continue
            dj, df, rj, rf = segment_scores(j[i], fn[i], empty[i])
            objects.append(
                MoseObject(
                    f"{video}_{o}", float(j[i].mean()), float(fn[i].mean()), float(fs[i].mean()), (dj, df), (rj, rf)
                )
            )
        return _MoseVideo(objects, n)

    def evaluate(self) -> MoseV2Results:
        objects, warnings = [], []
        for _, r in self.ordered_results():
            objects += r.objects
            warnings += r.warnings
        return MoseV2Results(objects, warnings)
