"""Load pretrained backbone (+FPN) weights from the common checkpoint formats into a
:class:`~hodor.modeling.backbone.BackboneWithFPN`.

Why here and not in modeling: a model is built from its config alone; reading a pretraining file is
a training-start decision (``hodor.training.build``: only when neither a resumed checkpoint nor
``MODEL.WEIGHTS`` supplies every weight), so inference, export and conversion never open it.

Supported sources (detected from the key names, not the file name):

* original HODOR checkpoints (``feature_extractor.*``; encoder/decoder keys are ignored);
* hodor's own modules (``trunk.* / fpn.* / norms.*``, also under a prefix such as ``backbone.``);
* mmdetection detector checkpoints (``{"state_dict": {"backbone.*", "neck.*", heads...}}``);
* detectron2 / Mask2Former model-zoo files (``backbone.bottom_up.*``, ``backbone.fpn_lateral{k}``,
  ``backbone.fpn_output{k}``, or Swin as ``backbone.layers.*``);
* plain trunk state dicts: timm / official Swin, timm / torchvision ResNet (classifier ignored).

Files are read by :func:`hodor.checkpoint.formats.read_checkpoint` (safetensors, ``.pkl`` through an
unpickler that only rebuilds numpy arrays, anything else through ``torch.load(weights_only=True)``)
and matched by its :func:`~hodor.checkpoint.formats.match_state_dict`; this module only knows how
the backbone's keys are spelled in each source.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from torch import Tensor, nn

from ..modeling.backbone.original_keys import convert_original_feature_extractor, map_mmdet_fpn_key
from ..utils.logger import get_logger
from .formats import CheckpointError, LoadReport, match_state_dict, read_checkpoint

logger = get_logger(__name__)

# Prefixes of non-backbone parts of detectors / segmenters that are skipped without complaint.
_HEAD_PREFIXES = (
    "roi_heads.",
    "rpn_head.",
    "rpn.",
    "proposal_generator.",
    "bbox_head.",
    "mask_head.",
    "sem_seg_head.",
    "panoptic_head.",
    "decode_head.",
    "auxiliary_head.",
    "criterion.",
    "pixel_mean",
    "pixel_std",
    "encoder.",
    "decoder.",
    "head.",
    "fc.",
)


def read_weight_file(path: str) -> dict[str, Tensor]:
    """The flat state dict of a weight file (CPU tensors; see :func:`hodor.checkpoint.formats.read_checkpoint`)."""
    if not os.path.isfile(path) and not os.path.isdir(path):
        raise FileNotFoundError(
            f"backbone weight file not found: {path} (README 'Getting models' says where the COCO Mask R-CNN "
            "Swin-T backbone comes from and which formats are read; leave MODEL.BACKBONE.WEIGHTS empty to "
            "train from random initialisation)"
        )
    return read_checkpoint(path)[0]


def guess_architecture(keys: list[str]) -> str:
    """A human-readable guess of what network a set of keys belongs to (for error messages)."""
    text = "\n".join(keys)
    if re.search(r"layers\.\d+\.blocks\.\d+\.attn", text):
        dims = re.search(r"patch_embed\.proj\.weight", text)
        return "a Swin Transformer" + ("" if dims else " (no patch embedding)")
    if re.search(r"(^|\.)(layer[1-4]|res[2-5])\.\d+\.", text, re.M):
        return "a ResNet"
    if re.search(r"(^|\.)(blocks\.\d+\.attn|cls_token)", text, re.M):
        return "a ViT-like model"
    return "an unknown architecture"


def _strip_common_prefix(sd: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    if sd and all(k.startswith(prefix) for k in sd):
        return {k[len(prefix) :]: v for k, v in sd.items()}
    return dict(sd)


def convert_to_backbone_keys(
    sd: Mapping[str, Tensor], backbone: nn.Module
) -> tuple[dict[str, Tensor], list[str], list[str], str]:
    """Rename a checkpoint's keys to ``backbone``'s keys.

    Returns (mapped, ignored, unknown, source_format). ``mapped`` may still hold keys the backbone
    lacks (e.g. Swin-S blocks given to Swin-T); :func:`load_backbone_weights` reports those.
    """
    sd = _strip_common_prefix(sd, "module.")
    keys = list(sd)
    if any(k.startswith("feature_extractor.") for k in keys):
        mapped = convert_original_feature_extractor(sd)
        ignored = [k for k in keys if not k.startswith("feature_extractor.")]
        ignored += [k for k in keys if k.endswith("relative_position_index") or k.endswith("norm_layers.4.weight")]
        ignored += [k for k in keys if k.endswith("norm_layers.4.bias")]
        return mapped, ignored, [], "original HODOR checkpoint"
    own_roots = ("trunk.", "fpn.", "norms.")
    own_prefix = re.compile(r"((?:[^.]+\.)*?)trunk\.")  # "" or "backbone." etc. before "trunk."
    prefixes = {m.group(1) for k in keys if (m := own_prefix.match(k))}
    if prefixes:
        prefix = min(prefixes, key=len)

        def is_own(k: str) -> bool:
            return k.startswith(prefix) and k[len(prefix) :].startswith(own_roots)

        mapped = {k[len(prefix) :]: v for k, v in sd.items() if is_own(k)}
        ignored = [k for k in keys if not is_own(k)]
        return mapped, ignored, [], f"hodor backbone (prefix '{prefix}')" if prefix else "hodor backbone"

    trunk = backbone.trunk
    has_backbone = any(k.startswith("backbone.") for k in keys)
    has_neck = any(k.startswith("neck.") for k in keys)
    is_d2 = any(k.startswith(("backbone.bottom_up.", "backbone.fpn_")) for k in keys)
    if is_d2:
        fmt = "detectron2"
    elif has_neck:
        fmt = "mmdetection detector"
    elif has_backbone:
        fmt = "detector/segmenter backbone (backbone.*, e.g. Mask2Former)"
    else:
        fmt = "plain trunk state dict (timm / torchvision / official)"

    mapped: dict[str, Tensor] = {}
    ignored: list[str] = []
    unknown: list[str] = []
    trunk_part: dict[str, Tensor] = {}
    for k, v in sd.items():
        if k.startswith("neck."):
            new = map_mmdet_fpn_key(k[len("neck.") :])
            if new is not None:
                mapped[new] = v
            else:
                ignored.append(k)
            continue
        m = re.match(r"backbone\.fpn_(lateral|output)([2-5])\.(weight|bias)$", k)
        if m:
            kind = "lateral_convs" if m.group(1) == "lateral" else "output_convs"
            mapped[f"fpn.{kind}.{int(m.group(2)) - 2}.{m.group(3)}"] = v
            continue
        if k.startswith("backbone.bottom_up."):
            trunk_part[k[len("backbone.bottom_up.") :]] = v
        elif k.startswith("backbone."):
            trunk_part[k[len("backbone.") :]] = v
        elif has_backbone or k.startswith(_HEAD_PREFIXES):
            ignored.append(k)  # detector heads next to a backbone, or a classifier
        else:
            trunk_part[k] = v
    t_mapped, t_ignored, t_unknown = trunk.convert_external_state_dict(trunk_part)
    mapped.update({f"trunk.{k}": v for k, v in t_mapped.items()})
    ignored += t_ignored
    unknown += t_unknown
    return mapped, ignored, unknown, fmt


def load_backbone_weights(backbone: nn.Module, path: str, strict: bool = False) -> LoadReport:
    """Load a weight file into a :class:`BackboneWithFPN` and return what was (not) loaded.

    ``strict=True`` raises :class:`~hodor.checkpoint.formats.CheckpointError` (a ``ValueError``) naming the file and the offending keys unless every
    backbone tensor was loaded with the right shape and no backbone-like key was left over.
    In any mode a file that matches *nothing* (e.g. ResNet weights for a Swin) raises.
    """
    sd = read_weight_file(path)
    name = getattr(backbone, "name", type(backbone.trunk).__name__)
    mapped, ignored, unknown, fmt = convert_to_backbone_keys(sd, backbone)
    # BatchNorm's step counter is bookkeeping, not a weight: never report it as missing.
    to_load, report = match_state_dict(backbone, mapped, path, optional_suffixes=("num_batches_tracked",))
    report.source_format, report.target, report.ignored = fmt, f"backbone '{name}'", sorted(ignored)
    report.unexpected += unknown
    if not to_load:
        raise CheckpointError(
            f"{path}: no tensor fits backbone '{name}' ({fmt}; the file looks like "
            f"{guess_architecture(list(sd))}). Details:\n{report}"
        )
    if strict and not report.ok:
        raise CheckpointError(f"{path}: does not match backbone '{name}' exactly (strict=True):\n{report}")
    backbone.load_state_dict(to_load, strict=False)
    if not report.ok:
        logger.warning("%s", report)
    return report
