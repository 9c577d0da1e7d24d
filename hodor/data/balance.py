"""Object-count balanced sample lists, as the original builds them before training.

Why: COCO is dominated by images with many objects. Drawing images uniformly and keeping
``min(#objects, N)`` makes most training samples N-object samples. The original HODOR
(``create_training_samples`` for images, ``create_training_subsequences`` for dense video) instead
pre-builds a list with the **same number of 1-, 2-, ..., N-object samples**:

* every *candidate* (an image, or a (video, annotated reference frame) pair) is put in the bin
  ``min(#qualifying objects, N)``;
* the bins are filled from N down to 1, each with ``L / N`` entries (+-1), from a *pool* that
  holds the candidates of this bin and of every bin above it (pool = this bin's candidates,
  then the pool of the bin above), walked cyclically in order;
* a candidate with more qualifying objects than the bin gets a random subset of them (fixed seed
  2202, so every process builds the same list).

hodor's list is infinite: "epoch" e is the same construction with each bin's walk continuing
where epoch e-1 stopped (so the concatenation of epochs equals the original's single long list)
and the random subsets drawn from ``default_rng([2202, dataset, e])``.

Sparse video is *not* balanced in the original (one reference frame per video, each video equally
often, at most N random objects); :func:`uniform_samples` builds that list, and is also what
``DATALOADER.BALANCE_OBJECT_COUNTS False`` uses for every mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "BALANCE_SEED",
    "Candidate",
    "PlannedSample",
    "balanced_samples",
    "uniform_samples",
    "image_candidates",
    "video_candidates",
    "SamplePlan",
]

BALANCE_SEED = 2202  # the original's seed for its sample lists


@dataclass(frozen=True)
class Candidate:
    """One base item: ``item`` of a dataset, its reference frame (-1 = none/image), the objects that
    pass the size filter (instance indices for images, object ids for videos) and its size."""

    item: int
    ref: int
    objects: tuple[int, ...]
    height: int
    width: int


@dataclass(frozen=True)
class PlannedSample:
    """One entry of a sample list: which item, reference frame and objects the mapper must use."""

    dataset: int
    item: int
    ref: int
    objects: tuple[int, ...]
    height: int
    width: int

    @property
    def num_objects(self) -> int:
        return len(self.objects)

    @property
    def aspect_ratio(self) -> float:
        """h / w of the unresized image (what the original groups by)."""
        return self.height / self.width


def _subset(objects: tuple[int, ...], k: int, rng: np.random.Generator) -> tuple[int, ...]:
    if len(objects) <= k:
        return objects
    pick = np.sort(rng.choice(len(objects), size=k, replace=False))
    return tuple(objects[int(j)] for j in pick)


def balanced_samples(
    candidates: Sequence[Candidate], length: int, max_objects: int, dataset: int = 0, epoch: int = 0
) -> list[PlannedSample]:
    """Epoch ``epoch`` of the balanced list of ``length`` entries (see the module docstring).

    Raises ValueError when some bin 1..N has an empty pool (no candidate has that many objects
    at all would make the original divide by zero; here it means every candidate has fewer
    objects than the bin, i.e. ``max_objects`` is larger than any candidate's count).
    """
    if length <= 0 or max_objects <= 0:
        raise ValueError(f"balanced_samples: length ({length}) and max_objects ({max_objects}) must be > 0")
    bins: dict[int, list[Candidate]] = {}
    for c in candidates:
        if c.objects:
            bins.setdefault(min(len(c.objects), max_objects), []).append(c)
    rng = np.random.default_rng([BALANCE_SEED, dataset, epoch])
    out: list[PlannedSample] = []
    pool: list[Candidate] = []
    for n in range(max_objects, 0, -1):
        pool = bins.get(n, []) + pool
        # bins N, N-1, ... get ceil(length / N) until the remainder is used up, the rest floor
        # (the original gives every bin the ceiling and cuts the list, so bin 1 can be short by
        # up to N-1; with its lengths, multiples of 8, both are exactly equal)
        per_bin = length // max_objects + (1 if max_objects - n < length % max_objects else 0)
        if not pool:
            continue  # no candidate with >= n objects: the bin stays empty (original: ZeroDivisionError)
        start = epoch * per_bin
        for j in range(start, start + per_bin):
            c = pool[j % len(pool)]
            out.append(PlannedSample(dataset, c.item, c.ref, _subset(c.objects, n, rng), c.height, c.width))
    return out


def uniform_samples(
    candidates: Sequence[Candidate], length: int, max_objects: int, dataset: int = 0, epoch: int = 0
) -> list[PlannedSample]:
    """Every candidate equally often (cyclically, continuing across epochs), with at most
    ``max_objects`` random objects: the original's sparse-video list, and the unbalanced option."""
    if length <= 0:
        raise ValueError(f"uniform_samples: length must be > 0, got {length}")
    usable = [c for c in candidates if c.objects]
    if not usable:
        return []
    rng = np.random.default_rng([BALANCE_SEED, dataset, epoch])
    out = []
    for j in range(epoch * length, (epoch + 1) * length):
        c = usable[j % len(usable)]
        out.append(PlannedSample(dataset, c.item, c.ref, _subset(c.objects, max_objects, rng), c.height, c.width))
    return out


# ----------------------------------------------------------------------------- candidates
def image_candidates(records: Sequence[Any], min_area: float, min_dim: float) -> list[Candidate]:
    """One candidate per image; objects = indices (into the non-crowd instances, the order the
    mapper decodes them in) whose annotated area and bbox pass the size filter (unknown values
    pass; the mapper re-checks on the decoded masks)."""
    out = []
    for i, r in enumerate(records):
        insts = [a for a in r.instances if not a.iscrowd]
        ok = tuple(
            j
            for j, a in enumerate(insts)
            if not (a.area >= 0 and a.area < min_area)
            and not (a.bbox is not None and (a.bbox[2] < min_dim or a.bbox[3] < min_dim))
        )
        out.append(Candidate(i, -1, ok, int(r.height), int(r.width)))
    return out


def video_candidates(
    records: Sequence[Any],
    mapper: Any,
    sparse: bool,
    seed: int = BALANCE_SEED,
    indices: Sequence[int] | None = None,
) -> list[Candidate]:
    """Dense: one candidate per usable annotated reference frame; sparse: one per video (its
    reference frame chosen by TRAINING.SPARSE_REF_FRAME; "random" is drawn once per video).

    Decodes the masks it needs once, at start-up (every usable annotated frame for dense video),
    because the object count of a frame is only known from its mask. ``indices``: only these
    records (in this order), e.g. one rank's share; each record's candidates depend on the record
    and its index alone, so shares computed apart and merged by index equal the whole.
    """
    out = []
    for i in range(len(records)) if indices is None else indices:
        r = records[i]
        refs = mapper.reference_candidates(r, np.random.default_rng([seed, i]))
        h, w = (int(r.height), int(r.width)) if r.height and r.width else r.frame_size(0)
        for t in refs:
            objs = tuple(mapper.qualifying_objects(r, t))
            if objs:
                out.append(Candidate(i, int(t), objs, int(h), int(w)))
                if sparse:
                    break  # one reference frame per video: the first usable one in the rule's order
    return out


class SamplePlan:
    """Epoch ``e`` -> the concatenated sample lists of every training dataset.

    Dataset d contributes ``lengths[d]`` entries per epoch (the mixture ratios), balanced over
    object counts when ``balanced[d]`` (static images and dense video with
    DATALOADER.BALANCE_OBJECT_COUNTS), else each candidate equally often.
    """

    def __init__(
        self,
        candidates: Sequence[Sequence[Candidate]],
        lengths: Sequence[int],
        max_objects: int,
        balanced: Sequence[bool],
    ) -> None:
        if not (len(candidates) == len(lengths) == len(balanced)):
            raise ValueError("SamplePlan: one candidate list, length and balance flag per dataset")
        self.candidates = [list(c) for c in candidates]
        self.lengths = [int(n) for n in lengths]
        self.max_objects = int(max_objects)
        self.balanced = list(balanced)

    def __call__(self, epoch: int) -> list[PlannedSample]:
        out: list[PlannedSample] = []
        for d, (cands, n, bal) in enumerate(zip(self.candidates, self.lengths, self.balanced, strict=True)):
            if n <= 0:
                continue  # ratio 0: the dataset is listed but not drawn from
            build = balanced_samples if bal else uniform_samples
            out.extend(build(cands, n, self.max_objects, dataset=d, epoch=epoch))
        return out
