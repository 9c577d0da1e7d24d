"""Paper recipes refuse to train without the backbone weights the paper started from."""

import os

import pytest

from hodor.config import load_config
from hodor.config.recipe_weights import RecipeWeightsError, backbone_weights_path, check_recipe_weights
from hodor.training.build import build_trainer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAPER = os.path.join(REPO, "configs", "static_image", "coco_swin_t.yaml")


def test_paper_config_refuses_to_start_without_backbone_weights(tmp_path):
    cfg = load_config(PAPER, ["OUTPUT_DIR", str(tmp_path), "DEVICE", "cpu"])
    with pytest.raises(RecipeWeightsError) as e:
        build_trainer(cfg, progress_bar=False)
    msg = str(e.value)
    # which file the paper used, where such files come from, which formats we read, how to opt out
    for part in ("swin_tiny_pretrained.pth", "mmdetection", "Swin-Transformer-Object-Detection", ".safetensors",
                 "MODEL.BACKBONE.WEIGHTS none"):  # fmt: skip
        assert part in msg


@pytest.mark.parametrize("config", ["video/dense_swin_t.yaml", "video/sparse_swin_t.yaml"])
def test_video_recipes_need_the_static_model(config):
    cfg = load_config(os.path.join(REPO, "configs", config))
    with pytest.raises(RecipeWeightsError, match="MODEL.WEIGHTS"):
        check_recipe_weights(cfg)
    check_recipe_weights(load_config(os.path.join(REPO, "configs", config), ["MODEL.WEIGHTS", "static.pth"]))


def test_explicit_none_or_a_file_is_accepted():
    check_recipe_weights(load_config(PAPER, ["MODEL.BACKBONE.WEIGHTS", "none"]))
    check_recipe_weights(load_config(PAPER, ["MODEL.BACKBONE.WEIGHTS", "/x/swin.pth"]))
    assert backbone_weights_path("none") == backbone_weights_path("NONE") == backbone_weights_path("") == ""
    assert backbone_weights_path("/x/swin.pth") == "/x/swin.pth"
    # configs that do not name recipe weights (quick start, tests) train from scratch silently
    check_recipe_weights(load_config(os.path.join(REPO, "configs", "quickstart", "static_image_r18.yaml")))
