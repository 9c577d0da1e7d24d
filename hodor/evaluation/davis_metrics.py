"""DAVIS region (J) and contour (F) measures and their per-object statistics.

These follow the definitions of the official davis2017-evaluation toolkit exactly (see
tests/fixtures/davis_eval/README.md for the full specification), because published J&F numbers
are only comparable when every detail agrees: the boundary map ignores the image border, the F
tolerance is a Euclidean disk of radius ceil(0.008 * diagonal), recall counts values strictly
above 0.5, and decay uses round-half-up bin edges whose neighbouring bins share a frame.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

# Fraction of the image diagonal used as F's tolerance radius (official ``bound_th``).
BOUNDARY_FRACTION = 0.008


def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """J = |P ∩ G| / |P ∪ G| of two boolean masks ``[H, W]``; 1.0 when both are empty."""
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & gt) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a boolean mask ``[H, W]`` -> bool ``[H, W]``.

    A pixel is on the boundary when it differs from its right, lower or lower-right neighbour,
    comparing only with neighbours inside the image. So the image border is never a contour
    (a full-frame mask has no boundary at all), and the contour runs on the background side of
    an object's top/left edges and on the object side of its bottom/right edges.
    """
    m = np.asarray(mask, dtype=bool)
    b = np.zeros(m.shape, dtype=bool)
    np.not_equal(m[:, :-1], m[:, 1:], out=b[:, :-1])
    b[:-1, :] |= m[:-1, :] != m[1:, :]
    b[:-1, :-1] |= m[:-1, :-1] != m[1:, 1:]
    return b


def boundary_radius(height: int, width: int) -> int:
    """F tolerance in pixels: ceil(0.008 * sqrt(H^2 + W^2)) (480x854 -> 8, 720x1280 -> 12)."""
    return int(math.ceil(BOUNDARY_FRACTION * math.sqrt(float(height) ** 2 + float(width) ** 2)))


@lru_cache(maxsize=32)
def disk_kernel(radius: int) -> np.ndarray:
    """Euclidean disk structuring element ``uint8 [2r+1, 2r+1]``: offsets with dy^2 + dx^2 <= r^2."""
    r = int(radius)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    k = ((yy * yy + xx * xx) <= r * r).astype(np.uint8)
    k.setflags(write=False)
    return k


