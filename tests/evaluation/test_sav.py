"""SA-V J&F over per-object binary masks on a hand-worked case (overlapping objects, the
'object not tracked before it shows up' quirk of vos-benchmark, and the abort cases)."""

import os

import numpy as np
import pytest
from PIL import Image

from hodor.evaluation import EvaluationError, SavEvaluator

H = W = 100  # F tolerance ceil(0.008 * sqrt(2) * 100) = 2 px


def _box(y0, x0, size=20):
    m = np.zeros((H, W), bool)
    m[y0 : y0 + size, x0 : x0 + size] = True
    return m


A, B, EMPTY = _box(10, 10), _box(60, 60), np.zeros((H, W), bool)
FRAMES = [f"{t:05d}" for t in range(0, 17, 4)]  # 6 fps annotations of a 24 fps video


def _save(path, m):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(m.astype(np.uint8) * 255, mode="L").save(path)


def _write(root, per_obj):
    for obj, masks in per_obj.items():
        for fid, m in zip(FRAMES, masks):
            _save(os.path.join(root, "vid", obj, f"{fid}.png"), m)


@pytest.fixture
def case(tmp_path):
    gt, res = str(tmp_path / "Annotations_6fps"), str(tmp_path / "results")
    # object 001 overlaps object 000 (both are A on frames 8..16): allowed in SA-V
    _write(gt, {"000": [A, A, A, A, A], "001": [A, EMPTY, A, A, A]})
    _write(res, {"000": [A, A, A | B, EMPTY, A], "001": [A, EMPTY, EMPTY, A, A]})
    return gt, res


def test_hand_worked_numbers(case, tmp_path):
    gt, res = case
    ev = SavEvaluator(gt, ["vid"])
    ev.process("vid", os.path.join(res, "vid"))
    out = ev.evaluate()
    # scored frames 4, 8, 12 (first and last skipped).
    # 000: J = [1, |A|/|A u B| = .5, 0]; F = [1, P .5 R 1 -> 2/3, 0 (empty prediction)]
    j0, f0 = 100 * 0.5, 100 * (1 + 2 / 3 + 0) / 3
    # 001: frame 4 empty in GT and prediction -> not counted (quirk); then J = F = [0, 1]
    j1, f1 = 50.0, 50.0
    g = out.global_metrics()
    assert g["J"] == pytest.approx((j0 + j1) / 2, abs=1e-9)
    assert g["F"] == pytest.approx((f0 + f1) / 2, abs=1e-9)
    assert g["J&F"] == pytest.approx((j0 + j1 + f0 + f1) / 4, abs=1e-9)
    assert ev.frames_scored() == 6
    text = out.format_table()
    assert text.splitlines() == [
        "sequence    ,obj,  J&F,    J,    F",
        "Global score,   , 51.4, 50.0, 52.8",
        "vid         ,000, 52.8, 50.0, 55.6",
        "vid         ,001, 50.0, 50.0, 50.0",
    ]
    (path,) = out.write_tables(str(tmp_path / "o"))
    assert os.path.basename(path) == "results.csv"


def test_aborts_are_clear_errors(case):
    gt, res = case
    os.remove(os.path.join(res, "vid", "001", "00008.png"))
    with pytest.raises(EvaluationError, match=r"prediction not found: .*001.00008\.png"):
        SavEvaluator(gt, ["vid"]).process("vid", os.path.join(res, "vid"))
    three = np.zeros((H, W), np.uint8)
    three[0, 0], three[0, 1] = 1, 2
    Image.fromarray(three, mode="L").save(os.path.join(res, "vid", "001", "00008.png"))
    with pytest.raises(EvaluationError, match="more than one object"):
        SavEvaluator(gt, ["vid"]).process("vid", os.path.join(res, "vid"))


def test_object_empty_on_every_scored_frame(tmp_path):
    gt, res = str(tmp_path / "gt"), str(tmp_path / "res")
    _write(gt, {"000": [A, EMPTY, EMPTY, EMPTY, A]})
    _write(res, {"000": [A, A, EMPTY, EMPTY, A]})
    with pytest.raises(EvaluationError, match="object 000: the ground truth is empty on every scored frame"):
        SavEvaluator(gt, ["vid"]).process("vid", os.path.join(res, "vid"))
