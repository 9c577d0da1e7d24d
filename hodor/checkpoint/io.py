"""Reading and writing model weights.

Our format (written by :func:`save_model`) is a directory holding

* ``model.safetensors`` -- the weights (safetensors: no pickle, loads anywhere), with the
  resolved config also stored as YAML in the file's metadata (key ``hodor_config``), and
* ``config.yaml`` -- the same config, to rebuild the model (``hodor.config.load_config``).

:func:`load_model_weights` also reads a ``.pth`` file written by ``torch.save`` of either a
plain state dict or a dict with a ``"model"`` state dict (plus optionally ``"cfg"``: YAML text or
a nested dict; training checkpoints of this project), always with ``weights_only=True``, and
an *original* HODOR training checkpoint, which it converts on the fly (hodor/checkpoint/convert.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
import yaml
from torch import Tensor, nn

from ..utils.errors import UserError
from ..utils.logger import get_logger

logger = get_logger(__name__)

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.yaml"
CONFIG_METADATA_KEY = "hodor_config"


class CheckpointError(UserError, ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message names the file."""


def _cfg_to_yaml(cfg) -> str:
    if cfg is None:
        return ""
    if hasattr(cfg, "dump"):
        return cfg.dump()
    return yaml.safe_dump(cfg)


def save_model(model: nn.Module | Mapping[str, Tensor], cfg, out_dir: str) -> str:
    """Write ``out_dir/model.safetensors`` (+ config in its metadata) and ``out_dir/config.yaml``.

    Returns the weights path. Tensors are made contiguous and shared storage is broken (safetensors
    refuses aliased tensors).
    """
    from safetensors.torch import save_file

    sd = model.state_dict() if isinstance(model, nn.Module) else dict(model)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in sd.items()}
    os.makedirs(out_dir, exist_ok=True)
    text = _cfg_to_yaml(cfg)
    path = os.path.join(out_dir, WEIGHTS_NAME)
    save_file(tensors, path, metadata={CONFIG_METADATA_KEY: text} if text else None)
    if text:
        with open(os.path.join(out_dir, CONFIG_NAME), "w", encoding="utf-8") as fh:
            fh.write(text)
    return path


def _cfg_from_text(text: str | None, source: str):
    if not text:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise CheckpointError(f"{source}: stored config is not valid YAML: {e}") from e
    return data if isinstance(data, dict) else None


def read_checkpoint(path: str) -> tuple[dict[str, Tensor], dict | None]:
    """Any supported checkpoint -> (state dict, config as a plain dict or None).

    ``path`` may be one of our output directories, a ``.safetensors`` file or a ``.pth``/``.pt``
    file. Original HODOR checkpoints are returned *unconverted* (see :func:`is_original_state_dict`).
    """
    if os.path.isdir(path):
        weights = os.path.join(path, WEIGHTS_NAME)
        if not os.path.isfile(weights):
            raise CheckpointError(f"{path}: directory has no {WEIGHTS_NAME}")
        path = weights
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.endswith(".safetensors"):
        from safetensors import safe_open

        try:
            with safe_open(path, framework="pt") as f:
                sd = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
                meta = f.metadata() or {}
        except Exception as e:  # safetensors raises several error types for corrupt files
            raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from e
        cfg = _cfg_from_text(meta.get(CONFIG_METADATA_KEY), path)
        sidecar = os.path.join(os.path.dirname(path), CONFIG_NAME)
        if cfg is None and os.path.isfile(sidecar):
            with open(sidecar, encoding="utf-8") as fh:
                cfg = _cfg_from_text(fh.read(), sidecar)
        return sd, cfg
    obj = torch_load_weights_only(path)
    cfg = None
    if isinstance(obj, Mapping) and "model" in obj and isinstance(obj["model"], Mapping):
        raw_cfg = obj.get("cfg")
        cfg = (
            _cfg_from_text(raw_cfg, path)
            if isinstance(raw_cfg, str)
            else raw_cfg
            if isinstance(raw_cfg, dict)
            else None
        )
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a state dict or a dict with a 'model' state dict")
    sd = {k[len("module.") :] if k.startswith("module.") else k: v for k, v in obj.items()}
    return sd, cfg


