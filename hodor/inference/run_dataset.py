"""Run a model over every video of a dataset and write palette PNGs (for evaluation/submission).

A streaming writer with a stale-file check, used by ``tools/quickstart.py``. Evaluation
(``tools/eval_vos.py``, ``hodor-train --eval-only``, the in-training ``EvalHook``) goes through
``hodor.inference.evaluate_dataset.inference_on_dataset`` instead, which scores in memory.

Semi-supervised protocol: every object is given to the predictor once, at its first annotated
appearance (``VideoRecord.object_first_frames``): DAVIS = the objects of the first annotated
frame, YouTube-VOS = each object at the frame where meta.json says it starts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from torch import nn

from ..data.davis import load_davis_folder
from ..data.io import DataError
from ..data.records import VideoRecord
from ..utils.labels import VOID_ID
from ..utils.logger import get_logger
from ..utils.palette import save_index_png
from ..utils.progress import progress_bar
from .predictor import VideoPredictor

logger = get_logger(__name__)


def first_appearance_masks(record: VideoRecord) -> dict[int, dict[int, np.ndarray]]:
    """{frame index: {object id: bool mask}} with each object at its first annotated frame."""
    by_frame: dict[int, list[int]] = {}
    for oid, f in record.object_first_frames.items():
        by_frame.setdefault(int(f), []).append(int(oid))
    out: dict[int, dict[int, np.ndarray]] = {}
    for f, ids in sorted(by_frame.items()):
        index = record.load_mask(f)
        masks = {oid: index == oid for oid in sorted(ids) if oid != VOID_ID}
        empty = [oid for oid, m in masks.items() if not m.any()]
        if empty:
            where = record.annotations[f] if isinstance(record.annotations[f], str) else record.source
            raise DataError(
                str(where), f"video {record.video_id}: object(s) {empty} are listed at frame {f} but absent"
            )
        out[f] = masks
    return out


def run_video(predictor: VideoPredictor, record: VideoRecord, out_dir: str, frames: Sequence[int] | None = None) -> int:
    """Segment one video and write ``out_dir/<frame stem>.png``; returns the number of PNGs written.

    ``frames``: indices to write (e.g. YouTube-VOS's evaluated frames); None = every frame.
    Predicted frames that already exist in ``out_dir`` are overwritten; any *other* PNG there (a
    stale result of another run, which the evaluator would read) is an error, checked first.
    """
    keep = None if frames is None else set(frames)
    names = record.frame_names
    to_write = {names[i] + ".png" for i in range(len(record)) if keep is None or i in keep}
    if os.path.isdir(out_dir):
        extra = sorted(f for f in os.listdir(out_dir) if f.endswith(".png") and f not in to_write)
        if extra:
            raise DataError(
                os.path.join(out_dir, extra[0]),
                f"results folder holds {len(extra)} PNG(s) that are not frames of video {record.video_id} "
                "(stale results of another run?); use an empty folder",
            )
    prompts = first_appearance_masks(record)
    predictor.reset()
    os.makedirs(out_dir, exist_ok=True)
    written = 0
    for i in range(len(record)):
        pred = predictor.step(record.load_frame(i), prompts.get(i))
        if keep is None or i in keep:
            save_index_png(os.path.join(out_dir, names[i] + ".png"), pred)
            written += 1
    return written


def run_records(
    model: nn.Module,
    cfg,
    records: Sequence[VideoRecord],
    out_dir: str,
    frames_to_write: str = "all",
    progress: bool = True,
) -> str:
    """Run every record and write ``out_dir/<video>/<frame>.png``; returns ``out_dir``.

    ``frames_to_write``: "all", or "eval" for each record's ``eval_frames`` (YouTube-VOS valid:
    the frames the server expects; falls back to all frames when a record has none).
    """
    if frames_to_write not in ("all", "eval"):
        raise ValueError(f"frames_to_write must be 'all' or 'eval', got {frames_to_write!r}")
    predictor = VideoPredictor.from_config(model, cfg)
    os.makedirs(out_dir, exist_ok=True)
    bar = progress_bar(records, desc="videos", unit="video", enabled=progress)
    for rec in bar:
        bar.set_postfix_str(rec.video_id)
        frames = rec.eval_frames if frames_to_write == "eval" else None
        run_video(predictor, rec, os.path.join(out_dir, rec.video_id), frames)
    logger.info("wrote predictions of %d videos to %s", len(records), out_dir)
    return out_dir


def run_dataset(
    model: nn.Module,
    cfg,
    dataset_root: str,
    out_dir: str,
    sequences: Sequence[str] | None = None,
    split: str | None = "val",
    resolution: str = "480p",
    progress: bool = True,
) -> str:
    """Predict a DAVIS-layout folder (``JPEGImages/480p/<video>``, ``Annotations/480p/<video>``).

    Videos: ``sequences`` if given, else those of ``ImageSets/2017/<split>.txt`` when that file
    exists, else every video folder. Writes ``out_dir/<video>/<frame>.png`` (DAVIS palette) and
    returns ``out_dir``, ready for ``hodor.evaluation.evaluate_davis``.
    """
    use_split = (
        split if split and os.path.isfile(os.path.join(dataset_root, "ImageSets", "2017", f"{split}.txt")) else None
    )
    records = load_davis_folder(dataset_root, use_split, resolution=resolution)
    if sequences is not None:
        by_name = {r.video_id: r for r in records}
        missing = [s for s in sequences if s not in by_name]
        if missing:
            raise DataError(dataset_root, f"sequences not found: {missing}")
        records = [by_name[s] for s in sequences]
    return run_records(model, cfg, records, out_dir, progress=progress)