def _dilate_count(src: np.ndarray, other: np.ndarray, radius: int) -> int:
    """|other ∩ dilate(src, disk(radius))| for boolean maps, nothing outside the image counting.

    Only the bounding box of ``src`` grown by the radius can be reached by the dilation, so the
    work is done on that crop (exact, and much cheaper for small objects).
    """
    ys, xs = np.nonzero(src.any(axis=1))[0], np.nonzero(src.any(axis=0))[0]
    h, w = src.shape
    y0, y1 = max(0, int(ys[0]) - radius), min(h, int(ys[-1]) + radius + 1)
    x0, x1 = max(0, int(xs[0]) - radius), min(w, int(xs[-1]) + radius + 1)
    crop = np.ascontiguousarray(src[y0:y1, x0:x1], dtype=np.uint8)
    dil = cv2.dilate(crop, disk_kernel(radius), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return int(np.count_nonzero(dil.view(bool) & other[y0:y1, x0:x1]))


def boundary_f_from_maps(pred_b: np.ndarray, gt_b: np.ndarray, radius: int) -> float:
    """F from two boundary maps: harmonic mean of matched-boundary precision and recall.

    Matching is by tolerance (a pixel counts when the other boundary lies within the disk), not
    one-to-one. Empty boundaries: both empty -> 1; exactly one empty -> 0.
    """
    n_pred = int(np.count_nonzero(pred_b))
    n_gt = int(np.count_nonzero(gt_b))
    if n_pred == 0 and n_gt == 0:
        precision = recall = 1.0
    elif n_pred == 0:
        precision, recall = 1.0, 0.0
    elif n_gt == 0:
        precision, recall = 0.0, 1.0
    else:
        precision = _dilate_count(gt_b, pred_b, radius) / n_pred
        recall = _dilate_count(pred_b, gt_b, radius) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


def boundary_f(pred: np.ndarray, gt: np.ndarray, radius: int | None = None) -> float:
    """F (contour accuracy) of two boolean masks ``[H, W]``; radius defaults to the DAVIS rule."""
    if radius is None:
        radius = boundary_radius(*gt.shape)
    return boundary_f_from_maps(boundary_map(pred), boundary_map(gt), radius)


def decay_bin_edges(n: int) -> list[int]:
    """Frame indices e_0..e_4 = round_half_up(1 + k (n-1) / 4) - 1, computed exactly in integers."""
    if n < 1:
        raise ValueError(f"decay needs at least one value, got n={n}")
    # round_half_up((4 + k(n-1)) / 4) == floor((4 + k(n-1) + 2) / 4)
    return [(6 + k * (n - 1)) // 4 - 1 for k in range(5)]


def statistics(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, recall, decay) of one object's per-frame J or F values ``[n]``.

    Recall counts values strictly above 0.5. Decay is mean(first quarter) - mean(fourth quarter),
    where the quarters are inclusive frame ranges between the round-half-up bin edges.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"statistics need a non-empty 1-D array, got shape {v.shape}")
    e = decay_bin_edges(v.size)
    decay = float(np.mean(v[e[0] : e[1] + 1]) - np.mean(v[e[3] : e[4] + 1]))
    return float(np.mean(v)), float(np.mean(v > 0.5)), decay


def _object_window(pred_k: np.ndarray, gt_k: np.ndarray) -> tuple[slice, slice] | None:
    """Bounding box of ``pred_k | gt_k`` grown by one pixel on every side (clipped to the image).

    Every boundary pixel of either mask lies inside it, and the extra row/column keeps the
    boundary map exact on the box (its outer pixels compare with background, just as in the full
    image, while the true image border stays a border). So J and F computed on the box equal
    the full-image values; None when both masks are empty.
    """
    rows = np.flatnonzero(pred_k.any(axis=1) | gt_k.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(pred_k.any(axis=0) | gt_k.any(axis=0))
    h, w = pred_k.shape
    return (
        slice(max(0, int(rows[0]) - 1), min(h, int(rows[-1]) + 2)),
        slice(max(0, int(cols[0]) - 1), min(w, int(cols[-1]) + 2)),
    )


def frame_scores(pred: np.ndarray, gt: np.ndarray, num_objects: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """J and F of objects 1..K in one frame -> two ``float64 [K]`` arrays.

    ``pred`` and ``gt`` are integer id maps ``[H, W]`` of the same size (void already removed
    from ``gt``); object k is ``map == k``; ids above K are simply not looked at.
    """
    j = np.ones(num_objects, dtype=np.float64)  # both masks empty -> J = F = 1
    f = np.ones(num_objects, dtype=np.float64)
    for i, k in enumerate(range(1, num_objects + 1)):
        p, g = pred == k, gt == k
        win = _object_window(p, g)
        if win is None:
            continue
        p, g = p[win], g[win]
        j[i] = region_similarity(p, g)
        f[i] = boundary_f_from_maps(boundary_map(p), boundary_map(g), radius)
    return j, f


def object_jf(gt: np.ndarray, pred: np.ndarray, object_id: int) -> tuple[float, float]:
    """(J, F) of one object in one frame of two id maps ``[H, W]`` (no void): the object is
    ``map == object_id``; absent from both -> (1, 1); F radius by the DAVIS rule."""
    g, p = gt == object_id, pred == object_id
    win = _object_window(p, g)
    if win is None:
        return 1.0, 1.0
    j = region_similarity(p[win], g[win])
    return j, boundary_f_from_maps(boundary_map(p[win]), boundary_map(g[win]), boundary_radius(*gt.shape))
