"""SA-V val/test: J&F over per-object binary masks (objects may overlap).

Follows facebookresearch/sam2 ``sav_dataset/utils/sav_benchmark.py`` (``VideoEvaluator``,
``Evaluator.feed_frame`` / ``conclude`` and ``benchmark``), itself adapted from vos-benchmark:

* ground truth ``Annotations_6fps/<video>/<object>/<frame>.png``, one binary mask per object and
  frame (values > 0 are the object); predictions use the same layout;
* per object, the frames are the sorted PNGs of its GT folder without the first and the last;
* J is the IoU (both empty -> 1); F is the DAVIS boundary measure with the tolerance disk of
  radius ``ceil(0.008 * sqrt(H^2 + W^2))`` (same numbers as :mod:`davis_metrics`);
* an object's J and F are the means over its scored frames *from the first frame on which the
  object is non-empty in the GT or in the prediction* (vos-benchmark only starts tracking an id
  once it has been seen; earlier empty frames are not averaged in - reproduced quirk), x 100;
* global J, F = unweighted means over every object of every video; J&F = (J + F) / 2.

Where the official code stops on an ``assert`` (missing prediction PNG, a PNG with more than
two values, an object whose GT is empty on every scored frame, which makes ``consolidate``
fail) we raise an error that names the file or object. The DAVIS-layout fallback of the
official script (a GT video folder of index PNGs) is not supported: use the ``davis`` evaluator.
In memory, predictions are id maps; object folder ``"003"`` is id 3.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .base import EVALUATOR_REGISTRY, EvaluationError, VOSEvaluator, check_id_map
from .davis_metrics import boundary_f_from_maps, boundary_map, boundary_radius, region_similarity

RESULTS_CSV = "results.csv"


def _read_binary(path: str, what: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise EvaluationError(f"{what} not found: {path}")
    try:
        with Image.open(path) as im:
            arr = np.asarray(im)
    except OSError as e:
        raise EvaluationError(f"{path}: cannot decode image ({e})") from e
    if arr.ndim != 2:
        raise EvaluationError(f"{path}: expected a single-channel mask, got shape {arr.shape}")
    if len(np.unique(arr)) > 2:
        raise EvaluationError(f"{path}: more than one object in the mask; SA-V stores one object mask per PNG")
    return arr > 0


@dataclass
class _SavVideo:
    objects: list[str]
    J: list[float]  # x100, per object
    F: list[float]
    num_frames_scored: int


@dataclass
class SavResults:
    videos: list[tuple[str, list[str], list[float], list[float]]]  # (video, objects, J, F), sorted videos

    def global_metrics(self) -> dict[str, float]:
        js = [j for _, _, J, _ in self.videos for j in J]
        fs = [f for _, _, _, F in self.videos for f in F]
        if not js:
            raise EvaluationError("no objects were evaluated")
        gj, gf = float(np.mean(js)), float(np.mean(fs))
        return {"J&F": (gj + gf) / 2.0, "J": gj, "F": gf}

    def format_table(self) -> str:
        """The official ``results.csv`` text (one decimal)."""
        g = self.global_metrics()
        ml = max(*[len(v) for v, *_ in self.videos], len("Global score"))
        out = f"{'sequence':<{ml}},{'obj':>3}, {'J&F':>4}, {'J':>4}, {'F':>4}\n"
        out += f"{'Global score':<{ml}},{'':>3}, {g['J&F']:.1f}, {g['J']:.1f}, {g['F']:.1f}\n"
        for video, objs, J, F in self.videos:
            for o, j, f in zip(objs, J, F):
                out += f"{video:<{ml}},{o:03}, {(j + f) / 2:>4.1f}, {j:>4.1f}, {f:>4.1f}\n"
        return out

    def write_tables(self, out_dir: str, split: str = "val") -> list[str]:
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, RESULTS_CSV)
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.format_table())
        return [path]


@EVALUATOR_REGISTRY.register("sav")
class SavEvaluator(VOSEvaluator):
    """SA-V J&F (see the module docstring); ``gt_root`` is ``Annotations_6fps``."""

    name = "sav"

    def __init__(self, gt_root: str, videos, workers: int = 1) -> None:
        super().__init__(gt_root, videos)
        self.workers = max(1, int(workers))

    def _objects(self, video: str) -> list[tuple[str, list[str]]]:
        vdir = os.path.join(self.gt_root, video)
        if not os.path.isdir(vdir):
            raise EvaluationError(f"video {video!r}: annotation folder not found: {vdir}")
        objs = sorted(d for d in os.listdir(vdir) if os.path.isdir(os.path.join(vdir, d)))
        if not objs:
            raise EvaluationError(f"video {video!r}: {vdir} has no object folders (expected <object>/<frame>.png)")
        out = []
        for o in objs:
            if not o.isdigit():
                raise EvaluationError(f"video {video!r}: object folder {o!r} in {vdir} is not a number")
            frames = sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(vdir, o)) if f.endswith(".png"))
            out.append((o, frames))
        return out

    def _score_object(
        self, video: str, obj: str, frames: list[str], predictions: Mapping[str, np.ndarray] | str
    ) -> tuple[float, float]:
        gt_dir = os.path.join(self.gt_root, video, obj)
        js, fs, seen, seen_in_gt = [], [], False, False
        for fid in frames[1:-1]:
            gt = _read_binary(os.path.join(gt_dir, f"{fid}.png"), "ground truth")
            if isinstance(predictions, str):
                pred = _read_binary(os.path.join(predictions, obj, f"{fid}.png"), "prediction")
            else:
                if fid not in predictions:
                    raise EvaluationError(f"video {video!r}, object {obj}, frame {fid}: no prediction")
                pred = check_id_map(predictions[fid], f"video {video!r}, frame {fid}") == int(obj)
            if pred.shape != gt.shape:
                raise EvaluationError(
                    f"video {video!r}, object {obj}, frame {fid}: prediction is {pred.shape[0]}x{pred.shape[1]} "
                    f"but the ground truth is {gt.shape[0]}x{gt.shape[1]}"
                )
            seen_in_gt |= bool(gt.any())
            seen |= seen_in_gt or bool(pred.any())
            if not seen:
                continue  # official quirk: the object is not tracked before it first shows up
            js.append(region_similarity(pred, gt))
            fs.append(boundary_f_from_maps(boundary_map(pred), boundary_map(gt), boundary_radius(*gt.shape)))
        if not seen_in_gt:
            raise EvaluationError(
                f"video {video!r}, object {obj}: the ground truth is empty on every scored frame "
                f"({len(frames)} annotated frames in {gt_dir}; the first and the last are not scored), "
                "so the object cannot be scored (the official script fails an assertion here)"
            )
        return float(np.mean(js)) * 100.0, float(np.mean(fs)) * 100.0

    def score_video(self, video: str, predictions) -> _SavVideo:
        objs = self._objects(video)
        preds = os.fspath(predictions) if isinstance(predictions, str | os.PathLike) else predictions
        if isinstance(preds, str) and not os.path.isdir(preds):
            raise EvaluationError(f"video {video!r}: prediction folder not found: {preds}")
        work = lambda of: self._score_object(video, of[0], of[1], preds)  # noqa: E731
        if self.workers > 1 and len(objs) > 1:
            with ThreadPoolExecutor(self.workers) as pool:
                scores = list(pool.map(work, objs))
        else:
            scores = [work(of) for of in objs]
        n = sum(max(0, len(f) - 2) for _, f in objs)
        return _SavVideo([o for o, _ in objs], [s[0] for s in scores], [s[1] for s in scores], n)

    def evaluate(self) -> SavResults:
        rows = sorted(((v, r.objects, r.J, r.F) for v, r in self.ordered_results()), key=lambda x: x[0])
        return SavResults(rows)

    def write_video(self, video: str, predictions: Mapping[str, np.ndarray], out_dir: str) -> None:
        """SA-V results layout: ``out_dir/<video>/<object>/<frame>.png`` binary masks for the
        objects of the ground truth (0/255 greyscale)."""
        objs = self._objects(video)
        for o, _ in objs:
            odir = os.path.join(out_dir, video, o)
            os.makedirs(odir, exist_ok=True)
            for fid, arr in predictions.items():
                m = (np.asarray(arr) == int(o)).astype(np.uint8) * 255
                Image.fromarray(m, mode="L").save(os.path.join(odir, f"{fid}.png"))