def _numpy_safe_globals() -> list:
    """Harmless numpy globals that old training pickles contain (scalars in scheduler/logger state)."""
    import numpy as np

    out = [np.dtype]
    for mod in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            m = __import__(mod, fromlist=["scalar"])
            out.append(m.scalar)
        except (ImportError, AttributeError):
            pass
    out += [type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32", "bool")]
    return out


def torch_load_weights_only(path: str):
    """``torch.load(path, weights_only=True)`` with a small allow-list of numpy scalar types.

    Never unpickles arbitrary objects. If the file needs other globals, the error names them
    (``torch.serialization.get_unsafe_globals_in_checkpoint``) and explains the way out.
    """
    import pickle

    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        try:
            needed = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:  # not a zip checkpoint or unreadable: report the original error
            needed = []
        raise CheckpointError(
            f"{path}: cannot be loaded with torch.load(weights_only=True)"
            + (f"; it contains non-tensor objects of types {needed}" if needed else "")
            + ". hodor never unpickles arbitrary objects. If you trust the file, extract its weights once "
            "in a separate Python session, e.g. torch.save({'model': torch.load(p, weights_only=False)['model']}, "
            f"'weights.pth'), and convert that file. ({str(e).splitlines()[0]})"
        ) from e
    except (RuntimeError, EOFError, OSError, KeyError, ValueError, IndexError, TypeError) as e:
        # a text or other non-checkpoint file fails inside the unpickler (e.g. KeyError: 101)
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from e


def is_original_state_dict(sd: Mapping[str, Tensor]) -> bool:
    """True for an original HODOR state dict (``feature_extractor.*`` keys instead of ``backbone.*``)."""
    return any(k.startswith("feature_extractor.") for k in sd) and not any(k.startswith("backbone.") for k in sd)


@dataclass
class LoadReport:
    """What happened when loading a checkpoint into a model."""

    path: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the model, not in the file
    unexpected: list[str] = field(default_factory=list)  # in the file, not in the model
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)  # (key, file shape, model shape)
    converted_from_original: bool = False
    checkpoint_cfg: dict | None = None

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self, max_keys: int = 10) -> str:
        def fmt(keys: list) -> str:
            more = f" ... (+{len(keys) - max_keys} more)" if len(keys) > max_keys else ""
            return ", ".join(str(k) for k in keys[:max_keys]) + more

        lines = [
            f"{self.path}: loaded {len(self.loaded)} tensors"
            + (" (converted from original HODOR)" if self.converted_from_original else "")
        ]
        if self.missing:
            lines.append(f"  missing in checkpoint ({len(self.missing)}): {fmt(self.missing)}")
        if self.unexpected:
            lines.append(f"  unexpected in checkpoint ({len(self.unexpected)}): {fmt(self.unexpected)}")
        if self.mismatched:
            mm = [f"{k} file {list(a)} vs model {list(b)}" for k, a, b in self.mismatched]
            lines.append(f"  shape mismatch ({len(mm)}): {fmt(mm)}")
        return "\n".join(lines)


def _architecture_hint(report: LoadReport, model: nn.Module) -> str:
    """Point at the likely cause when large parts of the model do not match."""
    hints = []
    cfg = report.checkpoint_cfg or {}
    name = ((cfg.get("MODEL") or {}).get("BACKBONE") or {}).get("NAME") if isinstance(cfg, dict) else None
    if name:
        hints.append(f"the checkpoint was written for MODEL.BACKBONE.NAME={name!r}")
    bad = {k.split(".", 1)[0] for k in report.missing + report.unexpected + [m[0] for m in report.mismatched]}
    if bad:
        hints.append(f"mismatching parts: {sorted(bad)}")
    n_model = len(model.state_dict())
    if len(report.missing) > n_model // 4:
        hints.append(
            "more than a quarter of the model is missing: probably a different architecture (backbone, hidden dim or layer counts)"
        )
    return ("; ".join(hints) + ".") if hints else ""


def match_state_dict(model: nn.Module, sd: Mapping[str, Tensor], path: str) -> tuple[dict[str, Tensor], LoadReport]:
    """Split ``sd`` into the entries that fit ``model`` and a report of the rest."""
    own = model.state_dict()
    report = LoadReport(path=path)
    good: dict[str, Tensor] = {}
    for k, v in sd.items():
        if k not in own:
            report.unexpected.append(k)
        elif tuple(v.shape) != tuple(own[k].shape):
            report.mismatched.append((k, tuple(v.shape), tuple(own[k].shape)))
        else:
            good[k] = v
    report.missing = [k for k in own if k not in sd]
    report.loaded = list(good)
    return good, report


def load_model_weights(model: nn.Module, path: str, strict: bool = True) -> LoadReport:
    """Load weights from ``path`` (see :func:`read_checkpoint`) into ``model``.

    Original HODOR checkpoints are converted on the fly. In strict mode any missing, unexpected or
    mis-shaped key raises :class:`CheckpointError` naming the file and the keys (and nothing is
    loaded); otherwise the fitting tensors are loaded and the problems logged and returned.
    """
    sd, cfg = read_checkpoint(path)
    converted = False
    if is_original_state_dict(sd):
        from .convert import convert_original_state_dict

        sd = convert_original_state_dict(sd)
        converted = True
    good, report = match_state_dict(model, sd, path)
    report.converted_from_original = converted
    report.checkpoint_cfg = cfg
    if not report.ok:
        if strict:
            raise CheckpointError(
                f"checkpoint does not match the model (strict loading).\n{report.summary()}\n{_architecture_hint(report, model)}"
            )
        logger.warning("%s\n%s", report.summary(), _architecture_hint(report, model))
    model.load_state_dict(good, strict=False)
    if report.ok:
        logger.info(report.summary())
    return report
