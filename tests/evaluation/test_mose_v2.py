"""MOSEv2 metric pieces on hand-worked cases (official numbers on generated videos: test_bench_official)."""

import json
import os

import numpy as np
import pytest

from hodor.evaluation import EvaluationError
from hodor.evaluation.mose_v2 import (
    MoseV2Evaluator,
    boundary_scores,
    segment_scores,
    skimage_disk,
    smoothed_iou,
)
from hodor.utils.palette import save_index_png


def test_smoothed_iou():
    g = np.zeros((5, 5), bool)
    g[0, 0:4] = True  # 4 px
    p = np.zeros((5, 5), bool)
    p[0, 0:2] = True  # 2 px inside
    assert smoothed_iou(p, g) == pytest.approx((2 + 1) / (4 + 1))
    assert smoothed_iou(~g & False, g & False) == 1.0
    assert smoothed_iou(np.zeros_like(g), g) == pytest.approx(1 / 5)


def test_unrounded_radius_disk():
    # 100 x 100: D = 0.008 * sqrt(2) * 100 = 1.1314; arange(-D, D + 1) = [-1.13, -0.13, 0.87, 1.87];
    # only (-0.13, -0.13), (-0.13, 0.87), (0.87, -0.13) lie within D -> off-centre 4 x 4 element
    expected = np.zeros((4, 4), np.uint8)
    expected[1, 1] = expected[1, 2] = expected[2, 1] = 1
    np.testing.assert_array_equal(skimage_disk(0.008 * np.hypot(100, 100)), expected)
    np.testing.assert_array_equal(skimage_disk(1.0), [[0, 1, 0], [1, 1, 1], [0, 1, 0]])


def test_adaptive_radius_on_a_single_pixel():
    # area 1 -> adaptive radius ceil(0.1) = 1 < D = 1.13 -> F uses ceil(D) = 2, F_new uses 1.
    # A pixel's boundary is the 2x2 block up-left of it; shifting the pixel by 2 columns leaves
    # one column of each block within 1 px of the other block: P = R = 1/2 -> F_new = 1/2; F = 1.
    g = np.zeros((100, 100), bool)
    g[50, 50] = True
    p = np.zeros_like(g)
    p[50, 52] = True
    f, f_new = boundary_scores(p, g)
    assert f == 1.0 and f_new == 0.5


def test_segments():
    j = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    f = j * 2
    empty = np.array([False, True, True, False, False, True])
    # disappear at 1 (until the reappearance at 3) and at 5 (until the end); reappear at 3 (until 5)
    dj, df, rj, rf = segment_scores(j, f, empty)
    assert dj == pytest.approx(((0.2 + 0.3) / 2 + 0.6) / 2) and df == pytest.approx(2 * dj)
    assert rj == pytest.approx((0.4 + 0.5) / 2) and rf == pytest.approx(2 * rj)
    # empty at the start: that disappearance is skipped; the first appearance counts as a reappearance
    dj, _, rj, _ = segment_scores(j[:4], f[:4], np.array([True, False, False, True]))
    assert dj == pytest.approx(0.4) and rj == pytest.approx((0.2 + 0.3) / 2)
    assert segment_scores(j, f, np.zeros(6, bool)) == (None, None, None, None)


def _video(root, vid, maps):
    for t, m in enumerate(maps):
        save_index_png(os.path.join(root, "Annotations", vid, f"{t:05d}.png"), m)


def test_missing_prediction_folder_scores_zero_and_meta_checks(tmp_path):
    m = np.zeros((100, 100), np.uint8)  # D = 1.13; area 25 -> adaptive radius 1: integer disks
    m[5:10, 5:10] = 1
    _video(str(tmp_path), "a", [m] * 4)
    meta = {"videos": {"a": {"length": 4, "objects": {"1": {}}}}}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    ev = MoseV2Evaluator(str(tmp_path / "Annotations"), ["a"])
    ev.process("a", str(tmp_path / "no_such_results" / "a"))
    res = ev.evaluate()
    assert res.global_metrics()["J"] == 0.0 and res.global_metrics()["F_new"] == 0.0
    ev.reset()
    ev.process("a", {f"{t:05d}": m for t in range(4)})
    assert ev.evaluate().global_metrics()["J&F_new"] == 1.0
    meta["videos"]["a"]["length"] = 5
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(EvaluationError, match="meta.json says 5 frames"):
        MoseV2Evaluator(str(tmp_path / "Annotations"), ["a"]).process("a", {})
