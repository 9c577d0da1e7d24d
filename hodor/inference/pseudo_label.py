"""Pseudo-labelling: propagate a video dataset's labelled frames with a trained model and write
masks plus a per-object, per-frame confidence for every other frame (read back by
``hodor.data.pseudo_labels`` as ``pseudo:<dir>``; layout in datasets/README.md).

Per video:

1. **Labelled frames** (``PSEUDO_LABEL.LABELLED_FRAMES``): ``all`` = every annotated frame;
   ``middle`` / ``first`` = one frame, the first of the sparse regime's reference candidates
   (``VideoClipMapper.reference_candidates`` with ``TRAINING.SPARSE_REF_FRAME`` = the rule) whose
   ground truth holds at least one object. So a sparse-video run and a pseudo-label round on the
   same data treat the same frame as "the" label.
2. **Forward** pass from the first labelled frame to the end and **backward** pass (frames
   reversed) from the last labelled frame to frame 0, with the streaming ``VideoPredictor``. Each
   labelled frame's ground truth is given as it is reached: objects new there are added, already
   tracked ones are corrected (the predictor's override). An object absent from a later labelled
   frame cannot be given as "absent" (the predictor takes non-empty masks only); it stays tracked.
3. Every unlabelled frame gets the forward and/or the backward probabilities
   (``return_probs=True``: channel 0 = background, one channel per tracked object). Where both
   exist (between the first and the last labelled frame) they are **averaged**, channel by object
   id; an object only one direction tracks there (the forward pass has not reached its first
   labelled frame yet) has probability 0 in the other. The average of two distributions is a
   distribution, and disagreement of the directions lowers both the mask and its confidence.
   Backward probabilities of those frames are held (float32 on the CPU, (1+I) x H x W each)
   until the forward pass reaches them; with one labelled frame per video nothing is held.
4. The pseudo-label is the arg-max of those probabilities over (background, objects) - the
   background channels summed, so it can differ from the predictor's own output (arg-max per
   channel) in a few pixels where the background mass is split.

Confidence (``PSEUDO_LABEL.CONFIDENCE``), per (frame, object), in [0, 1]:

* ``mean_max_prob`` (default): mean of the object's probability over the pixels where it is
  the arg-max (:func:`mean_max_prob`). An object predicted absent (no pixel) gets **0**: a
  tracked object that vanishes is where propagation fails most (a lost track looks exactly like
  an occlusion), and a confidence of "absent" would let self-training reinforce lost tracks; a
  frame with a vanished object is therefore dropped by any positive threshold. It needs one
  direction only, so it works with one labelled frame per video - the sparse-video setting of
  the paper and the quick start, where forward and backward never overlap.
* ``fb_iou``: IoU of the forward and backward binary masks of the object where both directions
  exist (1.0 if both are empty; :func:`fb_iou`), else ``mean_max_prob``. Agreement of two
  independent propagations is a stronger signal, but only with two or more labelled frames.

Output is resumable per video (``labels.json`` is written last and atomically) and sharded over
the ranks under torchrun (``records[rank::world]``), like evaluation.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .. import __version__
from ..checkpoint.identity import sha256_file
from ..config import CHOICES
from ..data.augment import AugConfig
from ..data.clips import ClipParams, VideoClipMapper
from ..data.pseudo_labels import (
    FORMAT,
    LABELS_NAME,
    MANIFEST_NAME,
    SETTINGS_KEYS,
    VERSION,
    settings_digest,
    settings_of,
)
from ..data.records import VideoRecord
from ..utils import comm
from ..utils.labels import object_ids
from ..utils.logger import get_logger
from ..utils.palette import save_index_png
from ..utils.progress import progress_bar
from ..utils.run_dir import RunDirError
from .predictor import VideoPredictor

__all__ = [
    "LABELLED_FRAME_RULES",
    "CONFIDENCE_METHODS",
    "PseudoLabelSummary",
    "choose_labelled_frames",
    "mean_max_prob",
    "fb_iou",
    "fuse_probs",
    "pseudo_label_video",
    "pseudo_label_dataset",
]

logger = get_logger(__name__)

LABELLED_FRAME_RULES = CHOICES["PSEUDO_LABEL.LABELLED_FRAMES"]
CONFIDENCE_METHODS = CHOICES["PSEUDO_LABEL.CONFIDENCE"]


# ------------------------------------------------------------------------------------------ maths
def mean_max_prob(probs: Tensor, ids: Sequence[int]) -> dict[int, float]:
    """``{object id: confidence}`` from probabilities ``probs`` [1+I, H, W] (channel 0 background,
    channel 1+j = ``ids[j]``): the mean of the object's probability over the pixels where it is the
    arg-max (= the mean max-probability of its mask); 0.0 for an object without pixels."""
    index = probs.argmax(dim=0)
    out: dict[int, float] = {}
    for j, oid in enumerate(ids):
        sel = index == j + 1
        out[int(oid)] = float(probs[j + 1][sel].mean()) if bool(sel.any()) else 0.0
    return out


def fb_iou(forward: np.ndarray, backward: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
    """``{object id: IoU}`` of the object's pixels in two id maps [H, W] (forward and backward
    propagation); 1.0 where both are empty (they agree that it is absent)."""
    out: dict[int, float] = {}
    for oid in ids:
        a, b = forward == oid, backward == oid
        union = int(np.logical_or(a, b).sum())
        out[int(oid)] = float(np.logical_and(a, b).sum()) / union if union else 1.0
    return out


def _aligned(probs: Tensor, ids: Sequence[int], all_ids: Sequence[int]) -> Tensor:
    """``probs`` [1+I, H, W] over ``ids`` -> [1+len(all_ids), H, W]; untracked objects get 0."""
    out = torch.zeros((1 + len(all_ids), *probs.shape[1:]), dtype=torch.float32)
    out[0] = probs[0].float()
    for j, oid in enumerate(ids):
        out[1 + list(all_ids).index(oid)] = probs[j + 1].float()
    return out


def fuse_probs(a: tuple[Sequence[int], Tensor], b: tuple[Sequence[int], Tensor]) -> tuple[list[int], Tensor]:
    """Average two directions' ``(ids, probs [1+I, H, W])`` channel by object id (an object one
    side does not track counts as 0 there); returns the sorted id union and [1+I', H, W]."""
    ids = sorted(set(a[0]) | set(b[0]))
    return ids, 0.5 * (_aligned(a[1], a[0], ids) + _aligned(b[1], b[0], ids))


def _index_map(probs: Tensor, ids: Sequence[int]) -> np.ndarray:
    """Arg-max over (background, objects) as an id map [H, W] (uint8 when ids < 256)."""
    lut = np.array([0, *ids], dtype=np.int64)
    out = lut[probs.argmax(dim=0).numpy()]
    return out.astype(np.uint8) if max([0, *ids]) < 256 else out.astype(np.int32)


# ----------------------------------------------------------------------------- labelled frames
def choose_labelled_frames(record: VideoRecord, rule: str) -> list[int]:
    """The frames of ``record`` whose ground truth is given to the pseudo-labeller.

    ``all``: every annotated frame. ``middle`` / ``first``: the first of the sparse regime's
    reference candidates for that rule (``VideoClipMapper.reference_candidates``) whose mask
    holds an object; [] when no annotated frame does.
    """
    if rule not in LABELLED_FRAME_RULES:
        raise ValueError(f"PSEUDO_LABEL.LABELLED_FRAMES must be one of {LABELLED_FRAME_RULES}, got {rule!r}")
    if rule == "all":
        return list(record.annotated_frames)
    mapper = VideoClipMapper(ClipParams(sparse_ref=rule), AugConfig(), sparse=True)
    for t in mapper.reference_candidates(record, np.random.default_rng(0)):  # no randomness for middle/first
        if object_ids(record.load_mask(t)):
            return [t]
    return []


# ------------------------------------------------------------------------------------ one video
def _propagate(
    predictor: VideoPredictor,
    record: VideoRecord,
    order: Sequence[int],
    labels: Mapping[int, np.ndarray],
    wanted: set[int],
) -> Iterator[tuple[int, list[int], Tensor]]:
    """Run ``order`` (frame indices) through a fresh predictor, giving each labelled frame's
    objects; yields ``(frame, ids, probs [1+I, H, W])`` for the frames in ``wanted``."""
    predictor.reset()
    for t in order:
        prompts = None
        if t in labels:
            prompts = {oid: labels[t] == oid for oid in object_ids(labels[t])}
        _, probs = predictor.step(record.load_frame(t), prompts, return_probs=True)
        if t in wanted:
            yield t, predictor.object_ids, probs


@dataclass
class VideoResult:
    """What :func:`pseudo_label_video` wrote for one video."""

    labelled: list[int]
    confidences: dict[int, dict[int, float]]  # frame -> object id -> confidence


def _clear_video_dir(video_dir: str) -> None:
    """Remove an earlier (unfinished or other-settings) result of this video: its PNGs and labels."""
    if not os.path.isdir(video_dir):
        return
    for f in os.listdir(video_dir):
        if f.endswith(".png") or f.startswith(LABELS_NAME):
            os.remove(os.path.join(video_dir, f))


def _write_json_atomic(path: str, obj: Any) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def pseudo_label_video(
    predictor: VideoPredictor,
    record: VideoRecord,
    video_dir: str,
    labelled_frames: str = "middle",
    confidence: str = "mean_max_prob",
    settings_sha256: str = "",
) -> VideoResult:
    """Pseudo-label one video into ``video_dir`` (``<frame stem>.png`` per pseudo-labelled frame,
    then ``labels.json``); see the module docstring for the procedure."""
    if confidence not in CONFIDENCE_METHODS:
        raise ValueError(f"PSEUDO_LABEL.CONFIDENCE must be one of {CONFIDENCE_METHODS}, got {confidence!r}")
    labelled = choose_labelled_frames(record, labelled_frames)
    labels: dict[int, np.ndarray] = {}
    for t in labelled:
        m = record.load_mask(t)
        labels[t] = m.astype(np.uint8) if int(m.max(initial=0)) <= 255 else m
    objects = {t: object_ids(m) for t, m in labels.items()}
    _clear_video_dir(video_dir)
    os.makedirs(video_dir, exist_ok=True)
    names = record.frame_names
    confidences: dict[int, dict[int, float]] = {}
    with_objects = [t for t in labelled if objects[t]]
    if with_objects:
        first, last = with_objects[0], with_objects[-1]
        unlabelled = [t for t in range(len(record)) if t not in labels]
        fwd_wanted = {t for t in unlabelled if t > first}
        bwd_wanted = {t for t in unlabelled if t < last}
        both = fwd_wanted & bwd_wanted

        def emit(t: int, ids: list[int], probs: Tensor, conf: dict[int, float] | None = None) -> None:
            save_index_png(os.path.join(video_dir, names[t] + ".png"), _index_map(probs, ids))
            confidences[t] = conf if conf is not None else mean_max_prob(probs, ids)

        held: dict[int, tuple[list[int], Tensor]] = {}
        for t, ids, probs in _propagate(predictor, record, range(last, -1, -1), labels, bwd_wanted):
            if t in both:
                held[t] = (ids, probs)
            else:
                emit(t, ids, probs)
        for t, ids, probs in _propagate(predictor, record, range(first, len(record)), labels, fwd_wanted):
            if t not in both:
                emit(t, ids, probs)
                continue
            b_ids, b_probs = held.pop(t)
            all_ids, fused = fuse_probs((ids, probs), (b_ids, b_probs))
            conf = None
            if confidence == "fb_iou":
                f_map = _index_map(_aligned(probs, ids, all_ids), all_ids)
                b_map = _index_map(_aligned(b_probs, b_ids, all_ids), all_ids)
                conf = fb_iou(f_map, b_map, all_ids)
            emit(t, all_ids, fused, conf)
    _write_json_atomic(
        os.path.join(video_dir, LABELS_NAME),
        {
            "labelled": labelled,
            "labelled_objects": {str(t): objects[t] for t in labelled},
            "frames": {str(t): {str(k): v for k, v in sorted(c.items())} for t, c in sorted(confidences.items())},
            "settings_sha256": settings_sha256,
        },
    )
    return VideoResult(labelled, confidences)


# ---------------------------------------------------------------------------------- the dataset
@dataclass
class PseudoLabelSummary:
    """Totals of a :func:`pseudo_label_dataset` run (the same on every rank)."""

    out_dir: str
    videos: int
    videos_done: int  # computed by this run
    videos_skipped: int  # already complete with the same settings
    frames_pseudo_labelled: int  # in the whole folder (done + skipped videos)
    mean_confidence: float | None  # over every (frame, object) of the folder
    seconds: float
    world_size: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _inference_settings(cfg) -> dict[str, Any]:
    """The INFERENCE.* / INPUT.* values that change the predicted masks (part of the settings)."""
    return {
        "min_dim": int(cfg.INFERENCE.MIN_DIM),
        "max_dim": int(cfg.INFERENCE.MAX_DIM),
        "temporal_window": int(cfg.INFERENCE.TEMPORAL_WINDOW),
        "precision": str(cfg.INFERENCE.PRECISION),
        "exact_given_masks": bool(cfg.INFERENCE.EXACT_GIVEN_MASKS),
    }


def _manifest(cfg, source_dataset: str, datasets_root: str, checkpoint: str) -> dict[str, Any]:
    if not checkpoint or not os.path.isfile(checkpoint):
        raise RunDirError(f"pseudo-labelling needs the checkpoint file it runs (got {checkpoint!r})")
    rule, method = str(cfg.PSEUDO_LABEL.LABELLED_FRAMES), str(cfg.PSEUDO_LABEL.CONFIDENCE)
    if rule not in LABELLED_FRAME_RULES:
        raise ValueError(f"PSEUDO_LABEL.LABELLED_FRAMES must be one of {LABELLED_FRAME_RULES}, got {rule!r}")
    if method not in CONFIDENCE_METHODS:
        raise ValueError(f"PSEUDO_LABEL.CONFIDENCE must be one of {CONFIDENCE_METHODS}, got {method!r}")
    m: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "source_dataset": source_dataset,
        "datasets_root": os.path.abspath(datasets_root),
        "labelled_frames": rule,
        "confidence": method,
        "checkpoint": os.path.abspath(checkpoint),
        "checkpoint_sha256": sha256_file(checkpoint),
        "inference": _inference_settings(cfg),
        "hodor_version": __version__,
    }
    m["settings_sha256"] = settings_digest(settings_of(m))
    return m


