"""DAVIS 2017 semi-supervised evaluation, numerically identical to the official toolkit.

``evaluate_davis`` scores a results folder (``<results>/<seq>/<frame>.png``) against a DAVIS
root; ``evaluate_predictions`` scores in-memory predictions or a folder against an annotation
folder (used by the training-time eval hook). Both follow the official protocol: the first and
last GT frames are not scored, K is the largest id of the first GT frame, GT void (255) is
background, a predicted id above K (255 included) or a missing scored frame aborts, and global
numbers are object-weighted means. Unlike the official tool, aborts raise an exception that names
the sequence, the frame file and the problem, instead of printing and exiting with status 0.

Work is spread over a thread pool at frame granularity (PNG decoding and OpenCV dilation release
the GIL); results are collected in input order, so the output and the first reported error are
deterministic whatever the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from hodor.utils.labels import VOID_ID
from hodor.utils.logger import get_logger

from .davis_metrics import boundary_radius, frame_scores, statistics
from .results_io import MaskReadError, read_index_png, write_table_csv

logger = get_logger(__name__)

VOID_LABEL = VOID_ID  # name kept for one release
GLOBAL_HEADER = ["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"]
PER_OBJECT_HEADER = ["Sequence", "J-Mean", "F-Mean"]


class DavisEvalError(ValueError):
    """The inputs cannot be evaluated; the message names the file and the problem."""


class PredictionAbortError(DavisEvalError):
    """A case where the official toolkit aborts without results (missing frame, id above K)."""


@dataclass
class ObjectResult:
    """Per-frame scores and statistics of one object (row ``<sequence>_<object_id>``)."""

    sequence: str
    object_id: int
    frames: list[str]
    J: np.ndarray  # float64 [n] per evaluated frame
    F: np.ndarray  # float64 [n]
    J_mean: float = 0.0
    J_recall: float = 0.0
    J_decay: float = 0.0
    F_mean: float = 0.0
    F_recall: float = 0.0
    F_decay: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.sequence}_{self.object_id}"

    def __post_init__(self) -> None:
        self.J_mean, self.J_recall, self.J_decay = statistics(self.J)
        self.F_mean, self.F_recall, self.F_decay = statistics(self.F)


@dataclass
class DavisResults:
    """Everything one evaluation produced: per-object rows (val.txt order, then k) and the global row."""

    sequences: list[str]
    objects: list[ObjectResult]
    radius: dict[str, int] = field(default_factory=dict)  # F tolerance per sequence
    warnings: list[str] = field(default_factory=list)

    def global_metrics(self) -> dict[str, float]:
        """Object-weighted means, keyed like the official global table (``J&F-Mean`` first)."""
        if not self.objects:
            raise DavisEvalError("no objects were evaluated (every first GT frame is empty)")

        def mean(attr: str) -> float:
            return float(np.mean([getattr(o, attr) for o in self.objects]))

        j_m, f_m = mean("J_mean"), mean("F_mean")
        return {
            "J&F-Mean": (j_m + f_m) / 2.0,
            "J-Mean": j_m,
            "J-Recall": mean("J_recall"),
            "J-Decay": mean("J_decay"),
            "F-Mean": f_m,
            "F-Recall": mean("F_recall"),
            "F-Decay": mean("F_decay"),
        }

    def per_object_rows(self) -> list[tuple[str, float, float]]:
        return [(o.key, o.J_mean, o.F_mean) for o in self.objects]


# --------------------------------------------------------------------------------------------
# Prediction sources
# --------------------------------------------------------------------------------------------
# A loader maps (sequence, frame id) to an id map; it raises PredictionAbortError for a missing
# frame. ``describe`` names the frame for messages; ``frame_ids`` lists what is available (for
# the "extra frames" warning).


@dataclass
class _Predictions:
    load: Callable[[str, str], np.ndarray]
    describe: Callable[[str, str], str]
    frame_ids: Callable[[str], list[str] | None]


def _dir_predictions(results_dir: str) -> _Predictions:
    def path(seq: str, fid: str) -> str:
        return os.path.join(results_dir, seq, f"{fid}.png")

    def load(seq: str, fid: str) -> np.ndarray:
        p = path(seq, fid)
        if not os.path.isfile(p):
            raise PredictionAbortError(
                f"sequence {seq!r}, frame {fid}: prediction file not found: {p} "
                f"(every GT frame except the first and the last needs <results>/<seq>/<frame>.png)"
            )
        try:
            return read_index_png(p)
        except MaskReadError as e:
            raise DavisEvalError(f"sequence {seq!r}, frame {fid}: {e}") from e

    def frame_ids(seq: str) -> list[str] | None:
        d = os.path.join(results_dir, seq)
        if not os.path.isdir(d):
            return None
        return sorted(os.path.splitext(f)[0] for f in os.listdir(d) if f.endswith(".png"))

    return _Predictions(load, path, frame_ids)


def _dict_predictions(preds: Mapping[str, Mapping[str, np.ndarray]]) -> _Predictions:
    def load(seq: str, fid: str) -> np.ndarray:
        frames = preds.get(seq)
        if frames is None or fid not in frames:
            raise PredictionAbortError(f"sequence {seq!r}, frame {fid}: no prediction for this evaluated frame")
        arr = np.asarray(frames[fid])
        if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise DavisEvalError(
                f"sequence {seq!r}, frame {fid}: prediction must be an integer id map [H, W], "
                f"got dtype {arr.dtype} shape {arr.shape}"
            )
        if arr.size and int(arr.min()) < 0:
            raise DavisEvalError(f"sequence {seq!r}, frame {fid}: negative object id {int(arr.min())}")
        return arr

    def describe(seq: str, fid: str) -> str:
        return f"predictions[{seq!r}][{fid!r}]"

    def frame_ids(seq: str) -> list[str] | None:
        frames = preds.get(seq)
        return None if frames is None else sorted(frames)

    return _Predictions(load, describe, frame_ids)


# --------------------------------------------------------------------------------------------
# Core
# --------------------------------------------------------------------------------------------


@dataclass
class _SeqPlan:
    name: str
    gt_paths: list[str]  # all GT frames, sorted by file name
    frame_ids: list[str]  # file stems, aligned with gt_paths
    num_objects: int  # K from the first GT frame
    shape: tuple[int, int]
    radius: int


def _read_gt(path: str) -> np.ndarray:
    try:
        gt = read_index_png(path)
    except MaskReadError as e:
        raise DavisEvalError(f"ground truth: {e}") from e
    return np.where(gt == VOID_LABEL, 0, gt)  # void is background for J and F


def _plan_sequence(seq: str, gt_seq_dir: str) -> _SeqPlan:
    if not os.path.isdir(gt_seq_dir):
        raise DavisEvalError(f"sequence {seq!r}: annotation folder not found: {gt_seq_dir}")
    names = sorted(f for f in os.listdir(gt_seq_dir) if f.endswith(".png"))
    if len(names) < 3:
        raise DavisEvalError(
            f"sequence {seq!r}: {gt_seq_dir} has {len(names)} annotation PNG(s); at least 3 are needed "
            f"because the first and the last frame are not evaluated"
        )
    paths = [os.path.join(gt_seq_dir, n) for n in names]
    first = _read_gt(paths[0])
    return _SeqPlan(
        name=seq,
        gt_paths=paths,
        frame_ids=[os.path.splitext(n)[0] for n in names],
        num_objects=int(first.max()) if first.size else 0,
        shape=(int(first.shape[0]), int(first.shape[1])),
        radius=boundary_radius(first.shape[0], first.shape[1]),
    )


def _score_frame(plan: _SeqPlan, t: int, preds: _Predictions) -> tuple[np.ndarray, np.ndarray]:
    """J and F ``[K]`` of frame t of a sequence, with every official check on the way."""
    fid = plan.frame_ids[t]
    gt = _read_gt(plan.gt_paths[t])
    if gt.shape != plan.shape:
        raise DavisEvalError(
            f"sequence {plan.name!r}: ground truth {plan.gt_paths[t]} is {gt.shape[0]}x{gt.shape[1]} but the "
            f"first frame is {plan.shape[0]}x{plan.shape[1]}"
        )
    pred = preds.load(plan.name, fid)
    where = preds.describe(plan.name, fid)
    if pred.shape != plan.shape:
        raise DavisEvalError(
            f"sequence {plan.name!r}, frame {fid}: prediction {where} is {pred.shape[0]}x{pred.shape[1]} "
            f"(HxW) but the ground truth is {plan.shape[0]}x{plan.shape[1]}; predictions must have the GT size"
        )
    top = int(pred.max()) if pred.size else 0
    if top > plan.num_objects:
        note = " (255 is not void in a prediction)" if top == VOID_LABEL else ""
        raise PredictionAbortError(
            f"sequence {plan.name!r}, frame {fid}: prediction {where} contains object id {top}{note}, but the "
            f"sequence has only K={plan.num_objects} objects (largest id in the first GT frame)"
        )
    return frame_scores(pred, gt, plan.num_objects, plan.radius)


def _warn_extra_frames(plan: _SeqPlan, preds: _Predictions) -> str | None:
    available = preds.frame_ids(plan.name)
    if not available:
        return None
    extra = sorted(set(available) - set(plan.frame_ids))
    if not extra:
        return None
    shown = ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else "")
    msg = (
        f"sequence {plan.name!r}: {len(extra)} prediction frame(s) without ground truth are ignored "
        f"({shown}); only frames {plan.frame_ids[1]}..{plan.frame_ids[-2]} are scored"
    )
    logger.warning(msg)
    return msg


def _evaluate(
    gt_root: str, sequences: Sequence[str], preds: _Predictions, workers: int, jpeg_root: str | None = None
) -> DavisResults:
    sequences = list(sequences)
    if not sequences:
        raise DavisEvalError("no sequences to evaluate")
    for seq in sequences:
        if not seq:
            raise DavisEvalError("empty sequence name in the sequence list")
        if jpeg_root is not None:
            jdir = os.path.join(jpeg_root, seq)
            if not os.path.isdir(jdir) or not any(f.lower().endswith(".jpg") for f in os.listdir(jdir)):
                raise DavisEvalError(f"sequence {seq!r}: no JPEG frames in {jdir}")

    workers = max(1, int(workers))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        plans = list(pool.map(lambda s: _plan_sequence(s, os.path.join(gt_root, s)), sequences))
        tasks = [(plan, t) for plan in plans for t in range(1, len(plan.frame_ids) - 1)]
        # map() yields in submission order, so the first exception seen is the earliest frame
        # in (val.txt, frame) order, as in a sequential run.
        it = pool.map(lambda pt: _score_frame(pt[0], pt[1], preds), tasks)
        try:
            scores = list(it)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise

    warnings = [w for w in (_warn_extra_frames(p, preds) for p in plans) if w]
    objects: list[ObjectResult] = []
    pos = 0
    for plan in plans:
        n = len(plan.frame_ids) - 2
        seq_scores = scores[pos : pos + n]
        pos += n
        if plan.num_objects == 0:
            msg = f"sequence {plan.name!r}: the first GT frame has no objects; nothing is scored"
            logger.warning(msg)
            warnings.append(msg)
            continue
        j = np.stack([s[0] for s in seq_scores], axis=1)  # [K, n]
        f = np.stack([s[1] for s in seq_scores], axis=1)
        frames = plan.frame_ids[1:-1]
        for i in range(plan.num_objects):
            objects.append(ObjectResult(plan.name, i + 1, frames, j[i].copy(), f[i].copy()))
    if not objects:
        raise DavisEvalError(f"no objects to score: the first GT frame of every sequence in {gt_root} is empty")
    return DavisResults(sequences, objects, {p.name: p.radius for p in plans}, warnings)


def read_sequence_list(path: str) -> list[str]:
    """Sequence names of an ImageSets file (one per line, stripped, file order kept)."""
    if not os.path.isfile(path):
        raise DavisEvalError(f"sequence list not found: {path}")
    with open(path, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f.read().splitlines()]
    # Trailing blank lines are harmless; a blank line between names would be an unnamed sequence.
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise DavisEvalError(f"sequence list is empty: {path}")
    if "" in lines:
        raise DavisEvalError(f"{path}: blank line {lines.index('') + 1} (an unnamed sequence)")
    return lines


def evaluate_davis(
    davis_root: str | os.PathLike,
    results_dir: str | os.PathLike,
    split: str = "val",
    resolution: str = "480p",
    workers: int = 1,
    sequences: Sequence[str] | None = None,
) -> DavisResults:
    """Score ``results_dir/<seq>/<frame>.png`` on DAVIS 2017 ``split`` like the official toolkit.

    Sequences come from ``davis_root/ImageSets/2017/<split>.txt`` (their order is the row
    order) unless ``sequences`` is given. Raises ``PredictionAbortError`` where the official
    tool aborts and ``DavisEvalError`` for other invalid input.
    """
    root, results = os.fspath(davis_root), os.fspath(results_dir)
    if not os.path.isdir(results):
        raise DavisEvalError(f"results folder not found: {results}")
    if sequences is None:
        sequences = read_sequence_list(os.path.join(root, "ImageSets", "2017", f"{split}.txt"))
    return _evaluate(
        os.path.join(root, "Annotations", resolution),
        sequences,
        _dir_predictions(results),
        workers,
        jpeg_root=os.path.join(root, "JPEGImages", resolution),
    )


def evaluate_predictions(
    predictions: str | os.PathLike | Mapping[str, Mapping[str, np.ndarray]],
    gt_dir: str | os.PathLike,
    sequences: Sequence[str] | None = None,
    workers: int = 1,
) -> dict[str, object]:
    """J&F of predictions against ``gt_dir/<seq>/<frame>.png`` (for the in-training eval hook).

    ``predictions`` is a results folder (``<seq>/<frame>.png``) or ``{seq: {frame_id: id map
    [H, W]}}`` with frame ids equal to the GT file stems (e.g. ``"00017"``); first/last frames
    may be absent. ``sequences`` defaults to every sequence present in ``predictions`` (dict) or
    every folder in ``gt_dir``. Returns the global metrics (``"J&F-Mean"``, ``"J-Mean"``, ...)
    plus ``"per_object"``: ``{"<seq>_<k>": (J-Mean, F-Mean)}``.
    """
    gt = os.fspath(gt_dir)
    if isinstance(predictions, Mapping):
        preds = _dict_predictions(predictions)
        default = list(predictions)
    else:
        pdir = os.fspath(predictions)
        if not os.path.isdir(pdir):
            raise DavisEvalError(f"results folder not found: {pdir}")
        preds = _dir_predictions(pdir)
        default = sorted(d for d in os.listdir(gt) if os.path.isdir(os.path.join(gt, d)))
    res = _evaluate(gt, list(sequences) if sequences is not None else default, preds, workers)
    out: dict[str, object] = dict(res.global_metrics())
    out["per_object"] = {k: (jm, fm) for k, jm, fm in res.per_object_rows()}
    return out


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def csv_names(split: str = "val") -> tuple[str, str]:
    """File names the official tool uses: global table, per-object table."""
    return f"global_results-{split}.csv", f"per-sequence_results-{split}.csv"


def write_csvs(results: DavisResults, out_dir: str | os.PathLike, precision: int = 3, split: str = "val") -> list[str]:
    """Write the two official CSVs (``%.<precision>f``; 3 = byte-identical to the toolkit).

    Existing files are overwritten. Returns the written paths.
    """
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    g_name, s_name = csv_names(split)
    g = results.global_metrics()
    g_path, s_path = os.path.join(out, g_name), os.path.join(out, s_name)
    write_table_csv(g_path, GLOBAL_HEADER, [[g[k] for k in GLOBAL_HEADER]], precision)
    write_table_csv(s_path, PER_OBJECT_HEADER, results.per_object_rows(), precision)
    return [g_path, s_path]


def format_table(results: DavisResults, precision: int = 3) -> str:
    """Human-readable global and per-object tables (what the CLI prints)."""
    g = results.global_metrics()
    w = max(len(h) for h in GLOBAL_HEADER) + 1
    lines = ["Global results:", "".join(h.rjust(w) for h in GLOBAL_HEADER)]
    lines.append("".join(f"{g[h]:.{precision}f}".rjust(w) for h in GLOBAL_HEADER))
    rows = results.per_object_rows()
    kw = max([len("Sequence")] + [len(r[0]) for r in rows]) + 2
    lines += ["", "Per-object results:", "Sequence".ljust(kw) + "J-Mean".rjust(9) + "F-Mean".rjust(9)]
    for key, jm, fm in rows:
        lines.append(key.ljust(kw) + f"{jm:.{precision}f}".rjust(9) + f"{fm:.{precision}f}".rjust(9))
    return "\n".join(lines)
