"""Every tool accepts a checkpoint alone: the config it carries rebuilds the model (issue 11);
``hodor-train --eval-only`` evaluates without training or writing model files."""

import os
import shutil

import cv2
import numpy as np
import pytest

from hodor.checkpoint import save_model
from hodor.checkpoint.checkpointer import Checkpointer
from hodor.cli.infer_video import main as infer_main
from hodor.cli.train import train_main
from hodor.config import cfg_to_dict
from hodor.utils.palette import save_index_png
from tests.inference.conftest import box_mask, synthetic_video

FIXTURE_DAVIS = os.path.join(os.path.dirname(__file__), "..", "fixtures", "davis_eval", "fixture", "DAVIS")
SEQ = "dev-fullframe-3f"


def _mp4(path, frames):
    h, w = frames.shape[1:3]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (w, h))
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()


@pytest.fixture
def clip(tmp_path):
    _mp4(tmp_path / "clip.mp4", synthetic_video(3, 64, 96))
    save_index_png(str(tmp_path / "m.png"), np.where(box_mask(64, 96, 8, 28, 10, 34), 1, 0).astype(np.uint8))
    return str(tmp_path / "clip.mp4"), str(tmp_path / "m.png")


@pytest.mark.parametrize("kind", ["training_pth", "safetensors_dir"])
def test_infer_video_with_weights_only(tmp_path, clip, tiny_cfg, tiny_model, kind, capsys):
    if kind == "training_pth":  # what hodor-train writes: model_final.pth with the resolved config
        Checkpointer(tiny_model, str(tmp_path / "run")).save("model_final", 1, cfg_to_dict(tiny_cfg), periodic=False)
        weights = str(tmp_path / "run" / "model_final.pth")
    else:  # what tools/convert_checkpoint.py writes
        weights = os.path.dirname(save_model(tiny_model, tiny_cfg, str(tmp_path / "export")))
    video, mask = clip
    out = tmp_path / "out"
    # no --config-file and no architecture keys: the default architecture (Swin-T) would not fit
    assert infer_main([video, "--mask", f"0:{mask}", "--output", str(out), "--weights", weights, "--no-overlay"]) == 0
    assert sorted(os.listdir(out / "masks")) == ["00000.png", "00001.png", "00002.png"]
    # KEY VALUE still overrides the stored config: another architecture is a clear error naming the file
    # (a new --output: the first one already holds results, which infer-video refuses to replace)
    rc = infer_main(
        [video, "--mask", mask, "--output", str(tmp_path / "o2"), "--weights", weights, "MODEL.ENCODER.NUM_LAYERS", "2"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and os.path.basename(weights) in err and "encoder.attn_layers.1" in err


def test_train_eval_only_evaluates_without_training(tmp_path, tiny_cfg, tiny_model, capsys):
    davis = tmp_path / "DAVIS"
    for sub in ("JPEGImages", "Annotations"):
        shutil.copytree(os.path.join(FIXTURE_DAVIS, sub, "480p", SEQ), davis / sub / "480p" / SEQ)
    (davis / "ImageSets" / "2017").mkdir(parents=True)
    (davis / "ImageSets" / "2017" / "val.txt").write_text(SEQ + "\n")
    Checkpointer(tiny_model, str(tmp_path / "run")).save("model_final", 1, cfg_to_dict(tiny_cfg), periodic=False)
    out = tmp_path / "eval_out"
    argv = ["--eval-only", "MODEL.WEIGHTS", str(tmp_path / "run" / "model_final.pth"), "OUTPUT_DIR", str(out)]
    rc = train_main([*argv, "DATASETS.TEST", f"['davis_folder:{davis}']"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert "J&F-Mean" in printed.out
    written = [os.path.join(d, f) for d, _, files in os.walk(out) for f in files]
    assert any(f.endswith("global_results-val.csv") for f in written)
    assert not [f for f in written if f.endswith((".pth", ".safetensors")) or "last_checkpoint" in f], written
    # nothing to evaluate: a clear error, no training
    assert train_main(argv) == 2 and "DATASETS.TEST" in capsys.readouterr().err
