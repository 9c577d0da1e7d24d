"""Training metadata carried by checkpoints: one key name and one format, for writers and readers.

Why here: the writers (the training ``Checkpointer``, ``save_model`` for exported weights) and
the reader (``hodor.evaluation.record``, which copies the annotation cost into
``eval_record.json``) live on floors that must not import each other; both import this module.

Format: a JSON-serialisable dict, e.g. ``{"annotation_cost": {...}}`` (see
``hodor.data.annotation_cost``), stored

* in a ``.pth`` training checkpoint as the dict entry :data:`PTH_KEY` (``training_metadata``);
* in a ``.safetensors`` file as a JSON string under the metadata key :data:`SAFETENSORS_KEY`
  (``hodor_training``; safetensors metadata values must be strings).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

__all__ = [
    "PTH_KEY",
    "SAFETENSORS_KEY",
    "ANNOTATION_COST_KEY",
    "EXPORTED_WEIGHTS_NAME",
    "checkpoint_file",
    "read_training_metadata",
    "safetensors_entry",
]

PTH_KEY = "training_metadata"  # entry of a .pth checkpoint dict
SAFETENSORS_KEY = "hodor_training"  # safetensors metadata key (JSON string)
ANNOTATION_COST_KEY = "annotation_cost"  # entry of the metadata dict
# weights file of an exported directory (= hodor.checkpoint.formats.WEIGHTS_NAME, which sits on a
# floor this module's readers cannot import; a test keeps the two equal)
EXPORTED_WEIGHTS_NAME = "model.safetensors"


def checkpoint_file(path: str) -> str:
    """The file a checkpoint path names: an exported directory means its ``model.safetensors``
    (as ``MODEL.WEIGHTS DIR`` loads it); anything else is returned as is."""
    return os.path.join(path, EXPORTED_WEIGHTS_NAME) if os.path.isdir(path) else path


def safetensors_entry(meta: Mapping[str, Any] | None) -> dict[str, str]:
    """``{SAFETENSORS_KEY: json}`` to merge into safetensors metadata ({} when there is none)."""
    if not meta:
        return {}
    return {SAFETENSORS_KEY: json.dumps(dict(meta), sort_keys=True)}


def read_training_metadata(path: str) -> dict[str, Any] | None:
    """The training metadata stored in a checkpoint file (format above), or None.

    A directory means its ``model.safetensors`` (an exported run). Raises ValueError naming the
    file when the safetensors entry is not valid JSON.
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
            raise ValueError(f"{path}: metadata {SAFETENSORS_KEY!r} is not valid JSON ({e})") from e
        return meta if isinstance(meta, dict) else None
    if path.endswith((".pth", ".pt")):
        import torch

        obj = torch.load(path, map_location="cpu", weights_only=True)
        meta = obj.get(PTH_KEY) if isinstance(obj, Mapping) else None
        return dict(meta) if isinstance(meta, Mapping) else None
    return None
