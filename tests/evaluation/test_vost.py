"""VOST J / J_last on a hand-worked case (expected numbers derived by hand, see comments)."""

import os

import numpy as np
import pytest

from hodor.evaluation import EvaluationError, VostEvaluator
from hodor.evaluation.vost import last_quarter_start
from hodor.utils.palette import save_index_png

H, W = 10, 10


def _box(y0, y1, x0, x1, k):
    m = np.zeros((H, W), np.uint8)
    m[y0:y1, x0:x1] = k
    return m


OBJ1 = _box(2, 6, 2, 7, 1)  # 4 x 5 = 20 px
OBJ2 = _box(7, 10, 0, 4, 2)  # 3 x 4 = 12 px


def _write(root, video, maps):
    for t, m in enumerate(maps):
        save_index_png(os.path.join(root, video, f"{t:05d}.png"), m)


@pytest.fixture
def case(tmp_path):
    gt_root, res_root = str(tmp_path / "Annotations"), str(tmp_path / "results")
    gt = [OBJ1 + OBJ2] * 6  # 6 annotated frames -> frames 1..4 scored
    half = _box(2, 4, 2, 7, 1)  # 10 of the 20 px of object 1 -> J = 0.5
    preds = [
        OBJ1 + OBJ2,  # not scored
        OBJ1 + OBJ2,  # obj1 J 1
        half + OBJ2,  # obj1 J 0.5
        OBJ2.copy(),  # obj1 J 0 (missing)
        OBJ1 + OBJ2,  # obj1 J 1
        np.zeros((H, W), np.uint8),  # not scored
    ]
    preds[2][0, 9] = 3  # id above K = 2: VOST ignores it (the DAVIS toolkit would abort)
    _write(gt_root, "v", gt)
    _write(res_root, "v", preds)
    return gt_root, res_root, {f"{t:05d}": p for t, p in enumerate(preds)}


def test_hand_worked_j_and_j_last(case, tmp_path):
    gt_root, res_root, in_memory = case
    ev = VostEvaluator(gt_root, ["v"])
    ev.process("v", os.path.join(res_root, "v"))
    res = ev.evaluate()
    g = res.global_metrics()
    # obj1 J = [1, .5, 0, 1]: mean .625, recall (> .5) 2/4, decay mean(J[0:2]) - mean(J[2:4]) = .75 - .5
    # (davis bins for n = 4: round(linspace(1, 4, 5)) - 1 = [0, 1, 2, 2, 3]); obj2 J = [1, 1, 1, 1].
    # J_last: from floor(0.75 * 4) = 3 -> obj1 [1], obj2 [1].
    expected = {
        "J-Mean": (0.625 + 1) / 2,
        "J-Recall": (0.5 + 1) / 2,
        "J-Decay": (0.25 + 0) / 2,
        "J_last-Mean": 1.0,
        "J_last-Recall": 1.0,
        "J_last-Decay": 0.0,
    }
    assert g == pytest.approx(expected, abs=1e-12)
    assert [o.key for o in res.objects] == ["v_1", "v_2"]
    assert ev.frames_scored() == 4
    # in memory: the same numbers
    ev.reset()
    ev.process("v", in_memory)
    assert ev.evaluate().global_metrics() == pytest.approx(expected, abs=1e-12)
    # tables in the official format (pandas %.3f)
    paths = res.write_tables(str(tmp_path / "out"))
    with open(paths[0]) as f:
        assert f.read() == (
            "J-Mean,J-Recall,J-Decay,J_last-Mean,J_last-Recall,J_last-Decay\n0.812,0.750,0.125,1.000,1.000,0.000\n"
        )
    with open(paths[1]) as f:
        assert f.read() == "Sequence,J-Mean,J_last-Mean\nv_1,0.625,1.000\nv_2,1.000,1.000\n"


def test_last_quarter_index():
    assert [last_quarter_start(n) for n in (1, 2, 3, 4, 5, 8, 10)] == [0, 1, 2, 3, 3, 6, 7]


def test_missing_prediction_is_an_error(case):
    gt_root, res_root, _ = case
    os.remove(os.path.join(res_root, "v", "00003.png"))
    ev = VostEvaluator(gt_root, ["v"])
    with pytest.raises(EvaluationError, match=r"v.00003\.png"):
        ev.process("v", os.path.join(res_root, "v"))
    with pytest.raises(EvaluationError, match="have no predictions: v"):
        ev.evaluate()


def test_decay_uint8_quirk():
    from hodor.evaluation.vost import vost_statistics

    v = np.linspace(1.0, 0.0, 8)
    # n = 8: bins round(linspace(1, 8, 5)) - 1 = [0, 2, 4, 5, 7] -> mean(v[0:3]) - mean(v[5:8])
    assert vost_statistics(v)[2] == pytest.approx(v[0:3].mean() - v[5:8].mean())
    # n = 300: indices [0, 75, 150, 224, 299] wrap to [0, 75, 150, 224, 43] -> last bin v[224:44] is empty
    m, r, d = vost_statistics(np.linspace(1.0, 0.0, 300))
    assert m == pytest.approx(0.5) and np.isnan(d)
