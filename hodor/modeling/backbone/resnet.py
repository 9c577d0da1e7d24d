"""ResNet trunks (18/50/101) from timm, returning C2..C5 at strides 4..32.

Not part of the original HODOR (which only has Swin-T); offered as lighter / more common backbones.
timm's ResNet keys are the torchvision keys (``conv1``, ``bn1``, ``layer{1-4}.{b}.conv{j}``,
``downsample.{0,1}``), so timm and torchvision ImageNet state dicts load directly; detectron2 names
(``stem.conv1.norm``, ``res{2-5}.{b}.conv{j}.norm``, ``shortcut``) are renamed on load.

BatchNorm is frozen by default (running statistics and affine fixed, as detectron2 does), because
HODOR trains with 1-2 samples per GPU, where batch statistics are useless.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import timm
from timm.layers import freeze_batch_norm_2d
from torch import Tensor, nn

from hodor.utils.logger import get_logger

from .registry import BACKBONE_REGISTRY
from .trunk import TrunkOptions

logger = get_logger(__name__)

RESNET_NAMES = ("resnet18", "resnet50", "resnet101")


class ResNetTrunk(nn.Module):
    """timm ResNet ``features_only`` at out_indices (1, 2, 3, 4).

    forward: images [N, 3, H, W] -> [C2 [N, c2, H/4, W/4], ..., C5 [N, c5, H/32, W/32]]
    (ceil sizes for odd inputs; the wrapper pads to 32 anyway).
    """

    size_divisibility = 32

    def __init__(self, timm_name: str, frozen_bn: bool = True) -> None:
        super().__init__()
        body = timm.create_model(timm_name, pretrained=False, features_only=True, out_indices=(1, 2, 3, 4))
        self.out_channels = list(body.feature_info.channels())
        self.strides = list(body.feature_info.reduction())
        self.body = freeze_batch_norm_2d(body) if frozen_bn else body

    def forward(self, images: Tensor) -> list[Tensor]:
        return list(self.body(images))

    def freeze(self, freeze_at: int) -> None:
        """Freeze the stem (freeze_at >= 1) and layer1..layer{freeze_at-1} (detectron2 convention)."""
        if freeze_at >= 1:
            self.body.conv1.requires_grad_(False)
            self.body.bn1.requires_grad_(False)
        for s in range(1, min(freeze_at, 5)):
            getattr(self.body, f"layer{s}").requires_grad_(False)

    @staticmethod
    def convert_external_state_dict(sd: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], list[str], list[str]]:
        """Map torchvision/timm/mmdet (``conv1``, ``layer1``...) or detectron2 (``stem``, ``res2``...) names.

        Returns (mapped, ignored, unknown) with mapped keys relative to this trunk (``body.*``).
        """
        mapped: dict[str, Tensor] = {}
        ignored: list[str] = []
        unknown: list[str] = []
        if any(k.startswith(("stem.", "res2.")) for k in sd):
            logger.warning(
                "Loading detectron2 ResNet weights into a torchvision-style ResNet (stride in the 3x3 conv, "
                "RGB input normalised by INPUT.PIXEL_MEAN/STD). MSRA-trained detectron2 ResNets put the stride "
                "in the 1x1 conv and expect BGR input without std scaling; expect a domain shift for those."
            )
        for key, value in sd.items():
            if key.startswith("fc.") or key.endswith("num_batches_tracked"):
                ignored.append(key)
                continue
            new = _detectron2_to_torchvision(key)
            if new is None and re.match(r"(conv1|bn1|layer[1-4])\.", key):
                new = key
            if new is None:
                unknown.append(key)
            else:
                mapped[f"body.{new}"] = value
        return mapped, ignored, unknown


def _detectron2_to_torchvision(key: str) -> str | None:
    """detectron2 ResNet name -> torchvision name, or None if ``key`` is not a detectron2 name."""
    m = re.match(r"stem\.conv1\.(norm\.)?(.+)$", key)
    if m:
        return ("bn1." if m.group(1) else "conv1.") + m.group(2)
    m = re.match(r"res([2-5])\.(\d+)\.(conv[1-3]|shortcut)\.(norm\.)?(.+)$", key)
    if not m:
        return None
    stage, block, conv, is_norm, leaf = m.groups()
    prefix = f"layer{int(stage) - 1}.{block}."
    if conv == "shortcut":
        return prefix + ("downsample.1." if is_norm else "downsample.0.") + leaf
    return prefix + (f"bn{conv[-1]}." if is_norm else f"{conv}.") + leaf


def _make_resnet(name: str):
    def build(opts: TrunkOptions) -> ResNetTrunk:  # stochastic depth is a Swin setting: not used here
        return ResNetTrunk(name, frozen_bn=opts.frozen_bn)

    build.__name__ = f"build_{name}"
    build.__doc__ = f"{name}: timm ResNet C2..C5 (torchvision key names)."
    return build


for _name in RESNET_NAMES:
    BACKBONE_REGISTRY.register(_name, _make_resnet(_name))
