"""YouTube-VOS local scoring (``youtube_vos`` evaluator) on a hand-worked case, and ``eval_vos
--dataset youtube_vos_2019_train:<list>`` end to end on the synthetic YouTube-VOS layout.

Hand-worked case (image 10 x 20, F tolerance ceil(0.008 * sqrt(10^2 + 20^2)) = 1 px). Objects are
full-height vertical bands, so boundaries are single columns (the DAVIS boundary map marks the
right-most column of a band starting at the left border, and the column left of a band ending at
the right border) and F is 1 when the two columns are at most 1 px apart, else 0:

* object 1 ("cat", seen: video "other", not evaluated, holds a cat), GT = columns 0..9 on
  00000, 00005, 00010; absent on 00015. First appearance 00000 (given, excluded).
  00005: pred columns 0..8  -> J = 90/100 = 0.9, boundary col 8 vs 9 -> F = 1
  00010: pred columns 0..4  -> J = 50/100 = 0.5, boundary col 4 vs 9 -> F = 0
  00015: pred and GT empty  -> J = F = 1
  => J = 2.4 / 3 = 0.8, F = 2 / 3
* object 2 ("dog", unseen), GT = columns 14..19 on 00005, 00010, 00015; first appearance 00005.
  00010: pred columns 16..19 -> J = 40/60 = 2/3, boundary col 15 vs 13 -> F = 0
  00015: pred exact          -> J = F = 1
  => J = 5/6, F = 1/2
* object 3 ("bird") appears only on the last annotated frame: nothing to score, left out.

J_seen = 0.8, F_seen = 2/3, J_unseen = 5/6, F_unseen = 1/2, Overall = (0.8 + 2/3 + 5/6 + 1/2) / 4 = 0.7.
Predictions of the first-appearance frame 00000 (all background: J = 0 if it were scored) and of
the unannotated frame 00003 (everything object 1) must not enter the numbers.
"""

import json
import math
import os
import shutil

import numpy as np
import pytest

from hodor.evaluation import EvaluationError, YoutubeVosEvaluator
from hodor.utils.palette import save_index_png

H, W = 10, 20


def _band(ids_cols):
    m = np.zeros((H, W), np.uint8)
    for oid, (c0, c1) in ids_cols.items():
        m[:, c0 : c1 + 1] = oid
    return m


GT = {
    "00000": _band({1: (0, 9)}),
    "00005": _band({1: (0, 9), 2: (14, 19)}),
    "00010": _band({1: (0, 9), 2: (14, 19)}),
    "00015": _band({2: (14, 19), 3: (11, 12)}),
}
PRED = {
    "00000": np.zeros((H, W), np.uint8),
    "00003": np.ones((H, W), np.uint8),
    "00005": _band({1: (0, 8)}),
    "00010": _band({1: (0, 4), 2: (16, 19)}),
    "00015": _band({2: (14, 19)}),
}
META = {
    "videos": {
        "vid": {
            "objects": {
                "1": {"category": "cat", "frames": ["00000", "00005", "00010"]},
                "2": {"category": "dog", "frames": ["00005", "00010", "00015"]},
                "3": {"category": "bird", "frames": ["00015"]},
            }
        },
        "other": {"objects": {"1": {"category": "cat", "frames": ["00000"]}}},
    }
}


@pytest.fixture()
def split_root(tmp_path):
    for fid, m in GT.items():
        save_index_png(tmp_path / "train" / "Annotations" / "vid" / f"{fid}.png", m)
    (tmp_path / "train" / "meta.json").write_text(json.dumps(META))
    return tmp_path / "train"


def _evaluate(split_root, predictions, **kw):
    ev = YoutubeVosEvaluator(str(split_root / "Annotations"), ["vid"], **kw)
    ev.process("vid", predictions)
    return ev, ev.evaluate()


def test_hand_worked_j_f_seen_unseen(split_root):
    ev, res = _evaluate(split_root, PRED)
    o1, o2 = res.objects
    assert (o1.object_id, o1.category, o1.unseen, o1.num_frames) == (1, "cat", False, 3)
    assert (o2.object_id, o2.category, o2.unseen, o2.num_frames) == (2, "dog", True, 2)
    assert o1.J == pytest.approx(0.8, abs=1e-12) and o1.F == pytest.approx(2 / 3, abs=1e-12)
    assert o2.J == pytest.approx(5 / 6, abs=1e-12) and o2.F == pytest.approx(0.5, abs=1e-12)
    g = res.global_metrics()
    expected = {"Overall": 0.7, "J_seen": 0.8, "J_unseen": 5 / 6, "F_seen": 2 / 3, "F_unseen": 0.5}
    assert g == pytest.approx(expected, abs=1e-12)
    assert any("vid/3" in w for w in res.warnings)  # appears on the last annotated frame only
    assert ev.frames_scored() == 3  # 00005, 00010, 00015: not 00000 (given) nor 00003 (unannotated)


