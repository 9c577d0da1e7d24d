"""What a checkpoint file *is*, for records: its resolved path, SHA-256 and training metadata.

``eval_record.json`` (``hodor.evaluation.record``) states which checkpoint produced a result and
the annotation cost of its training data. Opening checkpoint files is this package's job (one
safe reader: :func:`~hodor.checkpoint.formats.torch_load_weights_only`), so the callers that
evaluate a checkpoint (inference / CLI) call :func:`checkpoint_info` here and hand the result to
``build_eval_record``; the evaluation package never opens a checkpoint.

Training metadata format (one key name for writers and readers, ``hodor.utils.training_metadata``):
a ``.safetensors`` file holds a JSON string under the metadata key ``hodor_training``; a
``.pth`` training checkpoint holds a dict under ``training_metadata``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from ..utils.training_metadata import ANNOTATION_COST_KEY, PTH_KEY, SAFETENSORS_KEY
from .formats import WEIGHTS_NAME, CheckpointError, torch_load_weights_only

__all__ = ["checkpoint_file", "checkpoint_info", "read_training_metadata", "sha256_file"]

_HASH_CACHE: dict[tuple[str, float, int], str] = {}


def checkpoint_file(path: str) -> str:
    """The file a checkpoint path names: an exported directory means its ``model.safetensors``
    (as ``MODEL.WEIGHTS DIR`` loads it); anything else is returned as is."""
    return os.path.join(path, WEIGHTS_NAME) if os.path.isdir(path) else path


def sha256_file(path: str) -> str:
    """Hex SHA-256 of a file (cached by path, mtime and size: checkpoints are hashed once)."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_mtime, st.st_size)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def read_training_metadata(path: str) -> dict[str, Any] | None:
    """The training metadata stored in a checkpoint (format above), or None.

    A directory means its ``model.safetensors``. Raises :class:`CheckpointError` naming the file
    when the safetensors entry is not valid JSON or a ``.pth`` file cannot be read safely.
    """
    path = checkpoint_file(path)
    if path.endswith(".safetensors"):
        from safetensors import safe_open

        with safe_open(path, framework="pt") as f:
            text = (f.metadata() or {}).get(SAFETENSORS_KEY)
        if not text:
            return None
        try:
            meta = json.loads(text)
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{path}: metadata {SAFETENSORS_KEY!r} is not valid JSON ({e})") from e
        return meta if isinstance(meta, dict) else None
    if path.endswith((".pth", ".pt")):
        obj = torch_load_weights_only(path, mmap=True)  # only the metadata entry is read
        meta = obj.get(PTH_KEY) if isinstance(obj, Mapping) else None
        return dict(meta) if isinstance(meta, Mapping) else None
    return None


def checkpoint_info(path: str | None) -> dict[str, Any]:
    """``{"path", "sha256", "annotation_cost"}`` of a checkpoint for eval_record.json (all None
    without one); an exported directory stands for its ``model.safetensors``."""
    path = checkpoint_file(path) if path else path
    if not path or not os.path.isfile(path):
        return {"path": path or None, "sha256": None, "annotation_cost": None}
    meta = read_training_metadata(path)
    return {
        "path": os.path.abspath(path),
        "sha256": sha256_file(path),
        "annotation_cost": (meta or {}).get(ANNOTATION_COST_KEY),
    }
