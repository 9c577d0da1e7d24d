"""Refuse to train a paper recipe from a randomly initialised backbone by accident.

The paper's static-image model starts from an mmdetection COCO detector checkpoint (Swin-T +
FPN); from scratch the recipe is a different experiment with a much lower J&F. A config that
reproduces the paper names that file in ``MODEL.BACKBONE.RECIPE_WEIGHTS``; training it then needs
``MODEL.BACKBONE.WEIGHTS`` (a file), ``MODEL.WEIGHTS`` (a whole model, e.g. the static-image
result for the video stages), or ``MODEL.BACKBONE.WEIGHTS none`` to say "random init, on purpose".
"""

from __future__ import annotations

from ..utils.errors import UserError

__all__ = ["NO_WEIGHTS", "RecipeWeightsError", "backbone_weights_path", "check_recipe_weights"]

NO_WEIGHTS = "none"  # MODEL.BACKBONE.WEIGHTS value that means "random initialisation, deliberately"

READABLE_FORMATS = (
    "mmdetection detector checkpoints ({'state_dict': {backbone.*, neck.*}}), original HODOR checkpoints, "
    "hodor checkpoints, detectron2/Mask2Former model-zoo .pkl files, timm/official Swin or torchvision/timm "
    "ResNet state dicts; as .pth/.pt (torch.load with weights_only=True), .safetensors or .pkl"
)


class RecipeWeightsError(UserError, ValueError):
    """A paper recipe was started without the backbone weights the paper used (a user error: one message, exit 2)."""


def backbone_weights_path(value: str) -> str:
    """The file to load for a MODEL.BACKBONE.WEIGHTS value ("" and "none" -> no file)."""
    return "" if value.strip().lower() in ("", NO_WEIGHTS) else value


def check_recipe_weights(cfg, config_file: str = "") -> None:
    """Raise :class:`RecipeWeightsError` if the config names recipe weights but none are given."""
    recipe = cfg.MODEL.BACKBONE.RECIPE_WEIGHTS
    given = cfg.MODEL.BACKBONE.WEIGHTS.strip()
    if not recipe or given or cfg.MODEL.WEIGHTS:
        return
    where = f"{config_file} reproduces" if config_file else "This config reproduces"
    raise RecipeWeightsError(
        f"{where} a paper recipe whose backbone starts from pretrained weights: {recipe}. "
        "Such files come from the Swin-Transformer-Object-Detection / mmdetection model zoo "
        "(github.com/SwinTransformer/Swin-Transformer-Object-Detection, COCO Mask R-CNN / Cascade Mask R-CNN "
        "Swin-T checkpoints) or from the original HODOR workspace (pretrained_backbones/swin_tiny_pretrained.pth). "
        f"Pass MODEL.BACKBONE.WEIGHTS /path/to/file. Formats read: {READABLE_FORMATS}. "
        f"To train from a random initialisation anyway, set MODEL.BACKBONE.WEIGHTS {NO_WEIGHTS}."
    )
