"""Bad or unusual evaluator inputs on tiny synthetic DAVIS trees built in tmp dirs."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from PIL import Image

from hodor.cli.eval_vos import main as cli_main
from hodor.evaluation import (
    DavisEvalError,
    PredictionAbortError,
    evaluate_davis,
    evaluate_predictions,
    read_index_png,
    save_index_png,
)

H, W = 12, 16


def _masks(n: int = 4) -> list[np.ndarray]:
    out = []
    for t in range(n):
        m = np.zeros((H, W), np.uint8)
        m[2:6, 2 + t : 7 + t] = 1
        m[8:11, 10:14] = 2
        m[0, :] = 255  # void band: background for scoring
        out.append(m)
    return out


def _make_tree(root, seqs=("a", "b"), n: int = 4, val_lines=None):
    davis, results = root / "DAVIS", root / "results"
    for s in seqs:
        os.makedirs(davis / "JPEGImages" / "480p" / s)
        for t, m in enumerate(_masks(n)):
            Image.new("RGB", (W, H)).save(davis / "JPEGImages" / "480p" / s / f"{t:05d}.jpg")
            save_index_png(davis / "Annotations" / "480p" / s / f"{t:05d}.png", m)
            save_index_png(results / s / f"{t:05d}.png", np.where(m == 255, 0, m))
    os.makedirs(davis / "ImageSets" / "2017")
    lines = list(seqs) if val_lines is None else val_lines
    (davis / "ImageSets" / "2017" / "val.txt").write_text("".join(f"{x}\n" for x in lines))
    return davis, results


def test_perfect_predictions_score_one(tmp_path):
    davis, results = _make_tree(tmp_path)
    res = evaluate_davis(davis, results)
    assert [o.key for o in res.objects] == ["a_1", "a_2", "b_1", "b_2"]
    assert res.global_metrics()["J&F-Mean"] == 1.0
    assert res.objects[0].frames == ["00001", "00002"]


def test_prediction_size_mismatch_names_file(tmp_path):
    davis, results = _make_tree(tmp_path)
    save_index_png(results / "b" / "00002.png", np.zeros((H, W + 1), np.uint8))
    with pytest.raises(DavisEvalError, match=r"frame 00002.*b[/\\]00002\.png.*12x17"):
        evaluate_davis(davis, results)


def test_rgb_prediction_is_rejected(tmp_path):
    davis, results = _make_tree(tmp_path)
    Image.new("RGB", (W, H)).save(results / "a" / "00001.png")
    with pytest.raises(DavisEvalError, match=r"a[/\\]00001\.png.*mode 'RGB'"):
        evaluate_davis(davis, results)


def test_greyscale_prediction_is_read_by_value(tmp_path):
    m = _masks(1)[0]
    Image.fromarray(m, mode="L").save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_index_png(tmp_path / "g.png"), m)


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_empty_sequence_list(tmp_path, content):
    davis, results = _make_tree(tmp_path)
    (davis / "ImageSets" / "2017" / "val.txt").write_text(content)
    with pytest.raises(DavisEvalError, match="val.txt"):
        evaluate_davis(davis, results)


def test_missing_sequence_list_and_cli_status(tmp_path, capsys):
    davis, results = _make_tree(tmp_path)
    os.remove(davis / "ImageSets" / "2017" / "val.txt")
    with pytest.raises(DavisEvalError, match="sequence list not found"):
        evaluate_davis(davis, results)
    assert cli_main(["--davis-root", str(davis), "--results", str(results)]) == 2
    assert "val.txt" in capsys.readouterr().err
    assert not (results / "global_results-val.csv").exists()


def test_unknown_sequence_and_too_short_sequence(tmp_path):
    davis, results = _make_tree(tmp_path, val_lines=["a", "zzz"])
    with pytest.raises(DavisEvalError, match="zzz"):
        evaluate_davis(davis, results)
    davis2, results2 = _make_tree(tmp_path / "short", n=2)
    with pytest.raises(DavisEvalError, match="at least 3"):
        evaluate_davis(davis2, results2)


def test_extra_prediction_frames_are_ignored_with_warning(tmp_path, caplog):
    davis, results = _make_tree(tmp_path)
    # Frame 00004 has no GT; the last GT frame (00003) must still be unscored.
    save_index_png(results / "a" / "00004.png", np.full((H, W), 2, np.uint8))
    save_index_png(results / "a" / "00003.png", np.full((H, W), 9, np.uint8))
    with caplog.at_level(logging.WARNING):
        res = evaluate_davis(davis, results)
    assert res.global_metrics()["J&F-Mean"] == 1.0
    assert any("00004" in w for w in res.warnings)
    assert "00004" in caplog.text


def test_missing_first_and_last_prediction_is_fine_but_middle_aborts(tmp_path):
    davis, results = _make_tree(tmp_path)
    os.remove(results / "a" / "00000.png")
    os.remove(results / "a" / "00003.png")
    assert evaluate_davis(davis, results).global_metrics()["J-Mean"] == 1.0
    os.remove(results / "b" / "00001.png")
    with pytest.raises(PredictionAbortError, match=r"'b', frame 00001"):
        evaluate_davis(davis, results)


def test_evaluate_predictions_dict_and_dir(tmp_path):
    davis, results = _make_tree(tmp_path)
    gt_dir = davis / "Annotations" / "480p"
    masks = _masks()
    preds = {s: {f"{t:05d}": np.where(m == 255, 0, m) for t, m in enumerate(masks)} for s in ("a", "b")}
    preds["b"]["00002"] = np.zeros((H, W), np.int64)  # both objects missed in one of two frames
    out = evaluate_predictions(preds, gt_dir)
    assert out["J-Mean"] == pytest.approx(0.75) and out["F-Mean"] == pytest.approx(0.75)
    assert out["per_object"]["b_2"] == (0.5, 0.5)
    assert set(out) >= {"J&F-Mean", "J-Recall", "J-Decay", "F-Recall", "F-Decay"}
    assert evaluate_predictions(str(results), gt_dir, ["a"])["J&F-Mean"] == 1.0
    preds["a"]["00001"] = np.full((H, W), 3)
    with pytest.raises(PredictionAbortError, match="id 3"):
        evaluate_predictions(preds, gt_dir, ["a"])


def test_all_first_frames_empty_is_an_error_not_a_crash(tmp_path, capsys):
    davis, results = _make_tree(tmp_path, seqs=("a",))
    save_index_png(davis / "Annotations" / "480p" / "a" / "00000.png", np.zeros((H, W), np.uint8))
    save_index_png(results / "a" / "00001.png", np.zeros((H, W), np.uint8))
    save_index_png(results / "a" / "00002.png", np.zeros((H, W), np.uint8))
    assert cli_main(["--davis-root", str(davis), "--results", str(results)]) == 2
    assert "no objects to score" in capsys.readouterr().err
