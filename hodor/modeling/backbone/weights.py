"""Load backbone (+FPN) weights from the common checkpoint formats into :class:`BackboneWithFPN`.

Supported sources (detected from the key names, not the file name):

* original HODOR checkpoints (``feature_extractor.*``; encoder/decoder keys are ignored);
* hodor's own modules (``trunk.* / fpn.* / norms.*``, also under a prefix such as ``backbone.``);
* mmdetection detector checkpoints (``{"state_dict": {"backbone.*", "neck.*", heads...}}``);
* detectron2 / Mask2Former model-zoo files (``backbone.bottom_up.*``, ``backbone.fpn_lateral{k}``,
  ``backbone.fpn_output{k}``, or Swin as ``backbone.layers.*``);
* plain trunk state dicts: timm / official Swin, timm / torchvision ResNet (classifier ignored).

Files: ``.safetensors`` via safetensors; ``.pkl`` via a restricted unpickler that only rebuilds numpy
arrays and plain containers; anything else via ``torch.load(weights_only=True)``. Nothing here ever
runs arbitrary pickled code.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from hodor.utils.logger import get_logger

from .original_keys import convert_original_feature_extractor, map_mmdet_fpn_key

logger = get_logger(__name__)

# Top-level keys under which checkpoints keep the state dict, tried in order.
_CONTAINER_KEYS = ("model", "state_dict", "module", "model_state", "model_state_dict")
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


@dataclass
class LoadReport:
    """What happened when a weight file was loaded into a backbone.

    ``missing``: backbone keys the file did not provide (they keep their current values);
    ``unexpected``: file keys that look like backbone weights but have no place in this backbone;
    ``ignored``: keys known to be irrelevant (classifier, detector heads, derived buffers);
    ``shape_mismatch``: (key, file shape, backbone shape), not loaded.
    """

    path: str
    source_format: str
    backbone: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    shape_mismatch: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every backbone tensor was loaded and nothing else in the file was left over."""
        return not (self.missing or self.unexpected or self.shape_mismatch)

    def __str__(self) -> str:
        lines = [
            f"Loaded {len(self.loaded)} tensors into backbone '{self.backbone}' from {self.path} "
            f"(format: {self.source_format})."
        ]

        def block(title: str, items: list[Any]) -> None:
            if items:
                shown = "\n    ".join(str(i) for i in items[:20])
                more = f"\n    ... and {len(items) - 20} more" if len(items) > 20 else ""
                lines.append(f"  {title} ({len(items)}):\n    {shown}{more}")

        block("missing in file (kept as initialised)", self.missing)
        block("unexpected in file (not loaded)", self.unexpected)
        block("shape mismatch (key, file, backbone)", self.shape_mismatch)
        if self.ignored:
            lines.append(f"  ignored ({len(self.ignored)}, e.g. classifier/heads/derived buffers): {self.ignored[:5]}")
        return "\n".join(lines)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler for model-zoo ``.pkl`` files that can only rebuild numpy arrays and containers.

    detectron2 / Mask2Former ship weights as pickled dicts of numpy arrays. Plain ``pickle.load``
    would execute whatever callable the file names; here every global outside a small allow-list
    (numpy array/dtype/scalar reconstruction, OrderedDict, set) raises.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("collections", "OrderedDict"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
    }
    _NUMPY_DTYPE_CLASSES = re.compile(r"numpy(\._core|\.core)?\.?dtypes?$")

    def find_class(self, module: str, name: str) -> Any:
        allowed = (module, name) in self._ALLOWED or (
            # numpy 2 pickles dtypes as numpy.dtypes.Float32DType etc.
            self._NUMPY_DTYPE_CLASSES.match(module) is not None and name.endswith("DType")
        )
        if not allowed:
            raise pickle.UnpicklingError(f"refusing to load global '{module}.{name}' (only numpy arrays are allowed)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core alias in numpy 2
            return super().find_class(module, name)


def load_pickle_restricted(path: str) -> Any:
    """Read a ``.pkl`` weight file with :class:`_RestrictedUnpickler` (latin1 for Python-2 pickles)."""
    with open(path, "rb") as fh:
        try:
            return _RestrictedUnpickler(fh, encoding="latin1").load()
        except pickle.UnpicklingError as e:
            raise ValueError(f"{path}: unsafe or corrupt pickle: {e}") from e
        except Exception as e:  # truncated files, wrong format, ...
            raise ValueError(f"{path}: cannot read as a weights pickle: {type(e).__name__}: {e}") from e


def read_weight_file(path: str) -> dict[str, Tensor]:
    """Read a weight file and return its (unwrapped) flat state dict as CPU tensors.

    Non-tensor entries (e.g. counters) are dropped; numpy arrays become tensors.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"backbone weight file not found: {path} (README 'Getting models' says where the COCO Mask R-CNN "
            "Swin-T backbone comes from and which formats are read; leave MODEL.BACKBONE.WEIGHTS empty to "
            "train from random initialisation)"
        )
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        obj: Any = load_file(path, device="cpu")
    elif path.endswith(".pkl"):
        obj = load_pickle_restricted(path)
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ValueError(
                f"{path}: cannot be loaded with torch.load(weights_only=True) ({type(e).__name__}: {e}). "
                "Convert trusted files to a plain state dict or .safetensors first."
            ) from e
    sd = _unwrap_state_dict(obj, path)
    out: dict[str, Tensor] = {}
    for k, v in sd.items():
        if isinstance(v, Tensor):
            out[k] = v
        elif isinstance(v, np.ndarray) and v.dtype != object:
            out[k] = torch.from_numpy(np.ascontiguousarray(v))
    if not out:
        raise ValueError(f"{path}: contains no tensors")
    return out


def _is_tensor_like(v: Any) -> bool:
    return isinstance(v, (Tensor, np.ndarray))


def _unwrap_state_dict(obj: Any, path: str) -> Mapping[str, Any]:
    """Descend through {"model": ...} / {"state_dict": ...} wrappers to the tensor mapping."""
    for _ in range(3):
        if not isinstance(obj, Mapping):
            raise ValueError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
        if any(_is_tensor_like(v) for v in obj.values()):
            return obj
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            raise ValueError(
                f"{path}: no state dict found (top-level keys: {sorted(map(str, obj))[:10]}; "
                f"expected tensors or one of {list(_CONTAINER_KEYS)})"
            )
        obj = inner
    raise ValueError(f"{path}: state dict nested too deeply")


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

    ``strict=True`` raises ``ValueError`` naming the file and the offending keys unless every
    backbone tensor was loaded with the right shape and no backbone-like key was left over.
    In any mode a file that matches *nothing* (e.g. ResNet weights for a Swin) raises.
    """
    sd = read_weight_file(path)
    name = getattr(backbone, "name", type(backbone.trunk).__name__)
    mapped, ignored, unknown, fmt = convert_to_backbone_keys(sd, backbone)
    target = backbone.state_dict()
    report = LoadReport(path=path, source_format=fmt, backbone=name, ignored=sorted(ignored))
    to_load: dict[str, Tensor] = {}
    for k, v in mapped.items():
        if k not in target:
            report.unexpected.append(k)
        elif tuple(v.shape) != tuple(target[k].shape):
            report.shape_mismatch.append((k, tuple(v.shape), tuple(target[k].shape)))
        else:
            to_load[k] = v
    report.unexpected += unknown
    # BatchNorm's step counter is bookkeeping, not a weight: never report it as missing.
    report.missing = [k for k in target if k not in to_load and not k.endswith("num_batches_tracked")]
    report.loaded = sorted(to_load)
    if not to_load:
        raise ValueError(
            f"{path}: no tensor fits backbone '{name}' ({fmt}; the file looks like "
            f"{guess_architecture(list(sd))}). Details:\n{report}"
        )
    if strict and not report.ok:
        raise ValueError(f"{path}: does not match backbone '{name}' exactly (strict=True):\n{report}")
    backbone.load_state_dict(to_load, strict=False)
    if not report.ok:
        logger.warning("%s", report)
    return report
