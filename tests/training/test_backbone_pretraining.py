"""Pretrained backbone weights (MODEL.BACKBONE.WEIGHTS) are read at training start only.

Building a model never opens the file (inference, export and conversion build models from configs
that may still name it); a fresh training run loads it into the backbone; a run that starts from
MODEL.WEIGHTS (fine-tuning) never reads it; a missing file is a clear error naming it.
"""

import pytest
import torch
import torchvision

from hodor.checkpoint.formats import save_model
from hodor.engine.setup import default_setup
from hodor.modeling import build_model
from hodor.training.build import build_trainer
from tests.helpers import ClipStream, tiny_cfg


def _torchvision_resnet18(path) -> dict[str, torch.Tensor]:
    torch.manual_seed(123)
    sd = torchvision.models.resnet18(
        weights=None
    ).state_dict()  # the file a user downloads, keys as torchvision names them
    torch.save(sd, path)
    return sd


def test_fresh_training_loads_the_backbone_file(tmp_path):
    sd = _torchvision_resnet18(tmp_path / "r18.pth")
    cfg = tiny_cfg(tmp_path / "run", "MODEL.BACKBONE.WEIGHTS", str(tmp_path / "r18.pth"))
    default_setup(cfg)
    trainer = build_trainer(cfg, data=ClipStream(1, size=32), progress_bar=False)
    loaded = list(trainer.model.backbone.state_dict().values())
    # independent check: the file's tensors (by value) are now in the backbone
    for key in ("conv1.weight", "layer1.0.conv1.weight", "layer4.1.conv2.weight"):
        assert any(v.shape == sd[key].shape and torch.equal(v, sd[key]) for v in loaded), key


def test_building_a_model_never_opens_the_backbone_file(tmp_path):
    cfg = tiny_cfg(tmp_path / "run", "MODEL.BACKBONE.WEIGHTS", str(tmp_path / "absent.pth"))
    build_model(cfg)  # no error: the file is not read here


def test_fine_tuning_does_not_read_the_backbone_file(tmp_path):
    src = tiny_cfg(tmp_path / "src")
    torch.manual_seed(0)
    model = build_model(src)
    save_model(model, src, str(tmp_path / "src_model"))
    cfg = tiny_cfg(
        tmp_path / "ft",
        "MODEL.WEIGHTS",
        str(tmp_path / "src_model"),
        "MODEL.BACKBONE.WEIGHTS",
        str(tmp_path / "absent.pth"),
    )
    default_setup(cfg)
    trainer = build_trainer(cfg, data=ClipStream(1, size=32), progress_bar=False)
    for k, v in model.state_dict().items():
        assert torch.equal(v, trainer.model.state_dict()[k]), k


def test_missing_backbone_file_is_a_clear_error(tmp_path):
    cfg = tiny_cfg(tmp_path / "run", "MODEL.BACKBONE.WEIGHTS", str(tmp_path / "absent.pth"))
    default_setup(cfg)
    with pytest.raises(FileNotFoundError, match=r"absent\.pth.*Getting models"):
        build_trainer(cfg, data=ClipStream(1, size=32), progress_bar=False)
