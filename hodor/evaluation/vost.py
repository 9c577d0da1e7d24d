"""VOST: region similarity J over all scored frames and J_last over their last quarter.

Follows TRI-ML/VOST ``evaluation/source/evaluation.py`` (``Evaluation.evaluate`` and
``_evaluate_semisupervised``) and ``evaluation_method.py`` (the tables):

* the first and the last annotated frame are not scored; K is the largest id of the first GT
  frame; GT void (255) counts as background (no void mask is passed to the IoU);
* J per object and frame is the DAVIS IoU (both masks empty -> 1); F is not computed;
* J_last uses the scored frames from index ``floor(0.75 n)`` on (n = number of scored frames);
* per object, mean / recall (> 0.5) / decay are the davis2017 ``db_statistics`` (VOST's
  ``source/utils.py``), including its uint8 bin indices: with more than 256 scored frames the
  decay is NaN, as in the official tool; the global row is the unweighted mean over objects.

Official quirks reproduced: a predicted id above K is *ignored* (VOST commented the DAVIS abort
out and truncates the object axis), so a prediction with extra objects is scored, not rejected.
Where the official tool calls ``sys.exit()`` (a missing prediction frame) we raise an error
naming the file instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .base import EVALUATOR_REGISTRY
from .davis_evaluator import (
    DavisEvalError,
    DavisEvaluator,
    _dict_predictions,
    _Predictions,
    _read_gt,
    _video_dir_predictions,
)
from .davis_metrics import _object_window, decay_bin_edges, region_similarity
from .results_io import write_table_csv

GLOBAL_HEADER = ["J-Mean", "J-Recall", "J-Decay", "J_last-Mean", "J_last-Recall", "J_last-Decay"]
PER_OBJECT_HEADER = ["Sequence", "J-Mean", "J_last-Mean"]


def last_quarter_start(n: int) -> int:
    """First scored-frame index of J_last: ``floor(0.75 n)`` (official ``last_quarter_ind``)."""
    return int(math.floor(n * 0.75))


def vost_statistics(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, recall, decay) exactly as VOST's ``utils.db_statistics``: the davis2017 formula, whose
    decay bin indices are cast to uint8, so they wrap past 255. With more than 256 values the last
    bin is an empty slice and the decay is NaN (reproduced; it then makes the global J-Decay NaN)."""
    v = np.asarray(values, dtype=np.float64)
    edges = [e % 256 for e in decay_bin_edges(v.size)]
    first, last = v[edges[0] : edges[1] + 1], v[edges[3] : edges[4] + 1]
    decay = float(np.mean(first) - np.mean(last)) if first.size and last.size else float("nan")
    return float(np.mean(v)), float(np.mean(v > 0.5)), decay


def frame_iou(pred: np.ndarray, gt: np.ndarray, num_objects: int) -> np.ndarray:
    """J of objects 1..K in one frame -> ``float64 [K]`` (ids above K are not looked at)."""
    j = np.ones(num_objects, dtype=np.float64)
    for i in range(num_objects):
        p, g = pred == i + 1, gt == i + 1
        win = _object_window(p, g)
        if win is not None:
            j[i] = region_similarity(p[win], g[win])
    return j


@dataclass
class _VostVideo:
    frames: list[str]
    J: np.ndarray  # [K, n]

    @property
    def num_frames_scored(self) -> int:
        return len(self.frames)


@dataclass
class VostObject:
    key: str
    J: tuple[float, float, float]  # mean, recall, decay
    J_last: tuple[float, float, float]


@dataclass
class VostResults:
    objects: list[VostObject]

    def global_metrics(self) -> dict[str, float]:
        if not self.objects:
            raise DavisEvalError("no objects were evaluated (every first GT frame is empty)")
        arr = np.array([o.J + o.J_last for o in self.objects], dtype=np.float64)  # [N, 6]
        return dict(zip(GLOBAL_HEADER, (float(x) for x in arr.mean(axis=0))))

    def write_tables(self, out_dir: str, split: str = "val") -> list[str]:
        import os

        os.makedirs(out_dir, exist_ok=True)
        g = self.global_metrics()
        gp = os.path.join(out_dir, f"global_results-{split}.csv")
        sp = os.path.join(out_dir, f"per-sequence_results-{split}.csv")
        write_table_csv(gp, GLOBAL_HEADER, [[g[k] for k in GLOBAL_HEADER]], 3)
        write_table_csv(sp, PER_OBJECT_HEADER, [(o.key, o.J[0], o.J_last[0]) for o in self.objects], 3)
        return [gp, sp]

    def format_table(self) -> str:
        g = self.global_metrics()
        lines = ["Global results:", "  ".join(f"{k}={g[k]:.3f}" for k in GLOBAL_HEADER), "", "Per-object results:"]
        lines += [f"{o.key}  J-Mean={o.J[0]:.3f}  J_last-Mean={o.J_last[0]:.3f}" for o in self.objects]
        return "\n".join(lines)


@EVALUATOR_REGISTRY.register("vost")
class VostEvaluator(DavisEvaluator):
    """VOST J / J_last (see the module docstring); GT in ``gt_root/<video>/<frame>.png``."""

    name = "vost"

    def score_video(self, video, predictions) -> _VostVideo:
        if isinstance(predictions, _Predictions):
            preds = predictions
        elif isinstance(predictions, str):
            preds = _video_dir_predictions(predictions)
        else:
            preds = _dict_predictions({video: predictions})
        plan = self.plans[video]

        def one(t: int) -> np.ndarray:
            fid = plan.frame_ids[t]
            gt = _read_gt(plan.gt_paths[t])
            pred = preds.load(video, fid)
            if pred.shape != gt.shape:
                raise DavisEvalError(
                    f"sequence {video!r}, frame {fid}: prediction {preds.describe(video, fid)} is "
                    f"{pred.shape[0]}x{pred.shape[1]} but the ground truth is {gt.shape[0]}x{gt.shape[1]}"
                )
            return frame_iou(pred, gt, plan.num_objects)

        scores = self._map(one, range(1, len(plan.frame_ids) - 1))
        j = np.stack(scores, axis=1) if plan.num_objects else np.zeros((0, len(scores)))
        return _VostVideo(plan.frame_ids[1:-1], j)

    def evaluate(self) -> VostResults:
        self.close()
        objects = []
        for video, vv in self.ordered_results():
            start = last_quarter_start(vv.J.shape[1])
            for i in range(vv.J.shape[0]):
                objects.append(
                    VostObject(f"{video}_{i + 1}", vost_statistics(vv.J[i]), vost_statistics(vv.J[i][start:]))
                )
        if not objects:
            raise DavisEvalError(f"no objects to score: the first GT frame of every video in {self.gt_root} is empty")
        return VostResults(objects)