def _check_out_dir(out_dir: str, manifest: dict[str, Any], overwrite: bool) -> None:
    """Refuse a folder holding something else, or pseudo-labels of other settings (unless overwrite)."""
    path = os.path.join(out_dir, MANIFEST_NAME)
    if overwrite or not os.path.isdir(out_dir):
        return
    if not os.path.exists(path):
        if os.listdir(out_dir):
            raise RunDirError(
                f"{out_dir}: folder is not empty and holds no {MANIFEST_NAME}; choose an empty folder "
                "(or pass --overwrite to write into it)"
            )
        return
    try:
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise RunDirError(f"{path}: unreadable pseudo-label manifest ({e}); pass --overwrite to replace it") from None
    if not isinstance(old, dict) or old.get("format") != FORMAT or old.get("version") != VERSION:
        raise RunDirError(f"{path}: not a {FORMAT} v{VERSION} manifest; pass --overwrite to replace it")
    now = settings_of(manifest)
    diff = [k for k in SETTINGS_KEYS if old.get(k) != now[k]]
    if diff:
        detail = "; ".join(f"{k}: {old.get(k)!r} -> {now[k]!r}" for k in diff)
        raise RunDirError(
            f"{path}: this folder holds pseudo-labels made with other settings ({detail}); use another "
            "--out folder or pass --overwrite to recompute every video"
        )


