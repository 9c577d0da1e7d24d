"""The evaluator protocol shared by every VOS benchmark, and the registry that names them.

An evaluator is built for one split (its ground truth and video list) and used in three steps,
as in detectron2's ``DatasetEvaluator``:

* ``reset()`` forgets everything processed so far;
* ``process(video, predictions)`` scores one video right away and keeps only its (small)
  per-object results, so a long split never holds its masks in memory. ``predictions`` is either
  ``{frame stem: integer id map [H, W]}`` (what the predictor produced, scored in memory) or the
  path of that video's results folder in the benchmark's own results layout (scoring only);
* ``evaluate()`` aggregates the per-video results into the benchmark's tables, in the split's
  video order whatever order the videos were processed in.

Per-video results are plain picklable objects (``video_results()`` / ``add_video_results()``), so
ranks of a distributed run can each score their shard and rank 0 aggregates: only scores cross
process boundaries, never masks. Each evaluator also knows how its benchmark stores results
(``write_video``), so the evaluation CLI writes PNGs the official tool can read.
"""

from __future__ import annotations

import abc
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ..utils.palette import save_index_png
from ..utils.registry import Registry
from .results_io import MaskReadError, read_index_png

EVALUATOR_REGISTRY = Registry("evaluator")

# {frame stem: integer id map [H, W]} (in memory) or the video's results folder (scoring only)
VideoPredictions = Mapping[str, np.ndarray] | str


class EvaluationError(ValueError):
    """The inputs cannot be evaluated; the message names the file/video and the problem."""


class BenchmarkResults(Protocol):
    """What ``evaluate()`` returns: global numbers, the benchmark's tables, a printable summary."""

    def global_metrics(self) -> dict[str, float]: ...

    def write_tables(self, out_dir: str, split: str = "val") -> list[str]: ...

    def format_table(self) -> str: ...


class VOSEvaluator(abc.ABC):
    """Scores the videos of one split with one benchmark's metric (see the module docstring)."""

    #: registry name, e.g. "davis"
    name: str = ""

    def __init__(self, gt_root: str, videos: Sequence[str]) -> None:
        self.gt_root = os.fspath(gt_root)
        self.videos = list(videos)
        if not self.videos:
            raise EvaluationError(f"{self.gt_root}: no videos to evaluate")
        dup = sorted(v for v, n in Counter(self.videos).items() if n > 1)
        if dup:
            raise EvaluationError(f"{self.gt_root}: videos listed twice: {dup}")
        self._results: dict[str, Any] = {}

    def reset(self) -> None:
        self._results = {}

    @abc.abstractmethod
    def score_video(self, video: str, predictions: VideoPredictions) -> Any:
        """Per-video result (picklable) of one video's predictions."""

    def process(self, video: str, predictions: VideoPredictions) -> None:
        if video not in self.videos:
            raise EvaluationError(f"video {video!r} is not part of this evaluation ({self.gt_root})")
        self._results[video] = self.score_video(video, predictions)

    def video_results(self) -> dict[str, Any]:
        """What ``process`` kept, for gathering across ranks."""
        return dict(self._results)

    def add_video_results(self, results: Mapping[str, Any]) -> None:
        """Merge per-video results scored elsewhere (another rank)."""
        self._results.update(results)

    def frames_scored(self) -> int:
        """Frames whose predictions entered the metric so far (per-video results carry ``num_frames_scored``)."""
        return int(sum(r.num_frames_scored for r in self._results.values()))

    def ordered_results(self) -> list[tuple[str, Any]]:
        """Per-video results in split order; a video that was never processed is an error."""
        missing = [v for v in self.videos if v not in self._results]
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise EvaluationError(f"{len(missing)} video(s) of the split have no predictions: {shown}")
        return [(v, self._results[v]) for v in self.videos]

    @abc.abstractmethod
    def evaluate(self) -> BenchmarkResults:
        """The benchmark's aggregate over every video of the split."""

    def write_video(self, video: str, predictions: Mapping[str, np.ndarray], out_dir: str) -> None:
        """Write one video's predictions in the benchmark's results layout (default: index PNGs
        ``out_dir/<video>/<frame>.png``)."""
        write_index_pngs(video, predictions, out_dir)


def write_index_pngs(video: str, predictions: Mapping[str, np.ndarray], out_dir: str) -> None:
    """``out_dir/<video>/<frame>.png`` palette PNGs of id maps (the DAVIS results layout)."""
    for fid, arr in predictions.items():
        save_index_png(os.path.join(out_dir, video, f"{fid}.png"), arr)


def build_evaluator(name: str, **kwargs: Any) -> VOSEvaluator:
    """Evaluator registered as ``name`` built with the dataset spec's arguments."""
    return EVALUATOR_REGISTRY.get(name)(**kwargs)


def check_id_map(arr: np.ndarray, where: str) -> np.ndarray:
    """An in-memory prediction must be an integer (or bool) id map ``[H, W]`` without negatives."""
    arr = np.asarray(arr)
    if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise EvaluationError(f"{where}: prediction must be an integer id map [H, W], got {arr.dtype} {arr.shape}")
    if arr.size and int(arr.min()) < 0:
        raise EvaluationError(f"{where}: negative object id {int(arr.min())}")
    return arr


def load_prediction_frame(video: str, fid: str, predictions: VideoPredictions) -> np.ndarray:
    """Frame ``fid`` of one video's predictions (in memory, or ``<folder>/<fid>.png``); a missing
    frame is an error naming the video and the file (official tools ``sys.exit()`` or crash)."""
    if isinstance(predictions, str):
        path = os.path.join(predictions, f"{fid}.png")
        if not os.path.isfile(path):
            raise EvaluationError(f"video {video!r}: prediction frame not found: {path}")
        try:
            return read_index_png(path)
        except MaskReadError as e:
            raise EvaluationError(str(e)) from e
    if fid not in predictions:
        raise EvaluationError(f"video {video!r}, frame {fid}: no prediction")
    return check_id_map(predictions[fid], f"video {video!r}, frame {fid}")


def frame_pair(
    cache: dict[str, tuple[np.ndarray, np.ndarray]], gt_dir: str, video: str, fid: str, predictions: VideoPredictions
) -> tuple[np.ndarray, np.ndarray]:
    """(GT id map ``<gt_dir>/<fid>.png``, prediction) of one frame, each read once per video
    (``cache``); unreadable GT or a size mismatch is an error naming the frame."""
    if fid not in cache:
        try:
            gt = read_index_png(os.path.join(gt_dir, f"{fid}.png"))
        except MaskReadError as e:
            raise EvaluationError(f"ground truth: {e}") from e
        pred = load_prediction_frame(video, fid, predictions)
        if pred.shape != gt.shape:
            raise EvaluationError(f"video {video!r}, frame {fid}: prediction shape {pred.shape} vs {gt.shape}")
        cache[fid] = (gt, pred)
    return cache[fid]