def test_first_frame_and_unannotated_frames_are_not_read(split_root, tmp_path):
    """A results folder without the first-appearance frame and the unannotated frame scores the same."""
    res_dir = tmp_path / "res" / "vid"
    for fid in ("00005", "00010", "00015"):
        save_index_png(res_dir / f"{fid}.png", PRED[fid])
    _, res = _evaluate(split_root, str(res_dir))
    assert res.global_metrics()["Overall"] == pytest.approx(0.7, abs=1e-12)


def test_seen_categories_argument_and_default(split_root):
    _, res = _evaluate(split_root, PRED, seen_categories=["dog"])
    g = res.global_metrics()
    assert g["J_seen"] == pytest.approx(5 / 6) and g["J_unseen"] == pytest.approx(0.8)
    # evaluating every video of meta.json leaves no training videos: everything unseen, seen NaN
    ev = YoutubeVosEvaluator(str(split_root / "Annotations"), ["vid", "other"])
    assert ev.seen_categories == frozenset()


def test_missing_prediction_frame_names_the_file(split_root, tmp_path):
    res_dir = tmp_path / "res" / "vid"
    for fid in ("00005", "00015"):
        save_index_png(res_dir / f"{fid}.png", PRED[fid])
    with pytest.raises(EvaluationError, match=r"prediction frame not found: .*vid[/\\]00010\.png"):
        _evaluate(split_root, str(res_dir))
    with pytest.raises(EvaluationError, match=r"video 'vid', frame 00010: no prediction"):
        _evaluate(split_root, {k: v for k, v in PRED.items() if k != "00010"})


# ------------------------------------------------------------------------------------------------
# end to end on the synthetic YouTube-VOS layout
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ytvos_root(tmp_path_factory):
    from hodor.data.synthetic import make_youtube_vos

    r = tmp_path_factory.mktemp("ytvos")
    make_youtube_vos(str(r / "YouTube-VOS"), num_videos=4, num_frames=11, image_size=(64, 96), split="train")
    return r


def _heldout(ytvos_root, tmp_path):
    videos = sorted(os.listdir(ytvos_root / "YouTube-VOS" / "train" / "JPEGImages"))
    lst = tmp_path / "heldout.txt"
    lst.write_text("\n".join(videos[:2]) + "\n")
    return videos[:2], f"youtube_vos_2019_train:{lst}"


def test_eval_vos_dataset_heldout_scoring_only(ytvos_root, tmp_path):
    from hodor.cli.eval_vos import main as eval_main

    videos, name = _heldout(ytvos_root, tmp_path)
    res = tmp_path / "res"
    for v in videos:  # the ground truth as predictions: every scored object gets J = F = 1
        shutil.copytree(ytvos_root / "YouTube-VOS" / "train" / "Annotations" / v, res / v)
    out = tmp_path / "out"
    args = ["--dataset", name, "--datasets-root", str(ytvos_root), "--results", str(res), "--out", str(out)]
    assert eval_main(args) == 0
    assert (out / "global_results-train.csv").is_file() and (out / "per-object_results-train.csv").is_file()
    record = json.loads((out / "eval_record.json").read_text())
    assert record["evaluator"] == "youtube_vos" and record["split"] == "train" and record["videos"] == videos
    assert all(v == 1.0 for v in record["metrics"].values() if not math.isnan(v))
    # --seen-categories FILE: every category seen -> the unseen columns are NaN
    cats = tmp_path / "cats.txt"
    meta = json.loads((ytvos_root / "YouTube-VOS" / "train" / "meta.json").read_text())
    cats.write_text("\n".join({o["category"] for v in meta["videos"].values() for o in v["objects"].values()}))
    assert eval_main(args + ["--seen-categories", str(cats)]) == 0
    m = json.loads((out / "eval_record.json").read_text())["metrics"]
    assert m["J_seen"] == 1.0 and math.isnan(m["J_unseen"])


def test_eval_vos_dataset_heldout_with_model(ytvos_root, tmp_path):
    import torch

    from hodor.checkpoint.formats import save_model
    from hodor.cli.eval_vos import main as eval_main
    from hodor.config import load_config
    from hodor.modeling import build_model
    from tests.inference.conftest import TINY_OPTS

    tiny_cfg = load_config(None, list(TINY_OPTS))
    torch.manual_seed(0)
    tiny_model = build_model(tiny_cfg).eval()

    videos, name = _heldout(ytvos_root, tmp_path)
    weights = save_model(tiny_model, tiny_cfg, str(tmp_path / "ckpt"))
    out = tmp_path / "run"
    argv = ["--dataset", name, "--datasets-root", str(ytvos_root), "--weights", weights, "--out", str(out)]
    assert eval_main(argv) == 0
    assert sorted(os.listdir(out / "results")) == videos and len(os.listdir(out / "results" / videos[0])) == 11
    record = json.loads((out / "eval_record.json").read_text())
    assert record["evaluator"] == "youtube_vos" and record["num_videos_scored"] == 2
    assert record["num_frames_present"] == 22 and 0 < record["num_frames_scored"] <= 2 * 2  # frames 5, 10
    assert set(record["metrics"]) == {"Overall", "J_seen", "J_unseen", "F_seen", "F_unseen"}
    assert record["checkpoint"]["sha256"]
