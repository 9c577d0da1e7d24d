"""LVOS J / F / V pieces on hand-worked cases (official numbers on generated videos: test_bench_official)."""

import json
import math
import os

import numpy as np
import pytest

from hodor.evaluation import LvosEvaluator
from hodor.evaluation.lvos import jf_variance
from hodor.utils.palette import save_index_png


def test_jf_variance_rounds_before_the_square_root():
    j = np.array([1.0, 0.5, 0.0])
    f = np.array([1.0, 0.5, 0.2])
    # JF = [1, .5, .1], mean .5333..; sum of squares = .217777 + .001111 + .187777 = .406666; / 3 = .135555
    # -> round to 4 decimals .1356 -> sqrt
    assert jf_variance(j, f) == pytest.approx(math.sqrt(0.1356), abs=1e-15)


def _write(root, vid, frames):
    for t, m in frames.items():
        save_index_png(os.path.join(root, vid, f"{t:08d}.png"), m)


def test_frame_range_slots_and_seen_unseen(tmp_path):
    m = np.zeros((20, 30), np.uint8)
    m[5:10, 5:15] = 1  # 50 px
    half = np.zeros_like(m)
    half[5:10, 5:10] = 1  # 25 px inside -> J = 0.5
    gt = {t: m for t in range(0, 30, 5)}
    _write(str(tmp_path / "Annotations"), "a", gt)
    _write(str(tmp_path / "Annotations"), "b", gt)
    _write(str(tmp_path / "res"), "a", {0: m, 5: m, 10: half, 15: m, 20: m, 25: m})
    _write(str(tmp_path / "res"), "b", gt)
    meta = {
        "videos": {
            # range(0, 25, 5) = 0..20: position 0 skipped, positions 1..3 fill 3 of the 4 slots ->
            # the 4th slot stays 0 (official quirk): J = [1, .5, 1, 0]
            "a": {"objects": {"1": {"frame_range": {"start": 0, "end": 20, "frame_nums": 6}}}},
            # range(0, 25, 5) with frame_nums 5: positions 1..3 scored, position 4 (= n - 1) skipped
            "b": {"objects": {"1": {"frame_range": {"start": 0, "end": 25, "frame_nums": 5}}}},
        }
    }
    (tmp_path / "valid_meta.json").write_text(json.dumps(meta))
    (tmp_path / "unseen_videos.txt").write_text("b\n")
    ev = LvosEvaluator(str(tmp_path / "Annotations"), ["a", "b"])
    for v in ("a", "b"):
        ev.process(v, str(tmp_path / "res" / v))
    res = ev.evaluate()
    a, b = res.objects
    assert a.J == pytest.approx((1 + 0.5 + 1 + 0) / 4) and not a.unseen
    assert b.J == 1.0 and b.F == 1.0 and b.V == 0.0 and b.unseen
    g = res.global_metrics()
    assert g["J-seen-Mean"] == pytest.approx(a.J) and g["J-unseen-Mean"] == 1.0
    assert g["J-Mean"] == pytest.approx((a.J + 1) / 2)
    assert g["J&F-Mean"] == pytest.approx((a.J + a.F + 1 + 1) / 4)
    # without an unseen list every video is seen and the unseen columns are NaN (as officially)
    os.remove(tmp_path / "unseen_videos.txt")
    ev = LvosEvaluator(str(tmp_path / "Annotations"), ["a", "b"])
    for v in ("a", "b"):
        ev.process(v, str(tmp_path / "res" / v))
    g = ev.evaluate().global_metrics()
    assert math.isnan(g["J-unseen-Mean"]) and math.isnan(g["J&F-Mean"])
