"""The training batch type shared by the data pipeline and the training regimes.

A mapper produces one :class:`ClipSample` per training sample (already resized and normalised);
:func:`collate_clips` pads samples to a common size and object count and returns a
:class:`ClipBatch`. Frame 0 of every clip is the reference (annotated) frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

__all__ = ["ClipSample", "ClipBatch", "collate_clips", "LABEL_NONE", "LABEL_GT", "LABEL_PSEUDO"]

# Where a clip frame's mask came from (``label_source``); self-training weighs them differently.
LABEL_NONE, LABEL_GT, LABEL_PSEUDO = 0, 1, 2


@dataclass
class ClipSample:
    """One unpadded clip. T frames, I objects, h x w after resizing.

    frames: [T, 3, h, w] float32, normalised (pixels outside the warped image are 0 = mean colour)
    masks: [T, h, w] int64, 0 = background, 1..I objects (zeros where no GT exists)
    mask_valid: [T] bool, presence: [T, I] bool, meta: dataset/ids/frames/augmentation notes.
    label_source: [T] int8 (LABEL_NONE / LABEL_GT / LABEL_PSEUDO) and label_confidence: [T] float32
    (1 for ground truth, the pseudo-label's confidence, 0 without a label); None = every valid
    frame is ground truth (all mappers but self-training's).
    """

    frames: Tensor
    masks: Tensor
    mask_valid: Tensor
    presence: Tensor
    meta: dict[str, Any] = field(default_factory=dict)
    label_source: Tensor | None = None
    label_confidence: Tensor | None = None

    @property
    def num_objects(self) -> int:
        return int(self.presence.shape[1])


@dataclass
class ClipBatch:
    """A padded batch of clips (see the field comments for shapes)."""

    frames: Tensor  # [B, T, 3, H, W] float32, normalised, zero-padded bottom/right to a multiple of 32
    masks: Tensor  # [B, T, H, W] int64: 0 = background, 1..I = objects (renumbered per sample), padded with 0
    mask_valid: Tensor  # [B, T] bool: ground-truth mask exists for that frame
    presence: Tensor  # [B, T, I_max] bool: object visible in frame (sparse: True on unlabelled frames)
    num_objects: Tensor  # [B] int64: I of each sample
    image_sizes: list[tuple[int, int]]  # unpadded (h, w) per sample
    meta: list[dict]  # dataset, image/video id, frame indices, original ids, ...
    label_source: Tensor | None = None  # [B, T] int8 LABEL_*; None = valid frames are ground truth
    label_confidence: Tensor | None = None  # [B, T] float32; None = 1 on valid frames

    def to(self, device: torch.device | str, non_blocking: bool = False) -> ClipBatch:
        """Move the tensors (meta and sizes stay on the host)."""
        return ClipBatch(
            frames=self.frames.to(device, non_blocking=non_blocking),
            masks=self.masks.to(device, non_blocking=non_blocking),
            mask_valid=self.mask_valid.to(device, non_blocking=non_blocking),
            presence=self.presence.to(device, non_blocking=non_blocking),
            num_objects=self.num_objects.to(device, non_blocking=non_blocking),
            image_sizes=list(self.image_sizes),
            meta=list(self.meta),
            label_source=_opt(self.label_source, lambda x: x.to(device, non_blocking=non_blocking)),
            label_confidence=_opt(self.label_confidence, lambda x: x.to(device, non_blocking=non_blocking)),
        )

    def pin_memory(self) -> ClipBatch:
        """Called by DataLoader(pin_memory=True)."""
        return ClipBatch(
            self.frames.pin_memory(),
            self.masks.pin_memory(),
            self.mask_valid.pin_memory(),
            self.presence.pin_memory(),
            self.num_objects.pin_memory(),
            self.image_sizes,
            self.meta,
            _opt(self.label_source, Tensor.pin_memory),
            _opt(self.label_confidence, Tensor.pin_memory),
        )

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def _opt(x: Tensor | None, fn) -> Tensor | None:
    return None if x is None else fn(x)


def collate_clips(samples: list[ClipSample], size_divisibility: int = 32) -> ClipBatch:
    """Pad to the largest (h, w) rounded up to ``size_divisibility`` and to the largest I."""
    if not samples:
        raise ValueError("collate_clips: empty sample list")
    T = samples[0].frames.shape[0]
    if any(s.frames.shape[0] != T for s in samples):
        raise ValueError(f"collate_clips: clips have different lengths {[s.frames.shape[0] for s in samples]}")
    H = max(s.frames.shape[-2] for s in samples)
    W = max(s.frames.shape[-1] for s in samples)
    H, W = -(-H // size_divisibility) * size_divisibility, -(-W // size_divisibility) * size_divisibility
    I_max = max(s.num_objects for s in samples)
    B = len(samples)
    frames = torch.zeros(B, T, 3, H, W, dtype=torch.float32)
    masks = torch.zeros(B, T, H, W, dtype=torch.int64)
    presence = torch.zeros(B, T, I_max, dtype=torch.bool)
    for b, s in enumerate(samples):
        h, w = s.frames.shape[-2:]
        frames[b, :, :, :h, :w] = s.frames
        masks[b, :, :h, :w] = s.masks
        presence[b, :, : s.num_objects] = s.presence
    return ClipBatch(
        frames=frames,
        masks=masks,
        mask_valid=torch.stack([s.mask_valid for s in samples]),
        presence=presence,
        num_objects=torch.tensor([s.num_objects for s in samples], dtype=torch.int64),
        image_sizes=[(int(s.frames.shape[-2]), int(s.frames.shape[-1])) for s in samples],
        meta=[s.meta for s in samples],
        **_collate_label_sources(samples),
    )


def _collate_label_sources(samples: list[ClipSample]) -> dict[str, Tensor | None]:
    """[B, T] label sources and confidences; samples without them count their valid frames as
    ground truth (confidence 1). None when no sample carries them."""
    if all(s.label_source is None for s in samples):
        return {"label_source": None, "label_confidence": None}
    src = [s.label_source if s.label_source is not None else s.mask_valid.to(torch.int8) * LABEL_GT for s in samples]
    conf = [s.label_confidence if s.label_confidence is not None else s.mask_valid.to(torch.float32) for s in samples]
    return {"label_source": torch.stack(src).to(torch.int8), "label_confidence": torch.stack(conf).float()}
