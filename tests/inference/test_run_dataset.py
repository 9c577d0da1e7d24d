"""Dataset runner (DAVIS layout; tools/quickstart.py) and tools/eval_vos.py mode 2 (run a checkpoint: DAVIS
scored, YouTube-VOS submission), which goes through inference_on_dataset."""

import json
import os
import shutil
import zipfile

import numpy as np
import pytest
import yaml
from PIL import Image

from hodor.cli.eval_vos import main as eval_main
from hodor.data.io import DataError, read_index_mask
from hodor.inference import run_dataset
from hodor.utils.palette import save_index_png
from tests.inference.conftest import TINY_OPTS, box_mask, synthetic_video

FIXTURE_DAVIS = os.path.join(os.path.dirname(__file__), "..", "fixtures", "davis_eval", "fixture", "DAVIS")
SEQS = ["dev-fullframe-3f"]  # 3 frames of 64x64 (the network size of the tiny config)


@pytest.fixture
def small_davis(tmp_path):
    root = tmp_path / "DAVIS"
    for kind in ("JPEGImages", "Annotations"):
        for s in SEQS:
            shutil.copytree(os.path.join(FIXTURE_DAVIS, kind, "480p", s), root / kind / "480p" / s)
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("\n".join(SEQS) + "\n")
    return str(root)


def test_run_dataset_writes_every_frame(small_davis, tmp_path, tiny_model, tiny_cfg):
    out = run_dataset(tiny_model, tiny_cfg, small_davis, str(tmp_path / "res"), progress=False)
    for s in SEQS:
        frames = sorted(os.listdir(os.path.join(small_davis, "JPEGImages", "480p", s)))
        pngs = sorted(os.listdir(os.path.join(out, s)))
        assert pngs == [f.replace(".jpg", ".png") for f in frames]
        gt0 = read_index_mask(os.path.join(small_davis, "Annotations", "480p", s, pngs[0]))
        pred0 = read_index_mask(os.path.join(out, s, pngs[0]))
        assert pred0.shape == gt0.shape
        ids = set(np.unique(gt0)) - {0, 255}
        assert ids and set(np.unique(pred0)) - {0} == ids
        np.testing.assert_array_equal(pred0, np.where(gt0 == 255, 0, gt0))  # first frame = given objects
    # a stale PNG from an earlier run in the results folder is an error naming the file
    stale = os.path.join(out, SEQS[0], "99999.png")
    save_index_png(stale, np.zeros((64, 64), np.uint8))
    with pytest.raises(DataError, match="99999.png"):
        run_dataset(tiny_model, tiny_cfg, small_davis, out, sequences=[SEQS[0]], progress=False)


def test_eval_vos_mode2_runs_checkpoint_and_scores(small_davis, tmp_path, capsys):
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump({"OUTPUT_DIR": str(tmp_path / "unused")}))
    out = tmp_path / "eval"
    rc = eval_main(["--config-file", str(cfg_file), "--davis-root", small_davis, "--out", str(out), *TINY_OPTS])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert (out / "global_results-val.csv").is_file() and (out / "per-sequence_results-val.csv").is_file()
    assert sorted(os.listdir(out / "results")) == sorted(SEQS)
    assert "J&F-Mean" in printed.out
    # --davis-root is an alias of --dataset davis_folder:<root>: the record holds the inference settings
    record = json.loads((out / "eval_record.json").read_text())
    assert record["dataset"] == f"davis_folder:{small_davis}" and record["inference"]["temporal_window"] == 2
    # bad input: a checkpoint that does not exist -> exit 2 naming the file
    rc = eval_main(["--config-file", str(cfg_file), "--davis-root", small_davis, "--out", str(out), *TINY_OPTS, "MODEL.WEIGHTS", str(tmp_path / "missing.pth")])  # fmt: skip
    assert rc == 2 and "missing.pth" in capsys.readouterr().err


def test_youtube_vos_submission_with_late_object(tmp_path, capsys):
    """DATASETS.TEST youtube_vos_2019_valid (no local GT): eval_vos mode 2 writes Annotations/ and the zip."""
    split_root = tmp_path / "data" / "YouTube-VOS" / "valid"
    frames = synthetic_video(5, 64, 96)
    vdir, adir = split_root / "JPEGImages" / "vid1", split_root / "Annotations" / "vid1"
    vdir.mkdir(parents=True)
    adir.mkdir(parents=True)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(vdir / f"{5 * i:05d}.jpg", quality=95)
    a0 = np.where(box_mask(64, 96, 8, 28, 10, 34), 1, 0).astype(np.uint8)
    a2 = np.where(box_mask(64, 96, 30, 54, 56, 80), 4, 0).astype(np.uint8)  # object 4 starts at frame 2
    save_index_png(adir / "00000.png", a0)
    save_index_png(adir / "00010.png", a2)
    meta = {
        "videos": {
            "vid1": {
                "objects": {
                    "1": {"category": "a", "frames": [f"{5 * i:05d}" for i in range(5)]},
                    "4": {"category": "b", "frames": ["00010", "00015", "00020"]},
                }
            }
        }
    }
    (split_root / "meta.json").write_text(json.dumps(meta))
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump({"OUTPUT_DIR": str(tmp_path / "unused")}))
    opts = ["DATASETS.ROOT", str(tmp_path / "data"), "DATASETS.TEST", "['youtube_vos_2019_valid']"]
    rc = eval_main(["--config-file", str(cfg_file), "--out", str(tmp_path / "sub"), *TINY_OPTS, *opts])
    assert rc == 0, capsys.readouterr().err
    zp = tmp_path / "sub" / "Annotations.zip"
    with zipfile.ZipFile(zp) as zf:
        names = sorted(zf.namelist())
    assert names == [f"Annotations/vid1/{5 * i:05d}.png" for i in range(5)]
    preds = [read_index_mask(str(tmp_path / "sub" / "Annotations" / "vid1" / f"{5 * i:05d}.png")) for i in range(5)]
    np.testing.assert_array_equal(preds[0], a0)
    assert 4 not in preds[1] and (preds[2][a2 == 4] == 4).all()
