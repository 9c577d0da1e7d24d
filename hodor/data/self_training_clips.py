"""Clips for self-training (TRAINING.MODE = self_training): sparse-video clips whose unlabelled
frames take the model's own pseudo-labels.

Why a sparse-video subclass: a self-training run must see exactly the clips the sparse run sees,
so that the only difference between the two is the labels. The reference frame is a ground-truth
frame chosen by TRAINING.SPARSE_REF_FRAME, the T-1 other frames come from the same window, and
every random draw (frames, objects, colour jitter drawn per frame as in sparse clips, geometry,
flip) is the sparse mapper's, in the same order. Colour jitter does not touch masks, so the
sparse rule costs the labels nothing.

Each other frame is labelled with, in this order of precedence:

1. its ground truth, when the record has it (``LABEL_GT``);
2. its pseudo-label (``VideoRecord.pseudo_labels``), when TRAINING.SELF_TRAINING.USE_PSEUDO_LABELS
   and the *least* confidence over the clip's chosen objects reaches MIN_CONFIDENCE
   (``LABEL_PSEUDO``; an object the pseudo-label lists no confidence for counts as 0);
3. nothing (``LABEL_NONE``: mask_valid False, as in sparse clips).

The clip carries ``label_source`` and ``label_confidence`` per frame; the regime
(``hodor.training.regimes.SelfTrainingRegime``) turns them into loss weights.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..structures.batch import LABEL_GT, LABEL_NONE, LABEL_PSEUDO
from .augment import AugConfig
from .clips import ClipParams, FrameLabel, VideoClipMapper
from .records import VideoRecord

__all__ = ["SelfTrainingClipMapper", "least_confidence"]


def least_confidence(confidence: dict[int, float], objects: Iterable[int]) -> float:
    """The smallest confidence of ``objects`` (an object without an entry counts as 0)."""
    return min((float(confidence.get(int(o), 0.0)) for o in objects), default=0.0)


class SelfTrainingClipMapper(VideoClipMapper):
    """VideoRecord (with ``pseudo_labels``) -> a sparse-video clip whose other frames carry ground
    truth or confident pseudo-labels (see the module docstring)."""

    label_sources = True

    def __init__(self, params: ClipParams, aug: AugConfig, max_ref_tries: int = 5) -> None:
        super().__init__(params, aug, sparse=True, max_ref_tries=max_ref_tries)

    @property
    def mode_name(self) -> str:
        return "self_training"

    def _pseudo_ok(self, record: VideoRecord, f: int, objects: Iterable[int]) -> float | None:
        """Least confidence of frame ``f``'s pseudo-label over ``objects`` when the frame may use
        it (no ground truth, pseudo-labels enabled, confident enough), else None."""
        if f in record.annotations or not self.p.use_pseudo_labels or not record.pseudo_labels:
            return None
        label = record.pseudo_labels.get(f)
        if label is None:
            return None
        c = least_confidence(label.confidence, objects)
        return c if c >= self.p.min_pseudo_confidence else None

    def _label_others(self, record: VideoRecord, others: list[int], chosen: list[int]) -> list[FrameLabel]:
        out: list[FrameLabel] = []
        for f in others:
            if f in record.annotations:
                out.append((record.load_mask(f), LABEL_GT, 1.0))
            elif (c := self._pseudo_ok(record, f, chosen)) is not None:
                out.append((record.load_pseudo_mask(f), LABEL_PSEUDO, c))
            else:
                out.append((None, LABEL_NONE, 0.0))
        return out

    def supervised_frames(self, record: VideoRecord, ref: int, scale: float = 1.0) -> list[int]:
        """Ground-truth frames a clip with reference ``ref`` can use: the reference and every
        annotated frame of its window."""
        return [ref, *(f for f in self.window_frames(record, ref, scale) if f in record.annotations)]

    def pseudo_frames(
        self, record: VideoRecord, ref: int, scale: float = 1.0, objects: tuple[int, ...] | None = None
    ) -> list[int]:
        """Pseudo-labelled frames of ``ref``'s window that some clip with this reference uses.

        A clip keeps ``min(len(objects), N)`` of the reference's qualifying ``objects`` and uses a
        pseudo-label when all of them reach MIN_CONFIDENCE; so a frame counts when at least that
        many of ``objects`` do (with at most N objects: all of them). ``objects`` None (not known
        without decoding the reference mask): a frame counts when any object reaches it (an upper
        bound). [] when USE_PSEUDO_LABELS is off.
        """
        if not self.p.use_pseudo_labels or not record.pseudo_labels:
            return []
        thr = self.p.min_pseudo_confidence
        out = []
        for f in self.window_frames(record, ref, scale):
            label = record.pseudo_labels.get(f)
            if f in record.annotations or label is None:
                continue
            if objects is None:
                ok = any(float(c) >= thr for c in label.confidence.values())
            else:
                passing = sum(float(label.confidence.get(int(o), 0.0)) >= thr for o in objects)
                ok = len(objects) > 0 and passing >= min(len(objects), self.p.max_objects)
            if ok:
                out.append(f)
        return out
