"""Bottom layer of the checkpoint stack: file formats, the one error class, the one load report and
the one state-dict matcher. It knows no model and no upstream layout (``convert.py`` and
``loading.py`` sit on top), so ``hodor.modeling`` can use it for backbone initialisation.

Formats read by :func:`read_checkpoint` (the state dict is found under ``model`` /
``state_dict`` / ... wrappers; a ``module.`` prefix from DDP is removed):

* our output directory (``model.safetensors`` + ``config.yaml``, written by :func:`save_model`);
* ``.safetensors`` (the resolved config in the metadata under :data:`CONFIG_KEY`);
* ``.pth`` / ``.pt`` via ``torch.load(weights_only=True)`` with a small numpy allow-list: training
  checkpoints of this project (resolved config under :data:`CONFIG_KEY`), plain state dicts,
  original HODOR training files, mmdetection files;
* ``.pkl`` (detectron2 model zoo) via an unpickler that can only rebuild numpy arrays.

Nothing here ever unpickles arbitrary objects, and weights holding NaN or inf are refused.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import yaml
from torch import Tensor, nn

from ..utils.errors import UserError
from ..utils.logger import get_logger
from ..utils.training_metadata import safetensors_entry

logger = get_logger(__name__)

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.yaml"
# The one key under which every checkpoint we write carries its resolved config: a nested dict in
# ``.pth`` training checkpoints, YAML text in ``.safetensors`` metadata. The reader reads this key.
CONFIG_KEY = "config"
_LEGACY_METADATA_KEY = "hodor_config"  # safetensors written by release 0.1
# Top-level keys under which checkpoints keep the state dict, tried in order.
CONTAINER_KEYS = ("model", "state_dict", "module", "model_state", "model_state_dict")


class CheckpointError(UserError, ValueError, RuntimeError):
    """A checkpoint that cannot be read or does not fit the model; the message names the file.

    One class for every checkpoint problem. It is both a ``ValueError`` and a ``RuntimeError``
    because release 0.1 had one of each (``checkpoint.io`` and ``checkpoint.checkpointer``), and
    ``except`` clauses written against either keep working; as a ``UserError`` the CLIs report it
    as one message (exit 2).
    """


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint path does not exist (also a ``FileNotFoundError``)."""


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------
def _numpy_safe_globals() -> list:
    """Harmless numpy globals that old training pickles contain (scalars in scheduler/logger state)."""
    out: list = [np.dtype]
    for mod in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            m = __import__(mod, fromlist=["scalar"])
            out.append(m.scalar)
        except (ImportError, AttributeError):
            pass
    out += [type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32", "bool")]
    return out


def torch_load_weights_only(path: str, mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` with a small allow-list of numpy scalar types.

    Never unpickles arbitrary objects. If the file needs other globals, the error names them
    (``torch.serialization.get_unsafe_globals_in_checkpoint``) and explains the way out.
    ``mmap``: map the tensors instead of reading them (for callers that only need the small
    non-tensor entries, e.g. the training metadata); ignored for legacy non-zip files, which
    torch cannot map.
    """
    if not os.path.isfile(path):
        raise CheckpointNotFoundError(f"{path}: no such checkpoint file")
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap and zipfile.is_zipfile(path))
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
            raise CheckpointError(f"{path}: unsafe or corrupt pickle: {e}") from e
        except Exception as e:  # truncated files, wrong format, ...
            raise CheckpointError(f"{path}: cannot read as a weights pickle: {type(e).__name__}: {e}") from e


def _config_from_text(text: str | None, source: str) -> dict | None:
    if not text:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise CheckpointError(f"{source}: stored config is not valid YAML: {e}") from e
    return data if isinstance(data, dict) else None


def _is_tensor_like(v: Any) -> bool:
    return isinstance(v, (Tensor, np.ndarray))


def _unwrap_state_dict(obj: Any, path: str) -> Mapping[str, Any]:
    """Descend through {"model": ...} / {"state_dict": ...} wrappers to the tensor mapping."""
    for _ in range(3):
        if not isinstance(obj, Mapping):
            raise CheckpointError(f"{path}: expected a state dict (a dict of tensors), found {type(obj).__name__}")
        if any(_is_tensor_like(v) for v in obj.values()):
            return obj
        inner = next((obj[k] for k in CONTAINER_KEYS if k in obj), None)
        if inner is None:
            raise CheckpointError(
                f"{path}: no state dict found (top-level keys: {sorted(map(str, obj))[:10]}; "
                f"expected tensors or one of {list(CONTAINER_KEYS)})"
            )
        obj = inner
    raise CheckpointError(f"{path}: state dict nested too deeply")


def check_finite(sd: Mapping[str, Tensor], path: str) -> None:
    """Refuse weights holding NaN or inf: a model loaded from them only ever predicts garbage."""
    bad = [k for k, v in sd.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise CheckpointError(
            f"{path}: non-finite weights (NaN or inf) in {len(bad)} tensor(s): {', '.join(bad[:5])}{more}; "
            "the run that wrote this file diverged. Use an earlier checkpoint."
        )


def read_checkpoint(path: str) -> tuple[dict[str, Tensor], dict | None]:
    """Any supported checkpoint -> (flat state dict of CPU tensors, stored config as a dict or None).

    Upstream layouts (original HODOR, mmdetection, ...) are returned *unconverted*; non-tensor
    entries (counters) are dropped and numpy arrays become tensors.
    """
    if os.path.isdir(path):
        weights = os.path.join(path, WEIGHTS_NAME)
        if not os.path.isfile(weights):
            raise CheckpointNotFoundError(f"{path}: directory has no {WEIGHTS_NAME}")
        path = weights
    if not os.path.isfile(path):
        raise CheckpointNotFoundError(f"{path}: no such checkpoint file")
    cfg: dict | None = None
    if path.endswith(".safetensors"):
        from safetensors import safe_open

        try:
            with safe_open(path, framework="pt") as f:
                obj: Any = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        except Exception as e:  # safetensors raises several error types for corrupt files
            raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from e
        cfg = read_config(path)
    elif path.endswith(".pkl"):
        obj = load_pickle_restricted(path)
    else:
        obj = torch_load_weights_only(path)
        stored = obj.get(CONFIG_KEY) if isinstance(obj, Mapping) else None
        cfg = (
            stored if isinstance(stored, dict) else _config_from_text(stored, path) if isinstance(stored, str) else None
        )
    sd: dict[str, Tensor] = {}
    for k, v in _unwrap_state_dict(obj, path).items():
        if isinstance(v, np.ndarray) and v.dtype != object:
            v = torch.from_numpy(np.ascontiguousarray(v))
        if isinstance(v, Tensor):
            sd[k[len("module.") :] if k.startswith("module.") else k] = v
    if not sd:
        raise CheckpointError(f"{path}: contains no tensors")
    check_finite(sd, path)
    return sd, cfg


def read_config(path: str) -> dict | None:
    """The config stored in a safetensors checkpoint (metadata or ``config.yaml`` beside it; no
    tensors are read); None for other formats and for files without one."""
    target = os.path.join(path, WEIGHTS_NAME) if os.path.isdir(path) else path
    if not (target.endswith(".safetensors") and os.path.isfile(target)):
        return None
    from safetensors import safe_open

    try:
        with safe_open(target, framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises several error types for corrupt files
        raise CheckpointError(f"{target}: not a readable safetensors file ({e})") from e
    cfg = _config_from_text(meta.get(CONFIG_KEY) or meta.get(_LEGACY_METADATA_KEY), target)
    sidecar = os.path.join(os.path.dirname(target), CONFIG_NAME)
    if cfg is None and os.path.isfile(sidecar):
        with open(sidecar, encoding="utf-8") as fh:
            cfg = _config_from_text(fh.read(), sidecar)
    return cfg


# ----------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------
def _config_to_yaml(cfg: Any) -> str:
    if cfg is None:
        return ""
    if hasattr(cfg, "dump"):
        return cfg.dump()
    return yaml.safe_dump(cfg)


def save_model(
    model: nn.Module | Mapping[str, Tensor],
    cfg: Any,
    out_dir: str,
    training_metadata: Mapping[str, Any] | None = None,
) -> str:
    """Write ``out_dir/model.safetensors`` (+ config in its metadata) and ``out_dir/config.yaml``.

    ``training_metadata`` (e.g. the annotation cost of the run that trained the weights, as a
    training checkpoint holds it) goes into the metadata too (``hodor.utils.training_metadata``),
    so that evaluations of the exported weights can record it.

    Returns the weights path. Tensors are made contiguous and shared storage is broken (safetensors
    refuses aliased tensors).
    """
    from safetensors.torch import save_file

    sd = model.state_dict() if isinstance(model, nn.Module) else dict(model)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in sd.items()}
    os.makedirs(out_dir, exist_ok=True)
    text = _config_to_yaml(cfg)
    path = os.path.join(out_dir, WEIGHTS_NAME)
    metadata = {CONFIG_KEY: text} if text else {}
    metadata.update(safetensors_entry(training_metadata))
    save_file(tensors, path, metadata=metadata or None)
    if text:
        with open(os.path.join(out_dir, CONFIG_NAME), "w", encoding="utf-8") as fh:
            fh.write(text)
    return path


# ----------------------------------------------------------------------------------------------
# matching a state dict against a module
# ----------------------------------------------------------------------------------------------
@dataclass
class LoadReport:
    """What happened when a state dict was loaded into a model or a sub-module (the backbone)."""

    path: str
    source_format: str = ""  # e.g. "hodor checkpoint", "original HODOR checkpoint", "mmdetection detector"
    target: str = "model"  # what was loaded into, for messages
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # module keys not loaded (absent or mis-shaped in the file)
    unexpected: list[str] = field(default_factory=list)  # in the file, no place in the module
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)  # (key, file shape, module shape)
    ignored: list[str] = field(default_factory=list)  # known irrelevant (classifier, heads, derived buffers)
    converted_from_original: bool = False
    checkpoint_cfg: dict | None = None

    @property
    def ok(self) -> bool:
        """True when every tensor of the module was loaded and nothing else in the file was left over."""
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self, max_keys: int = 10) -> str:
        def fmt(keys: list) -> str:
            more = f" ... (+{len(keys) - max_keys} more)" if len(keys) > max_keys else ""
            return ", ".join(str(k) for k in keys[:max_keys]) + more

        how = f" (format: {self.source_format})" if self.source_format else ""
        lines = [f"{self.path}: loaded {len(self.loaded)} tensors into {self.target}{how}"]
        if self.missing:
            lines.append(f"  missing in checkpoint ({len(self.missing)}, kept as initialised): {fmt(self.missing)}")
        if self.unexpected:
            lines.append(f"  unexpected in checkpoint ({len(self.unexpected)}, not loaded): {fmt(self.unexpected)}")
        if self.mismatched:
            mm = [f"{k} file {list(a)} vs model {list(b)}" for k, a, b in self.mismatched]
            lines.append(f"  shape mismatch ({len(mm)}, not loaded): {fmt(mm)}")
        if self.ignored:
            lines.append(f"  ignored ({len(self.ignored)}, e.g. classifier/heads/derived buffers): {fmt(self.ignored)}")
        return "\n".join(lines)

    __str__ = summary


def match_state_dict(
    module: nn.Module | Mapping[str, Tensor],
    sd: Mapping[str, Tensor],
    path: str,
    optional_suffixes: tuple[str, ...] = (),
) -> tuple[dict[str, Tensor], LoadReport]:
    """Split ``sd`` into the entries that fit ``module`` (same key, same shape) and a report of the rest.

    ``optional_suffixes``: module keys never reported missing (e.g. BatchNorm's ``num_batches_tracked``
    counter, which is bookkeeping, not a weight).
    """
    own = module.state_dict() if isinstance(module, nn.Module) else module
    report = LoadReport(path=path)
    good: dict[str, Tensor] = {}
    for k, v in sd.items():
        if k not in own:
            report.unexpected.append(k)
        elif tuple(v.shape) != tuple(own[k].shape):
            report.mismatched.append((k, tuple(v.shape), tuple(own[k].shape)))
        else:
            good[k] = v
    # every module key not loaded stays as initialised: absent from the file or mis-shaped there
    report.missing = [k for k in own if k not in good and not (optional_suffixes and k.endswith(optional_suffixes))]
    report.loaded = sorted(good)
    return good, report