def _video_done(video_dir: str, digest: str) -> dict[str, Any] | None:
    """The video's labels.json when it is complete with these settings, else None."""
    path = os.path.join(video_dir, LABELS_NAME)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, json.JSONDecodeError):
        logger.warning("%s is unreadable: recomputing the video", path)
        return None
    if not isinstance(d, dict) or d.get("settings_sha256") != digest or not isinstance(d.get("frames"), dict):
        return None
    return d


def pseudo_label_dataset(
    model: nn.Module,
    cfg,
    records: Sequence[VideoRecord],
    out_dir: str,
    *,
    source_dataset: str,
    datasets_root: str,
    checkpoint: str,
    overwrite: bool = False,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> PseudoLabelSummary:
    """Pseudo-label every video of ``records`` (this rank's shard under torchrun) into ``out_dir``.

    Settings come from ``cfg.PSEUDO_LABEL`` and ``cfg.INFERENCE``; ``checkpoint`` is the weights
    file ``model`` was loaded from (hashed into the manifest, so a re-run with other weights is
    recognised). Rank 0 writes the manifest before any video; a video whose ``labels.json`` carries
    the same settings is skipped; a folder with other settings is refused (``RunDirError``) unless
    ``overwrite``. Must be called on every rank when distributed.
    """
    rank, world = comm.get_rank(), comm.get_world_size()
    t0 = time.perf_counter()
    out_dir = os.path.abspath(out_dir)
    manifest = _manifest(cfg, source_dataset, datasets_root, checkpoint)
    digest = manifest["settings_sha256"]
    _check_out_dir(out_dir, manifest, overwrite)  # every rank sees the same folder: all raise alike
    comm.synchronize()
    failed = None
    if rank == 0:
        try:
            os.makedirs(out_dir, exist_ok=True)
            _write_json_atomic(os.path.join(out_dir, MANIFEST_NAME), manifest)
        except OSError as e:
            if world == 1:
                raise
            failed = f"{out_dir}: cannot write {MANIFEST_NAME} ({e})"
    failed = comm.all_gather_object(failed)[0]  # a barrier too: no rank starts before the manifest exists
    if failed:
        raise RunDirError(failed)

    predictor = VideoPredictor.from_config(model, cfg, device=device)
    rule, method = manifest["labelled_frames"], manifest["confidence"]
    shard = list(records)[rank::world]
    done = skipped = 0
    frames, conf_sum, conf_n = 0, 0.0, 0
    error: str | None = None
    bar = progress_bar(shard, desc="pseudo-labels", unit="video", enabled=progress and rank == 0)
    try:
        for rec in bar:
            bar.set_postfix_str(rec.video_id)
            video_dir = os.path.join(out_dir, rec.video_id)
            old = None if overwrite else _video_done(video_dir, digest)
            if old is not None:
                skipped += 1
                rows = [list(c.values()) for c in old["frames"].values() if isinstance(c, dict)]
            else:
                res = pseudo_label_video(predictor, rec, video_dir, rule, method, digest)
                done += 1
                rows = [list(c.values()) for c in res.confidences.values()]
            frames += len(rows)
            conf_sum += float(sum(sum(r) for r in rows))
            conf_n += sum(len(r) for r in rows)
    except Exception as e:
        if world == 1:
            raise
        error = f"rank {rank}: {type(e).__name__}: {e}"  # raised on every rank after the gather
    gathered = comm.all_gather_object(
        {"done": done, "skipped": skipped, "frames": frames, "sum": conf_sum, "n": conf_n, "error": error}
    )
    errors = [g["error"] for g in gathered if g["error"]]
    if errors:
        raise RuntimeError("; ".join(errors))
    comm.synchronize()
    n = sum(g["n"] for g in gathered)
    summary = PseudoLabelSummary(
        out_dir=out_dir,
        videos=len(records),
        videos_done=sum(g["done"] for g in gathered),
        videos_skipped=sum(g["skipped"] for g in gathered),
        frames_pseudo_labelled=sum(g["frames"] for g in gathered),
        mean_confidence=sum(g["sum"] for g in gathered) / n if n else None,
        seconds=time.perf_counter() - t0,
        world_size=world,
    )
    if rank == 0:
        logger.info(
            "pseudo-labels in %s: %d videos computed, %d already done, %d frames, mean confidence %s (%.1fs)",
            out_dir,
            summary.videos_done,
            summary.videos_skipped,
            summary.frames_pseudo_labelled,
            "n/a" if summary.mean_confidence is None else f"{summary.mean_confidence:.3f}",
            summary.seconds,
        )
    return summary
