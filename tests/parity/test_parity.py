"""Parity with the original HODOR: cases a-c of tests/fixtures/hodor_parity must pass."""

import json
import os

import numpy as np
import pytest

from hodor.parity import compare_exact, compare_float, compare_fraction_equal, compare_grad, compare_loss
from hodor.parity.runner import run_parity

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "hodor_parity")


@pytest.mark.slow
def test_parity_cases_a_b_c():
    lines: list[str] = []
    results = run_parity(FIXTURE, cases=["a", "b", "c"], require=["a", "b", "c"], log=lines.append)
    report = "\n".join(lines)
    assert [r.status for r in results] == ["PASS", "PASS", "PASS"], report
    names = {c.name for r in results for c in r.checks}
    assert {"a_feat4", "a_feat8", "b_fg_desc", "b_bg_desc", "c_logits_masked", "c_logits_nomask"} <= names
    assert "b_fg_mask (from d_ref_mask)" in names


def test_required_case_absent_from_fixture_fails(tmp_path):
    # a fixture without any case data: everything is skipped, unless required
    (tmp_path / "cases.json").write_text(json.dumps({"seed": 1}))
    np.savez(tmp_path / "inputs.npz", unrelated=np.zeros(1))
    np.savez(tmp_path / "expected.npz", unrelated=np.zeros(1))
    results = run_parity(str(tmp_path), log=lambda s: None)
    assert [r.status for r in results] == ["SKIP"] * 5
    results = run_parity(str(tmp_path), cases=["b", "d"], require=["b", "d"], log=lambda s: None)
    assert [r.status for r in results] == ["FAIL", "FAIL"]
    with pytest.raises(ValueError, match="unknown parity case"):
        run_parity(str(tmp_path), cases=["z"], log=lambda s: None)


def test_comparison_helpers_follow_recommended_tolerances():
    ref = np.array([[2.0, -3.0], [0.5, 1.0]])
    assert compare_float("x", ref + 2.9e-4, ref).passed  # scale = 3
    assert not compare_float("x", ref + 3.1e-4, ref).passed
    assert not compare_float("x", ref[:1], ref).passed  # shape
    inf = np.array([1.0, -np.inf])
    assert compare_float("x", inf, inf).passed and not compare_float("x", np.array([1.0, 0.0]), inf).passed
    assert compare_loss("l", np.array([1.0 + 9e-6]), np.array([1.0])).passed
    assert not compare_loss("l", np.array([1.0 + 2e-5]), np.array([1.0])).passed
    assert compare_grad("g", ref * 1.001, ref).passed and not compare_grad("g", ref + 0.05, ref).passed
    assert (
        compare_exact("i", np.arange(4), np.arange(4)).passed
        and not compare_exact("i", np.arange(4) * 2, np.arange(4)).passed
    )
    masks = np.zeros((2, 100, 100), dtype=np.uint8)
    off = masks.copy()
    off[1, 0, :10] = 1  # 0.1 % of frame 1
    assert compare_fraction_equal("m", off, masks).passed
    off[1, 1, :1] = 1
    assert not compare_fraction_equal("m", off, masks).passed
