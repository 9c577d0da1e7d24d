"""Training metadata carried by checkpoints: one key name and one format, for writers and readers.

Why here: the writers (the training ``Checkpointer``, ``save_model`` for exported weights), the
reader (``hodor.checkpoint.identity``) and the training code that fills the metadata share these
names from the lowest floor. Only the checkpoint package opens checkpoint files.

Format: a JSON-serialisable dict, e.g. ``{"annotation_cost": {...}}`` (see
``hodor.data.annotation_cost``), stored

* in a ``.pth`` training checkpoint as the dict entry :data:`PTH_KEY` (``training_metadata``);
* in a ``.safetensors`` file as a JSON string under the metadata key :data:`SAFETENSORS_KEY`
  (``hodor_training``; safetensors metadata values must be strings).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "PTH_KEY",
    "SAFETENSORS_KEY",
    "ANNOTATION_COST_KEY",
    "safetensors_entry",
]

PTH_KEY = "training_metadata"  # entry of a .pth checkpoint dict
SAFETENSORS_KEY = "hodor_training"  # safetensors metadata key (JSON string)
ANNOTATION_COST_KEY = "annotation_cost"  # entry of the metadata dict


def safetensors_entry(meta: Mapping[str, Any] | None) -> dict[str, str]:
    """``{SAFETENSORS_KEY: json}`` to merge into safetensors metadata ({} when there is none)."""
    if not meta:
        return {}
    return {SAFETENSORS_KEY: json.dumps(dict(meta), sort_keys=True)}
