"""Parity case d (training forward: every cycle's predictions, the loss and gradients, at an even
and an odd iteration) through the parity checker."""

import os

import pytest

from hodor.parity.runner import run_parity

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "hodor_parity")


@pytest.mark.slow
def test_parity_case_d():
    lines: list[str] = []
    results = run_parity(FIXTURE, cases=["d"], require=["d"], log=lines.append)
    report = "\n".join(lines)
    assert [r.status for r in results] == ["PASS"], report
    names = {c.name for c in results[0].checks}
    for tag in ("even", "odd"):
        assert {
            f"d_{tag}_loss",
            f"d_{tag}_src_tgt",
            f"d_{tag}_gt",
            f"d_{tag}_pred_logits",
            f"d_{tag}_dec_logits",
        } <= names, names
        assert any(n.startswith(f"d_{tag}_grad") for n in names), names
