"""Unit tests of J, the boundary map, F and the per-object statistics (official definitions)."""

from __future__ import annotations

import numpy as np
import pytest

from hodor.evaluation.davis_metrics import (
    boundary_f,
    boundary_f_from_maps,
    boundary_map,
    boundary_radius,
    decay_bin_edges,
    disk_kernel,
    frame_scores,
    region_similarity,
    statistics,
)


def test_region_similarity_cases():
    e = np.zeros((4, 5), bool)
    a = e.copy()
    a[1:3, 1:3] = True
    b = e.copy()
    b[1:3, 2:4] = True
    assert region_similarity(e, e) == 1.0
    assert region_similarity(a, e) == 0.0 and region_similarity(e, a) == 0.0
    assert region_similarity(a, b) == pytest.approx(2 / 6)


def test_boundary_map_ignores_image_border_and_uses_three_neighbours():
    full = np.ones((6, 7), bool)
    assert not boundary_map(full).any()
    m = np.zeros((5, 5), bool)
    m[2, 2] = True
    b = boundary_map(m)
    # The single pixel differs from its right/lower/lower-right neighbours; the pixels above,
    # left and upper-left see it as their lower/right/lower-right neighbour.
    expected = np.zeros((5, 5), bool)
    expected[[1, 1, 2, 2], [1, 2, 1, 2]] = True
    np.testing.assert_array_equal(b, expected)
    # Last row compares only to the right, last column only downwards, corner never.
    m = np.zeros((3, 3), bool)
    m[2, 2] = True
    b = boundary_map(m)
    assert b[2, 1] and b[1, 2] and b[1, 1] and not b[2, 2]
    m = np.zeros((3, 3), bool)
    m[:, 2] = True  # a line in the last column: only the left column boundary shows
    np.testing.assert_array_equal(boundary_map(m), np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]], bool))


def test_radius_and_disk():
    assert boundary_radius(480, 854) == 8 and boundary_radius(720, 1280) == 12
    assert boundary_radius(150, 200) == 2 and boundary_radius(64, 64) == 1
    k = disk_kernel(2)
    assert k.shape == (5, 5) and k.sum() == 13 and k[0, 2] == 1 and k[0, 1] == 0


def test_f_special_cases():
    e = np.zeros((8, 8), bool)
    assert boundary_f(e, e) == 1.0  # both empty
    full = np.ones((8, 8), bool)
    assert boundary_f(full, full) == 1.0  # both without boundary
    corner = full.copy()
    corner[:2, :2] = False
    assert boundary_f(corner, full) == 0.0  # GT has no boundary, prediction has one
    assert boundary_f(full, corner) == 0.0
    assert boundary_f(corner, corner) == 1.0


def _dilate_reference(src: np.ndarray, r: int) -> np.ndarray:
    h, w = src.shape
    out = np.zeros_like(src)
    ys, xs = np.nonzero(src)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy * dy + dx * dx <= r * r:
                yy, xx = ys + dy, xs + dx
                ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
                out[yy[ok], xx[ok]] = True
    return out


def _f_reference(p: np.ndarray, g: np.ndarray, r: int) -> float:
    bp, bg = boundary_map(p), boundary_map(g)
    prec = (bp & _dilate_reference(bg, r)).sum() / bp.sum()
    rec = (bg & _dilate_reference(bp, r)).sum() / bg.sum()
    return 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)


@pytest.mark.parametrize("seed", range(4))
def test_f_matches_brute_force_disk_dilation(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(20, 40, size=2)
    r = int(rng.integers(1, 6))
    p = np.zeros((h, w), bool)
    g = np.zeros((h, w), bool)
    for m in (p, g):
        y, x = rng.integers(0, h - 5), rng.integers(0, w - 5)
        m[y : y + rng.integers(3, h - y + 1), x : x + rng.integers(3, w - x + 1)] = True
        m[rng.random((h, w)) < 0.05] ^= True  # ragged boundary, some stray pixels at the border
    expected = _f_reference(p, g, r)
    got = boundary_f_from_maps(boundary_map(p), boundary_map(g), r)
    assert got == pytest.approx(expected, abs=1e-15)


def test_decay_edges_round_half_up():
    assert decay_bin_edges(1) == [0, 0, 0, 0, 0]
    assert decay_bin_edges(7) == [0, 2, 3, 5, 6]  # 2.5 -> 3 (not 2 as with round-half-even)
    assert decay_bin_edges(11) == [0, 3, 5, 8, 10]
    assert decay_bin_edges(84) == [0, 21, 42, 62, 83]


def test_statistics_recall_strict_and_decay_inclusive_bins():
    v = np.array([1.0, 1.0, 0.5, 0.5, 0.5, 0.0, 0.0])
    m, r, d = statistics(v)
    assert m == pytest.approx(3.5 / 7)
    assert r == pytest.approx(2 / 7)  # 0.5 itself is not counted
    assert d == pytest.approx(np.mean(v[0:3]) - np.mean(v[5:7]))
    assert statistics(np.array([0.3])) == (0.3, 0.0, 0.0)


def test_frame_scores_pads_missing_ids_and_ignores_higher_gt_ids():
    gt = np.zeros((10, 10), np.uint8)
    gt[1:4, 1:4] = 1
    gt[6:9, 6:9] = 3  # id 3 > K=2: not scored
    pred = np.zeros_like(gt)
    pred[1:4, 1:4] = 1
    j, f = frame_scores(pred, gt, 2, 1)
    np.testing.assert_array_equal(j, [1.0, 1.0])  # object 2 absent in both -> 1
    np.testing.assert_array_equal(f, [1.0, 1.0])


@pytest.mark.parametrize("seed", range(3))
def test_frame_scores_window_equals_full_image(seed):
    """Objects are scored on their bounding window; that must equal the full-image J and F."""
    rng = np.random.default_rng(100 + seed)
    h, w = 30, 41
    gt = np.zeros((h, w), np.uint8)
    pred = np.zeros((h, w), np.uint8)
    gt[0:9, 30:41] = 1  # touches the top and right image borders
    pred[1:10, 28:41] = 1
    gt[20:30, 0:12] = 2  # bottom-left corner
    pred[18:27, 2:14] = 2
    pred[rng.random((h, w)) < 0.03] = 3  # object 3 only in the prediction, scattered
    gt[12:16, 15:25] = 4
    k, r = 4, int(rng.integers(1, 5))
    j, f = frame_scores(pred, gt, k, r)
    for i in range(k):
        p, g = pred == i + 1, gt == i + 1
        assert j[i] == region_similarity(p, g)
        assert f[i] == boundary_f_from_maps(boundary_map(p), boundary_map(g), r)
    assert j[2] == 0.0 and f[2] == 0.0 and j[3] == 0.0
