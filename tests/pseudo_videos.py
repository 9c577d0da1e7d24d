"""A tiny pseudo-label dataset written by hand for the self-training tests.

Each video is 64x64 PNG frames with two square objects (object 1 moves down, object 2 right).
Ground truth (index PNGs) exists on the frames listed as ``gt``; every other frame in
``confidence`` has a pseudo-label PNG whose object 1 is shifted 6 pixels right of the truth (so
a pseudo mask is never equal to the ground truth) and the given per-object confidences.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from hodor.data.records import PseudoLabel, VideoRecord
from hodor.utils.palette import save_index_png

SIZE = 64


@dataclass
class VideoSpec:
    n: int  # frames
    gt: tuple[int, ...]  # frames with ground truth
    confidence: dict[int, dict[int, float]] = field(default_factory=dict)  # pseudo frame -> object -> conf
    tiny: bool = False  # objects of 2x2 pixels (fail the size filter)


def truth(f: int, tiny: bool = False, pseudo: bool = False, pseudo_dx: int = 6) -> np.ndarray:
    """The index map of frame ``f`` (objects 1 and 2); ``pseudo``: object 1 ``pseudo_dx`` pixels right."""
    m = np.zeros((SIZE, SIZE), np.uint8)
    if tiny:
        m[5:7, 5:7] = 1
        return m
    dx = pseudo_dx if pseudo else 0
    m[6 + f : 26 + f, 6 + dx : 26 + dx] = 1
    m[36:56, 30 + f : 50 + f] = 2
    return m


def write_videos(
    root: str, videos: dict[str, VideoSpec], dataset: str = "pseudo_test", pseudo_dx: int = 6
) -> list[VideoRecord]:
    """Write the frames, ground truth and pseudo-labels under ``root``; return their records."""
    palette = np.array([[90, 90, 90], [220, 40, 40], [40, 200, 60]], np.uint8)
    records = []
    for vid, spec in videos.items():
        d = os.path.join(root, vid)
        os.makedirs(d, exist_ok=True)
        frames = []
        for f in range(spec.n):
            path = os.path.join(d, f"{f:05d}.png")
            Image.fromarray(palette[truth(f, spec.tiny)]).save(path)
            frames.append(path)
        ann = {}
        for f in spec.gt:
            ann[f] = os.path.join(d, f"gt_{f:05d}.png")
            save_index_png(ann[f], truth(f, spec.tiny))
        pseudo = {}
        for f, conf in spec.confidence.items():
            path = os.path.join(d, f"pseudo_{f:05d}.png")
            save_index_png(path, truth(f, spec.tiny, pseudo=True, pseudo_dx=pseudo_dx))
            pseudo[f] = PseudoLabel(path, dict(conf))
        records.append(VideoRecord(dataset, vid, frames, ann, height=SIZE, width=SIZE, pseudo_labels=pseudo))
    return records


# 8 frames, ground truth on 3 (the "middle" reference: |3 - 3.5| < |5 - 3.5|) and 5.
VIDEO_A = VideoSpec(
    8,
    gt=(3, 5),
    confidence={
        0: {1: 0.9, 2: 0.9},
        1: {1: 0.9, 2: 0.5},
        2: {1: 0.8, 2: 0.95},
        4: {1: 0.95, 2: 0.75},
        5: {1: 0.99, 2: 0.99},  # has ground truth: never used
        6: {1: 0.6, 2: 0.6},
        7: {1: 0.9},  # object 2 not listed: counts as 0
    },
)
