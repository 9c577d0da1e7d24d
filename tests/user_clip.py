"""A synthetic stand-in for a user's real clip (real clips stay out of the repository).

Shaped like the Cutie example clips the issue was reproduced on (854x480 JPEG frames, a palette
PNG annotation of frame 0 with one object of thin structures (bike spokes) and one solid object,
and a judo-style add-object mask one column narrower than the frames), but drawn here, so the
tests need no downloaded data. Created once per test session in a temporary folder.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile

import cv2
import numpy as np

from hodor.utils.palette import save_index_png

H, W, T = 480, 854, 4


def _frame(t: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One RGB frame and its index map: a wheel of 2-px spokes (id 1) and a solid ellipse (id 2)."""
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.stack([(xx * 0.2 + 40) % 255, (yy * 0.3 + 60) % 255, np.full((H, W), 90.0)], -1)
    img += rng.normal(0, 6, img.shape)
    mask = np.zeros((H, W), np.uint8)
    cx, cy = 300 + 6 * t, 250
    wheel = np.zeros((H, W), np.uint8)
    cv2.circle(wheel, (cx, cy), 110, 1, 3)
    for k in range(12):  # thin spokes: lost when re-rendered through a 64x114 network size
        a = np.pi * k / 6 + 0.05 * t
        cv2.line(wheel, (cx, cy), (int(cx + 110 * np.cos(a)), int(cy + 110 * np.sin(a))), 1, 2)
    mask[wheel > 0] = 1
    blob = np.zeros((H, W), np.uint8)
    cv2.ellipse(blob, (620 - 4 * t, 230), (70, 110), 15, 0, 360, 1, -1)
    mask[(blob > 0) & (mask == 0)] = 2
    img[mask == 1] = (30, 30, 35)
    img[mask == 2] = (200, 70, 60)
    return np.clip(img, 0, 255).astype(np.uint8), mask


@functools.cache
def user_clip() -> str:
    """Folder with JPEGImages/0000t.jpg, Annotations/00000.png and narrow_add_object.png (480x853, id 2)."""
    root = tempfile.mkdtemp(prefix="hodor-user-clip-")
    atexit.register(shutil.rmtree, root, True)
    os.makedirs(os.path.join(root, "JPEGImages"))
    os.makedirs(os.path.join(root, "Annotations"))
    rng = np.random.default_rng(0)
    for t in range(T):
        img, mask = _frame(t, rng)
        cv2.imwrite(os.path.join(root, "JPEGImages", f"{t:05d}.jpg"), img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        if t == 0:
            save_index_png(os.path.join(root, "Annotations", "00000.png"), mask)
    add = np.zeros((H, W - 1), np.uint8)  # an add-object mask 853 px wide for 854-px frames
    cv2.ellipse(add, (700, 300), (40, 90), 0, 0, 360, 2, -1)
    save_index_png(os.path.join(root, "narrow_add_object.png"), add)
    return root
