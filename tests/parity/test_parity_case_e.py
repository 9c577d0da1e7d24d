"""Parity case e (video inference with a late-starting object) through the parity checker."""

import os

import pytest

from hodor.parity.runner import run_parity

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "hodor_parity")


@pytest.mark.slow
def test_parity_case_e():
    lines: list[str] = []
    results = run_parity(FIXTURE, cases=["e"], require=["e"], log=lines.append)
    report = "\n".join(lines)
    assert [r.status for r in results] == ["PASS"], report
    names = {c.name for c in results[0].checks}
    # every recorded array of the fixture was compared
    assert {"e_masks", "e_dec_frames", "e_enc_calls", "e_images (preprocessing)"} <= names
    assert {f"e_dec_t{t}_{k}" for t in range(1, 7) for k in ("logits", "fg_invalid", "bg_invalid")} <= names
    assert {f"e_enc{i}_{k}" for i in range(7) for k in ("fg_mask", "bg_mask", "fg", "bg")} <= names
