"""Text labels on images (overlay videos, TensorBoard grids), so a viewer knows what they see.

Labels are drawn *into* the image (a filled dark box with white text), so image sizes do not change.
"""

from __future__ import annotations

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _scale_for(img: np.ndarray) -> float:
    """Text scale that stays readable from 64 px to 1080 px images."""
    return float(np.clip(min(img.shape[:2]) / 400.0, 0.3, 1.0))


def put_label(img: np.ndarray, text: str, xy: tuple[int, int] = (0, 0), scale: float | None = None) -> np.ndarray:
    """Draw ``text`` in a dark box whose top-left corner is ``xy`` (clipped to the image); in place.

    ``img`` is RGB uint8 [H,W,3] and contiguous; returns it.
    """
    scale = _scale_for(img) if scale is None else scale
    thick = max(1, int(round(scale * 1.5)))
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    pad = max(2, int(3 * scale))
    h, w = img.shape[:2]
    x = int(np.clip(xy[0], 0, max(0, w - tw - 2 * pad)))
    y = int(np.clip(xy[1], 0, max(0, h - th - base - 2 * pad)))
    cv2.rectangle(img, (x, y), (x + tw + 2 * pad, y + th + base + 2 * pad), (0, 0, 0), thickness=-1)
    cv2.putText(img, text, (x + pad, y + pad + th), _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return img


def label_object_ids(img: np.ndarray, index_map: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Write each object's id at its innermost pixel (maximum of the distance transform); in place."""
    ids = [int(v) for v in np.unique(index_map) if v != 0]
    for oid in ids:
        m = (index_map == oid).astype(np.uint8)
        dist = cv2.distanceTransform(np.pad(m, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
        y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
        put_label(img, str(oid), (int(x) - 6, int(y) - 8), scale)
    return img
