"""Shared pieces of the tests: a tiny config and a deterministic, resumable clip stream."""

from __future__ import annotations

import os

import torch

from hodor.config import load_config
from hodor.structures.batch import ClipBatch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = os.path.join(REPO, "configs", "quick_schedules")


def tiny_cfg(output_dir: str, *opts: str, config: str = "Base-quick.yaml"):
    """The quick-schedule architecture (resnet18, 64 channels, 1+1 layers) writing to ``output_dir``."""
    return load_config(os.path.join(QUICK, config), ["OUTPUT_DIR", str(output_dir), *opts])


class ClipStream:
    """Infinite stream of random ClipBatches (size x size frames, a multiple of 32); batch k depends only on (seed, k), so the stream
    resumes exactly from ``state_dict()`` (the role the data pipeline's sampler plays).

    Samples have 1 or 2 objects (so batches mix object counts) drawn as rectangles that move
    between frames; object 2 can be absent from frame 1 (exercises trackability).
    """

    def __init__(self, batch_size: int, frames: int = 3, size: int = 64, seed: int = 0, sparse: bool = False) -> None:
        self.batch_size, self.frames, self.size, self.seed, self.sparse = batch_size, frames, size, seed, sparse
        self.pos = 0
        self.poison: set[int] = set()  # batch indices whose frames are NaN (non-finite guard tests)

    def make(self, k: int) -> ClipBatch:
        g = torch.Generator().manual_seed(self.seed * 100003 + k)
        B, T, S = self.batch_size, self.frames, self.size
        frames = torch.randn(B, T, 3, S, S, generator=g)
        masks = torch.zeros(B, T, S, S, dtype=torch.int64)
        counts = 1 + (torch.arange(B) + k) % 2  # alternating 1 and 2 objects: batches mix counts
        presence = torch.zeros(B, T, 2, dtype=torch.bool)
        for b in range(B):
            for i in range(int(counts[b])):
                y, x = (int(v) for v in torch.randint(0, S // 2, (2,), generator=g))
                for t in range(T):
                    if i == 1 and t == 1 and bool(torch.rand(1, generator=g) < 0.5):
                        continue
                    dy, dx = (int(v) for v in torch.randint(-4, 5, (2,), generator=g))
                    y0, x0 = max(0, y + dy), max(0, x + dx)
                    masks[b, t, y0 : y0 + S // 3, x0 : x0 + S // 3] = i + 1
                    frames[b, t, :, y0 : y0 + S // 3, x0 : x0 + S // 3] += 1.0 + i
            for i in range(int(counts[b])):
                presence[b, :, i] = (masks[b] == i + 1).flatten(1).any(1)
        valid = torch.ones(B, T, dtype=torch.bool)
        if self.sparse:
            valid[:, 1:] = False
            masks[:, 1:] = 0
            presence[:, 1:] = True
        if k in self.poison:
            frames[:] = float("nan")
        return ClipBatch(frames, masks, valid, presence, counts.long(), [(S, S)] * B, [{"k": k}] * B)

    def __iter__(self):
        while True:
            batch = self.make(self.pos)
            self.pos += 1
            yield batch

    def state_dict(self) -> dict:
        return {"pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.pos = int(state["pos"])
