"""Our DAVIS evaluator against numbers recorded from the official davis2017-evaluation toolkit."""

from __future__ import annotations

import csv
import json
import os
import shutil

import numpy as np
import pytest

from hodor.cli.eval_vos import main as cli_main
from hodor.evaluation import PredictionAbortError, evaluate_davis, write_csvs

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "fixtures", "davis_eval")
CSVS = ["global_results-val.csv", "per-sequence_results-val.csv"]
CASES = {"fixture": "expected", "fixture_large": "expected_large"}


def _read_csv(path: str) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def results() -> dict:
    """Evaluate both fixtures once per module (small: about 2 s on 2 cores)."""
    return {
        fx: evaluate_davis(os.path.join(ROOT, fx, "DAVIS"), os.path.join(ROOT, fx, "results"), workers=2)
        for fx in CASES
    }


@pytest.mark.parametrize("fx", list(CASES))
def test_full_precision_tables_match_official(fx, results, tmp_path):
    write_csvs(results[fx], tmp_path, precision=12)
    for name in CSVS:
        exp_header, exp_rows = _read_csv(os.path.join(ROOT, CASES[fx], "full_precision", name))
        got_header, got_rows = _read_csv(os.path.join(tmp_path, name))
        assert got_header == exp_header
        assert [r[0] for r in got_rows] == [r[0] for r in exp_rows] or name.startswith("global")
        got = np.array([[float(c) for c in r[1 if name.startswith("per") else 0 :]] for r in got_rows])
        exp = np.array([[float(c) for c in r[1 if name.startswith("per") else 0 :]] for r in exp_rows])
        assert got.shape == exp.shape
        np.testing.assert_allclose(got, exp, rtol=0, atol=1e-6, err_msg=f"{fx}/{name}")


@pytest.mark.parametrize("fx", list(CASES))
def test_three_decimal_csvs_are_byte_identical(fx, results, tmp_path):
    write_csvs(results[fx], tmp_path, precision=3)
    for name in CSVS:
        with open(os.path.join(ROOT, CASES[fx], name), "rb") as f:
            expected = f.read()
        with open(os.path.join(tmp_path, name), "rb") as f:
            assert f.read() == expected, name


@pytest.mark.parametrize("fx", list(CASES))
def test_per_frame_values_match_official(fx, results):
    with open(os.path.join(ROOT, CASES[fx], "full_precision", "per_frame.json")) as f:
        ref = json.load(f)
    res = results[fx]
    assert res.sequences == list(ref)
    by_key = {o.key: o for o in res.objects}
    assert len(by_key) == sum(len(r["objects"]) for r in ref.values())
    for seq, r in ref.items():
        assert res.radius[seq] == int(r["bound_pix"])
        for k, obj in r["objects"].items():
            o = by_key[f"{seq}_{k}"]
            assert o.frames == r["frames"]
            np.testing.assert_allclose(o.J, obj["J"], rtol=0, atol=1e-12, err_msg=f"{seq}_{k} J")
            np.testing.assert_allclose(o.F, obj["F"], rtol=0, atol=1e-12, err_msg=f"{seq}_{k} F")
            got = [o.J_mean, o.J_recall, o.J_decay, o.F_mean, o.F_recall, o.F_decay]
            exp = [obj[s] for s in ("J_M", "J_R", "J_D", "F_M", "F_R", "F_D")]
            np.testing.assert_allclose(got, exp, rtol=0, atol=1e-12, err_msg=f"{seq}_{k} stats")


def test_worker_count_does_not_change_results(results):
    one = evaluate_davis(os.path.join(ROOT, "fixture", "DAVIS"), os.path.join(ROOT, "fixture", "results"), workers=1)
    assert [o.key for o in one.objects] == [o.key for o in results["fixture"].objects]
    assert one.global_metrics() == results["fixture"].global_metrics()


ABORTS = {
    # folder: (file named in the message, frame id)
    "results_abort_extra_id": ("dev-vanish-return/00009.png", "00009"),
    "results_abort_missing_frame": ("dev-dropout-711/00014.png", "00014"),
    "results_abort_void_in_pred": ("dev-hairline-void/00002.png", "00002"),
}


@pytest.mark.parametrize("case", list(ABORTS))
def test_abort_cases_raise_naming_file_and_frame(case):
    fname, frame = ABORTS[case]
    with pytest.raises(PredictionAbortError) as ei:
        evaluate_davis(os.path.join(ROOT, "fixture", "DAVIS"), os.path.join(ROOT, "fixture", case), workers=2)
    msg = str(ei.value)
    assert os.path.join(case, *fname.split("/")) in msg and f"frame {frame}" in msg
    assert fname.split("/")[0] in msg


@pytest.mark.parametrize("case", list(ABORTS))
def test_cli_abort_exits_2_and_writes_no_csv(case, tmp_path, capsys):
    out = tmp_path / "out"
    rc = cli_main(
        ["--davis-root", os.path.join(ROOT, "fixture", "DAVIS"), "--results", os.path.join(ROOT, "fixture", case)]
        + ["--out", str(out), "--workers", "2"]
    )
    assert rc == 2
    assert not out.exists() or not os.listdir(out)
    err = capsys.readouterr().err
    assert ABORTS[case][0] in err and f"frame {ABORTS[case][1]}" in err


def test_cli_writes_official_csvs_into_results_folder(tmp_path, capsys):
    res_dir = tmp_path / "results"
    shutil.copytree(os.path.join(ROOT, "fixture", "results"), res_dir)
    for name in CSVS:  # stale files must be overwritten, never reused
        (res_dir / name).write_text("stale\n")
    rc = cli_main(["--davis-root", os.path.join(ROOT, "fixture", "DAVIS"), "--results", str(res_dir)])
    assert rc == 0
    for name in CSVS:
        with open(os.path.join(ROOT, "expected", name), "rb") as f:
            assert (res_dir / name).read_bytes() == f.read()
    out = capsys.readouterr().out
    assert "J&F-Mean" in out and "0.817" in out and "dev-grey-zeropad_3" in out
