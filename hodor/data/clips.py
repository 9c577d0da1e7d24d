"""Dataset mappers: a record plus a per-sample RNG -> one :class:`ClipSample`.

* :class:`PseudoClipMapper` (TRAINING.MODE = static_image): one image becomes a T-frame clip
  (hodor-reference.md 2.5): objects filtered by size, at most N kept, colour jitter, crop-based or
  affine/perspective/crop views, joint flip, pixel-budget resize, presence map, normalisation.
* :class:`VideoClipMapper` (dense_video / sparse_video, 2.6): dense clips take T annotated
  frames (reference + a sorted random pair within MAX_CLIP_DELTA annotated frames after it); sparse
  clips take one annotated reference frame (TRAINING.SPARSE_REF_FRAME: middle, first, end - the
  original's bug - or random) and T-1 unlabelled frames from the window before or after it, ordered
  by distance from the reference.
* ``hodor.data.self_training_clips.SelfTrainingClipMapper`` (self_training) subclasses the sparse
  mapper: the same frames, plus ground truth or pseudo-labels on the other frames.

Objects that vanish from the reference frame after augmentation are dropped (listed in
``meta["dropped_objects"]``); a clip left without objects raises :class:`EmptyClip` so the dataset
re-draws it (counted in ``meta["resampled"]``) - never a silently wrong sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hodor.config import CHOICES
from hodor.modeling.preprocess import normalize

from ..structures.batch import LABEL_GT, LABEL_NONE, ClipSample
from ..utils.labels import object_ids
from .augment import (
    AugConfig,
    View,
    color_jitter,
    dims_size,
    hflip_all,
    pseudo_clip_views,
    resize_frame,
    to_tv,
    torch_seed,
    video_geometric,
)
from .augment import px_size as _px_size
from .io import DataError
from .records import ImageRecord, VideoRecord

__all__ = [
    "ClipMapper",
    "ClipParams",
    "EmptyClip",
    "PseudoClipMapper",
    "VideoClipMapper",
    "object_stats",
    "SPARSE_REF_CHOICES",
]

SPARSE_REF_CHOICES = CHOICES["TRAINING.SPARSE_REF_FRAME"]


class EmptyClip(Exception):
    """No usable object in a drawn clip: the dataset re-draws (not a data error)."""


@dataclass(frozen=True)
class ClipParams:
    """Clip-level settings (TRAINING.* and INPUT.*)."""

    num_frames: int = 3
    max_objects: int = 4
    min_area: int = 2000
    min_dim: int = 20
    min_delta: int = 1
    max_delta: int = 10
    sparse_ref: str = "middle"
    max_image_area: int = 300000
    resize_min_dim: int = 576
    resize_max_dim: int = 1200
    pixel_mean: tuple[float, ...] = (123.675, 116.28, 103.53)
    pixel_std: tuple[float, ...] = (58.395, 57.12, 57.375)
    # self-training only (TRAINING.SELF_TRAINING.*): label unlabelled frames with pseudo-labels
    # whose least confidence over the clip's objects reaches min_pseudo_confidence
    use_pseudo_labels: bool = True
    min_pseudo_confidence: float = 0.7

    @classmethod
    def from_config(cls, cfg) -> ClipParams:
        t, i = cfg.TRAINING, cfg.INPUT
        if t.SPARSE_REF_FRAME not in SPARSE_REF_CHOICES:
            raise ValueError(
                f"TRAINING.SPARSE_REF_FRAME must be one of {SPARSE_REF_CHOICES}, got {t.SPARSE_REF_FRAME!r}"
            )
        return cls(
            num_frames=1 + t.NUM_OTHER_FRAMES,
            max_objects=t.NUM_INSTANCES,
            min_area=t.MIN_REF_MASK_AREA,
            min_dim=t.MIN_REF_MASK_DIM,
            min_delta=t.MIN_CLIP_DELTA,
            max_delta=t.MAX_CLIP_DELTA,
            sparse_ref=t.SPARSE_REF_FRAME,
            max_image_area=i.MAX_IMAGE_AREA,
            resize_min_dim=i.MIN_DIM,
            resize_max_dim=i.MAX_DIM,
            pixel_mean=tuple(i.PIXEL_MEAN),
            pixel_std=tuple(i.PIXEL_STD),
            use_pseudo_labels=bool(t.SELF_TRAINING.USE_PSEUDO_LABELS),
            min_pseudo_confidence=float(t.SELF_TRAINING.MIN_CONFIDENCE),
        )


def object_stats(index_mask: np.ndarray, ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """``id -> (area, bbox height, bbox width)`` in an index map ``[H, W]``; (0, 0, 0) if absent.

    The bounding box comes from the rows and columns that hold the id (``any`` per axis), not
    from the coordinates of every pixel (``np.nonzero``), which costs ~15x more on a 720p mask;
    the size filter asks this of every annotated frame at start-up (see ``object_ids``).
    """
    out = {}
    for i in ids:
        hit = index_mask == i
        rows = np.flatnonzero(hit.any(axis=1))
        if len(rows) == 0:
            out[i] = (0, 0, 0)
            continue
        cols = np.flatnonzero(hit.any(axis=0))
        out[i] = (int(np.count_nonzero(hit)), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1))
    return out


def _big_enough(stats: tuple[int, int, int], p: ClipParams) -> bool:
    return stats[0] >= p.min_area and stats[1] >= p.min_dim and stats[2] >= p.min_dim


def _choose(ids: list[int], k: int, rng: np.random.Generator) -> list[int]:
    """At most ``k`` ids, a random subset, kept in their original order (later ones overwrite)."""
    if len(ids) <= k:
        return list(ids)
    keep = set(rng.choice(len(ids), size=k, replace=False).tolist())
    return [x for j, x in enumerate(ids) if j in keep]


def _finalize(
    views: list[View],
    original_ids: list[int],
    mask_valid: list[bool],
    size: tuple[int, int],
    p: ClipParams,
    meta: dict[str, Any],
) -> ClipSample:
    """Resize, normalise, zero invalid pixels, drop objects missing from frame 0, build presence."""
    imgs, masks, valids = zip(*(resize_frame(v, size) for v in views), strict=True)
    frames = normalize(torch.stack(imgs), p.pixel_mean, p.pixel_std)
    frames = frames * torch.stack(valids)[:, None]  # pixels from outside the image -> mean colour
    masks_t = torch.stack(masks)
    for t, ok in enumerate(mask_valid):
        if not ok:
            masks_t[t] = 0
    num = len(original_ids)
    present = torch.stack([torch.bincount(m.reshape(-1), minlength=num + 1)[1 : num + 1] > 0 for m in masks_t])
    keep = [j for j in range(num) if present[0, j]]
    dropped = [original_ids[j] for j in range(num) if not present[0, j]]
    if dropped:
        meta.setdefault("dropped_objects", []).extend(dropped)
    if not keep:
        raise EmptyClip(f"no object left in the reference frame after augmentation (dropped {dropped})")
    if len(keep) < num:  # renumber 1..I'
        lut = torch.zeros(num + 1, dtype=torch.int64)
        for new, j in enumerate(keep):
            lut[j + 1] = new + 1
        masks_t = lut[masks_t]
        present = present[:, keep]
    for t, ok in enumerate(mask_valid):
        if not ok:
            present[t] = True  # unlabelled frames: assume every object may be visible
    meta["object_ids"] = [original_ids[j] for j in keep]
    return ClipSample(frames, masks_t, torch.tensor(mask_valid, dtype=torch.bool), present, meta)


def _renumber(index_mask: np.ndarray, ids: list[int]) -> np.ndarray:
    """Objects ``ids`` -> 1..len(ids); everything else (other objects, void 255) -> 0."""
    out = np.zeros(index_mask.shape, np.uint8)
    for new, i in enumerate(ids, start=1):
        out[index_mask == i] = new
    return out


class PseudoClipMapper:
    """ImageRecord -> pseudo-clip (static-image training)."""

    sparse = False  # every frame of a pseudo-clip has ground truth

    def __init__(self, params: ClipParams, aug: AugConfig) -> None:
        self.p, self.aug = params, aug

    def __call__(
        self,
        record: ImageRecord,
        rng: np.random.Generator,
        delta_scale: float = 1.0,
        ref: int = -1,
        objects: tuple[int, ...] | None = None,
    ) -> ClipSample:
        """One pseudo-clip. The signature is the one shared with :class:`VideoClipMapper`;
        ``delta_scale`` and ``ref`` (frame gaps, reference frame) do not exist for one image and
        are unused. ``objects``: the instances (indices into the non-crowd instances) a planned
        sample list chose (hodor.data.balance); None = a random subset of at most N qualifying ones."""
        p = self.p
        img = record.load_image()
        insts = [a for a in record.instances if not a.iscrowd]
        masks = record.load_masks(insts)  # [N, H, W]
        good = []
        for j in range(len(insts)):
            ys, xs = np.nonzero(masks[j])
            if len(ys) and _big_enough((len(ys), int(np.ptp(ys)) + 1, int(np.ptp(xs)) + 1), p):
                good.append(j)
        if objects is not None:
            good = [j for j in objects if j in good]
        if not good:
            raise EmptyClip(f"image {record.image_id}: no instance passes the size filter")
        chosen = _choose(good, p.max_objects, rng)
        index = np.zeros(masks.shape[1:], np.uint8)
        for new, j in enumerate(chosen):
            index[masks[j] > 0] = new + 1
        orig_ids = [insts[j].ann_id if insts[j].ann_id is not None else j for j in chosen]
        view = to_tv(img, index)
        with torch_seed(rng):
            view = (color_jitter([view[0]], self.aug.brightness, self.aug)[0], view[1], view[2])
            views, recipe = pseudo_clip_views(view, len(chosen), p.num_frames, self.aug, rng, p.min_area)
            flipped = bool(rng.random() < self.aug.flip_prob)
            if flipped:
                views = hflip_all(views)
        meta = {
            "dataset": record.dataset,
            "image_id": record.image_id,
            "file_name": record.file_name,
            "recipe": recipe,
            "flipped": flipped,
            "orig_size": (int(record.height), int(record.width)),
        }
        size = _px_size(record.height, record.width, p.max_image_area)
        return _finalize(views, orig_ids, [True] * p.num_frames, size, p, meta)


# One other frame's label: (index mask or None, LABEL_* source, confidence).
FrameLabel = tuple[np.ndarray | None, int, float]


class VideoClipMapper:
    """VideoRecord -> dense or sparse video clip."""

    # ClipSample.label_source / label_confidence are attached (self-training); otherwise they stay
    # None and every valid frame counts as ground truth
    label_sources = False

    def __init__(self, params: ClipParams, aug: AugConfig, sparse: bool, max_ref_tries: int = 5) -> None:
        self.p, self.aug, self.sparse, self.max_ref_tries = params, aug, sparse, max_ref_tries

    # -- frame selection ------------------------------------------------------------------
    def reference_candidates(self, record: VideoRecord, rng: np.random.Generator) -> list[int]:
        """Dense: every usable annotated reference frame in temporal order; sparse: the annotated
        frames in the order TRAINING.SPARSE_REF_FRAME prefers them (used to plan sample lists)."""
        if not self.sparse:
            return sorted(self._ref_order(record, rng))
        return self._ref_order(record, rng)

    def qualifying_objects(self, record: VideoRecord, t: int) -> list[int]:
        """Object ids of annotated frame ``t`` that pass the size filter."""
        m = record.load_mask(t)
        present = object_ids(m)
        stats = object_stats(m, present)
        return [i for i in present if _big_enough(stats[i], self.p)]

    def _ref_order(self, record: VideoRecord, rng: np.random.Generator) -> list[int]:
        ann = record.annotated_frames
        if not self.sparse:
            n_other = self.p.num_frames - 1
            usable = ann[: len(ann) - n_other] if n_other else ann
            return [usable[i] for i in rng.permutation(len(usable))]
        n = len(record)
        how = self.p.sparse_ref
        if how == "first":
            return list(ann)
        if how == "random":
            return [ann[i] for i in rng.permutation(len(ann))]
        target = (n - 1) / 2 if how == "middle" else n  # "end": the original's distance to len(seq)
        return sorted(ann, key=lambda a: (abs(a - target), a))

    def dense_window(self, record: VideoRecord, ref: int, scale: float = 1.0) -> list[int]:
        """Dense video: the annotated frames after ``ref`` from which a clip draws its other frames
        (``MIN_CLIP_DELTA`` .. ``MAX_CLIP_DELTA x scale`` annotated frames on; all later annotated
        frames when that window is too short)."""
        p = self.p
        d_max = max(p.min_delta, int(round(p.max_delta * scale)))
        ann = record.annotated_frames
        pos = ann.index(ref)
        window = ann[pos + p.min_delta : pos + d_max]
        if len(window) < p.num_frames - 1:
            window = ann[pos + 1 :]
        return list(window)

    def supervised_frames(self, record: VideoRecord, ref: int, scale: float = 1.0) -> list[int]:
        """Annotated frames whose ground truth a clip with reference ``ref`` can supervise: sparse,
        the reference alone; dense, the reference and its :meth:`dense_window` (every drawn frame)."""
        k = self.p.num_frames - 1
        if self.sparse or k == 0:
            return [ref]
        window = self.dense_window(record, ref, scale)
        return [ref, *window] if len(window) >= k else []

    def pseudo_frames(
        self, record: VideoRecord, ref: int, scale: float = 1.0, objects: tuple[int, ...] | None = None
    ) -> list[int]:
        """Pseudo-labelled frames a clip with reference ``ref`` can supervise: none for dense and
        sparse video (self-training overrides this)."""
        return []

    def sparse_windows(self, record: VideoRecord, ref: int, scale: float = 1.0) -> tuple[list[list[int]], list[int]]:
        """Sparse video: ``(sides, both)``. ``sides``: the windows before and after ``ref``
        (``MIN_CLIP_DELTA`` .. ``MAX_CLIP_DELTA x scale`` frames away) that hold the T-1 other
        frames; a clip draws from one of them at random. ``both``: the two windows together, used
        when neither side is long enough."""
        p = self.p
        k = p.num_frames - 1
        d_max = max(p.min_delta, int(round(p.max_delta * scale)))
        n = len(record)
        before = list(range(max(0, ref - d_max), ref - p.min_delta + 1))
        after = list(range(ref + p.min_delta, min(n, ref + d_max + 1)))
        return [s for s in (before, after) if len(s) >= k], before + after

    def window_frames(self, record: VideoRecord, ref: int, scale: float = 1.0) -> list[int]:
        """Sparse video: every frame a clip with reference ``ref`` can draw (sorted; [] when the
        video is too short for a clip)."""
        k = self.p.num_frames - 1
        if k == 0:
            return []
        sides, both = self.sparse_windows(record, ref, scale)
        if sides:
            return sorted({f for s in sides for f in s})
        return sorted(both) if len(both) >= k else []

    def _others(self, record: VideoRecord, ref: int, scale: float, rng: np.random.Generator) -> list[int]:
        p = self.p
        k = p.num_frames - 1
        if k == 0:
            return []
        if not self.sparse:
            window = self.dense_window(record, ref, scale)
            if len(window) < k:
                raise EmptyClip(f"video {record.video_id}: too few annotated frames after {ref}")
            return sorted(int(x) for x in rng.choice(window, size=k, replace=False))
        n = len(record)
        sides, both = self.sparse_windows(record, ref, scale)
        if sides:
            window = sides[int(rng.integers(0, len(sides)))]
        else:
            window = both
            if len(window) < k:
                raise EmptyClip(f"video {record.video_id}: {n} frames are too few for a {p.num_frames}-frame clip")
        picked = rng.choice(window, size=k, replace=False)
        return sorted((int(x) for x in picked), key=lambda f: abs(f - ref))

    def _label_others(self, record: VideoRecord, others: list[int], chosen: list[int]) -> list[FrameLabel]:
        """The label of each other frame: dense, its ground truth; sparse, none."""
        if self.sparse:
            return [(None, LABEL_NONE, 0.0)] * len(others)
        return [(record.load_mask(f), LABEL_GT, 1.0) for f in others]

    @property
    def mode_name(self) -> str:
        """``meta["mode"]`` of the clips."""
        return "sparse" if self.sparse else "dense"

    # -- mapping --------------------------------------------------------------------------
    def __call__(
        self,
        record: VideoRecord,
        rng: np.random.Generator,
        delta_scale: float = 1.0,
        ref: int = -1,
        objects: tuple[int, ...] | None = None,
    ) -> ClipSample:
        """``ref`` / ``objects``: reference frame and object ids chosen by a planned sample list
        (hodor.data.balance); -1 / None = chosen here."""
        p = self.p
        order = [ref] if ref >= 0 else self._ref_order(record, rng)[: self.max_ref_tries]
        ref, ref_mask, ids = None, None, []
        for cand in order:
            m = record.load_mask(cand)
            present = object_ids(m)
            stats = object_stats(m, present)
            ids = [i for i in present if _big_enough(stats[i], p)]
            if objects is not None:
                ids = [i for i in ids if i in objects]
            if ids:
                ref, ref_mask = cand, m
                break
        if ref is None:
            raise EmptyClip(f"video {record.video_id}: no annotated frame with an object passing the size filter")
        others = self._others(record, ref, delta_scale, rng)
        frame_idx = [ref, *others]
        chosen = _choose(ids, p.max_objects, rng)
        labels = self._label_others(record, others, chosen)
        masks = [ref_mask] + [np.zeros_like(ref_mask) if m is None else m for m, _, _ in labels]
        h, w = ref_mask.shape
        views: list[View] = []
        for f, m in zip(frame_idx, masks, strict=True):
            img = record.load_frame(f)
            if img.shape[:2] != (h, w):
                raise DataError(
                    record.frame_paths[f], f"frame is {img.shape[0]}x{img.shape[1]} but the reference frame is {h}x{w}"
                )
            views.append(to_tv(img, _renumber(m, chosen)))
        with torch_seed(rng):
            imgs = [v[0] for v in views]
            if self.sparse:
                imgs = [color_jitter([im], self.aug.video_brightness, self.aug)[0] for im in imgs]
            else:
                imgs = color_jitter(imgs, self.aug.video_brightness, self.aug)
            views = [(im, v[1], v[2]) for im, v in zip(imgs, views, strict=True)]
            views, geo = video_geometric(views, len(chosen), self.aug, rng, p.min_area)
            flipped = bool(rng.random() < self.aug.flip_prob)
            if flipped:
                views = hflip_all(views)
        meta = {
            "dataset": record.dataset,
            "video_id": record.video_id,
            "frame_indices": frame_idx,
            "mode": self.mode_name,
            "geometric": geo,
            "flipped": flipped,
            "orig_size": (int(h), int(w)),
        }
        size = dims_size(h, w, p.resize_min_dim, p.resize_max_dim)
        valid = [True] + [src != LABEL_NONE for _, src, _ in labels]
        sample = _finalize(views, chosen, valid, size, p, meta)
        if self.label_sources:
            sample.label_source = torch.tensor([LABEL_GT] + [src for _, src, _ in labels], dtype=torch.int8)
            sample.label_confidence = torch.tensor([1.0] + [c for _, _, c in labels], dtype=torch.float32)
        return sample


# record -> ClipSample; ``sparse`` says whether only the reference frame has ground truth
ClipMapper = PseudoClipMapper | VideoClipMapper
