"""Annotation cost of a training run: how many labels the configured regime can actually use.

Why: hodor learns from few labels, so a score means little without the labels behind it. The
count is what the sample plan can draw and the regime can supervise, not what the dataset holds:

* images (``static_image``): images with at least one instance passing the size filter (a
  candidate with objects), each one labelled image;
* dense video: the distinct annotated frames that appear in some clip, i.e. every usable
  reference frame (one with a qualifying object) and the annotated frames its clip draws from
  (``VideoClipMapper.supervised_frames``);
* sparse video: the one annotated reference frame per video that the sparse regime supervises
  (the other annotated frames of a video are never used as ground truth);
* self-training: the reference frame of each video plus every other annotated frame inside its
  window (``SelfTrainingClipMapper.supervised_frames``) are labelled video frames;
* pseudo-labelled frames (self-training; 0 for every other mode and with USE_PSEUDO_LABELS off,
  the key is always present): the distinct frames without ground truth inside a usable
  reference's window whose pseudo-label some clip uses, i.e. at least ``min(#objects, N)`` of
  the reference's qualifying objects reach MIN_CONFIDENCE there
  (``SelfTrainingClipMapper.pseudo_frames``). Pseudo-labels are not annotations: "labels used"
  (``hodor.training.annotation_cost.labels_used``) leaves them out.

A dataset with ratio 0 is listed with zero counts (nothing is drawn from it). Computed once at
start-up from the records and the sample plan's candidates (no image is decoded for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .balance import Candidate

__all__ = ["COST_FIELDS", "dataset_annotation_cost", "total_annotation_cost"]

COST_FIELDS = ("labelled_images", "labelled_video_frames", "pseudo_labelled_frames")


def dataset_annotation_cost(
    kind: str,
    records: Sequence[Any],
    candidates: Sequence[Candidate],
    mapper: Any = None,
    delta_scale: float = 1.0,
    drawn: bool = True,
    objects_known: bool = True,
) -> dict[str, int]:
    """Counts of one training dataset (see the module docstring).

    ``kind``: "image" or "video"; ``candidates`` index into ``records`` (hodor.data.balance);
    ``mapper``: the ``VideoClipMapper`` of the run (video only); ``drawn``: False for a ratio-0
    dataset; ``objects_known``: False when the candidates' objects are placeholders (no sample
    plan, masks not decoded): pseudo-labelled frames are then an upper bound.
    """
    usable = [c for c in candidates if c.objects] if drawn else []
    cost = dict.fromkeys(COST_FIELDS, 0)
    if kind == "image":
        cost["labelled_images"] = len({c.item for c in usable})
        return cost
    frames: set[tuple[int, int]] = set()
    pseudo: set[tuple[int, int]] = set()
    for c in usable:
        r = records[c.item]
        frames.update((c.item, int(t)) for t in mapper.supervised_frames(r, c.ref, delta_scale))
        objects = c.objects if objects_known else None
        pseudo.update((c.item, int(t)) for t in mapper.pseudo_frames(r, c.ref, delta_scale, objects))
    cost["labelled_video_frames"] = len(frames)
    cost["pseudo_labelled_frames"] = len(pseudo)
    cost["videos"] = len({c.item for c in usable})
    return cost


def total_annotation_cost(mode: str, per_dataset: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The ``annotation_cost`` entry of the training metadata: totals, mode and per-dataset counts."""
    out: dict[str, Any] = {k: sum(int(d.get(k, 0)) for d in per_dataset.values()) for k in COST_FIELDS}
    out["mode"] = mode
    out["datasets"] = {name: dict(d) for name, d in per_dataset.items()}
    return out
