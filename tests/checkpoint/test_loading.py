"""The one loading entry: strict fine-tuning by default, explicit partial loading, NaN refused,
the stored config read back (issue 11 / 13 / 14)."""

import logging

import pytest
import torch

from hodor.checkpoint import CheckpointError, checkpoint_config, load_model_weights, save_model
from hodor.checkpoint.checkpointer import Checkpointer
from hodor.config import cfg_to_dict
from hodor.modeling import build_model
from hodor.training.build import build_trainer
from tests.helpers import ClipStream, tiny_cfg


def test_stored_config_rebuilds_the_model(tmp_path):
    cfg = tiny_cfg(tmp_path / "run", "MODEL.ENCODER.NUM_LAYERS", "2")
    model = build_model(cfg)
    Checkpointer(model, str(tmp_path / "run")).save("model_final", 3, cfg_to_dict(cfg), periodic=False)
    for path in (str(tmp_path / "run" / "model_final.pth"), save_model(model, cfg, str(tmp_path / "export"))):
        stored = checkpoint_config(path)
        assert stored.MODEL.ENCODER.NUM_LAYERS == 2 and stored.MODEL.BACKBONE.NAME == cfg.MODEL.BACKBONE.NAME
        assert load_model_weights(build_model(stored), path).ok


def test_non_finite_weights_are_refused(tmp_path):
    cfg = tiny_cfg(tmp_path)
    sd = build_model(cfg).state_dict()
    sd["decoder.bg_query_proj.weight"][0, 0] = float("nan")
    path = str(tmp_path / "nan.pth")
    torch.save({"model": sd}, path)
    with pytest.raises(CheckpointError, match=r"nan\.pth.*non-finite.*decoder\.bg_query_proj\.weight"):
        load_model_weights(build_model(cfg), path)
    sd["decoder.bg_query_proj.weight"][0, 0] = float("inf")
    Checkpointer(build_model(cfg), str(tmp_path / "run")).save("model_0000001", 1)
    data = torch.load(tmp_path / "run" / "model_0000001.pth", weights_only=True)
    data["model"] = sd
    torch.save(data, tmp_path / "run" / "model_0000001.pth")
    with pytest.raises(CheckpointError, match="non-finite"):  # resume reads through the same check
        Checkpointer.read(str(tmp_path / "run" / "model_0000001.pth"))


def test_fine_tuning_is_strict_unless_asked(tmp_path, caplog):
    src_cfg = tiny_cfg(tmp_path / "src", "MODEL.ENCODER.NUM_LAYERS", "2")
    Checkpointer(build_model(src_cfg), str(tmp_path / "src")).save("model_final", 1, periodic=False)
    weights = str(tmp_path / "src" / "model_final.pth")
    stream = ClipStream(1, size=32)
    cfg = tiny_cfg(tmp_path / "ft", "MODEL.WEIGHTS", weights)  # one encoder layer: extra keys in the file
    with pytest.raises(CheckpointError, match=r"model_final\.pth.*nothing was loaded.*WEIGHTS_STRICT[\s\S]*unexpected"):
        build_trainer(cfg, data=stream, progress_bar=False)
    cfg = tiny_cfg(tmp_path / "ft2", "MODEL.WEIGHTS", weights, "MODEL.WEIGHTS_STRICT", "False")
    with caplog.at_level(logging.WARNING):
        trainer = build_trainer(cfg, data=stream, progress_bar=False)
    assert "loaded" in caplog.text and "unexpected in checkpoint" in caplog.text
    assert trainer.start_iter == 0
