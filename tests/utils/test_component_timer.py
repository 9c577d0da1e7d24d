"""ComponentTimer attributes time to the hooked modules and regions it encloses; the benchmark's
``infer`` subcommand runs the real predictor and its breakdown adds up."""

import importlib.util
import json
import os
import time

import pytest
import torch
from torch import nn

from hodor.utils.component_timer import ComponentTimer, Interval, totals, uncovered

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Sleepy(nn.Module):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return x


def test_intervals_nest_and_gaps_are_uncovered():
    inner, outer = _Sleepy(0.02), nn.Sequential(_Sleepy(0.01))
    outer.append(inner)
    timer = ComponentTimer({"outer": outer, "inner": inner})
    with timer:
        timer.begin("region")
        time.sleep(0.01)  # before any module
        outer(torch.zeros(1))
        timer.end("region")
    ivs = timer.resolve()
    by = {iv.name: iv for iv in ivs}
    assert set(by) == {"outer", "inner", "region"}
    assert by["region"].start <= by["outer"].start <= by["inner"].start <= by["inner"].end <= by["outer"].end
    assert by["outer"].seconds >= by["inner"].seconds >= 0.02
    gap = uncovered(by["region"], [by["outer"]])
    assert 0.01 <= gap < by["region"].seconds - by["outer"].seconds + 1e-9
    # hooks are gone after the with-block
    outer(torch.zeros(1))
    assert timer.resolve() == []


def test_totals_and_uncovered_arithmetic():
    region = Interval("r", 0.0, 10.0)
    inner = [Interval("a", 1.0, 3.0), Interval("a", 2.0, 4.0), Interval("b", 6.0, 7.0)]
    assert totals(inner) == {"a": 4.0, "b": 1.0}
    assert uncovered(region, inner) == pytest.approx(10.0 - 3.0 - 1.0)  # overlaps counted once
    assert uncovered(region, inner, before=5.0) == pytest.approx(5.0 - 3.0)


def test_bad_clock_is_rejected():
    with pytest.raises(ValueError, match="clock"):
        ComponentTimer({}, clock="gpu")


@pytest.mark.slow
def test_benchmark_infer_breakdown_and_mask_agreement(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("hodor_benchmark", os.path.join(REPO, "tools", "benchmark.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    masks = str(tmp_path / "m.npz")
    common = ["infer", "--height", "48", "--width", "64", "--frames", "5", "--warmup", "1", "--threads", "1"]
    opts = ["--json", "MODEL.BACKBONE.NAME", "resnet18", "MODEL.HIDDEN_DIM", "64", "MODEL.BACKBONE.FPN_NORM_GROUPS"]
    opts += ["8", "INFERENCE.MIN_DIM", "48", "INFERENCE.MAX_DIM", "64"]
    assert bench.main([*common, "--rss-at", "2,5", "--save-masks", masks, *opts]) == 0
    first = json.loads(capsys.readouterr().out)
    assert bench.main([*common, "--compare", masks, *opts]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["pixel_agreement_pct"] == 100.0 and second["compared_frames"] == 4  # deterministic
    b = first["breakdown_s"]
    parts = b["pre-processing"] + b["backbone"] + b["encoder"] + b["decoder"] + b["post-processing"]
    assert parts == pytest.approx(b["step"], rel=0.02, abs=2e-3)
    assert b["backbone.trunk"] <= b["backbone"] and b["decoder.deform_conv"] <= b["decoder"]
    assert first["timed_frames"] == 3 and set(first["rss_at_frames_mib"]) == {"2", "5"}
