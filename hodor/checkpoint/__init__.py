"""Checkpoints in three layers: file formats (:mod:`.formats`: reading/writing, the one
``CheckpointError``, ``LoadReport`` and state-dict matcher), the upstream key mapping
(:mod:`.convert`: original HODOR files) and the one loading entry (:mod:`.loading`:
``load_model_weights``, the config a checkpoint carries). :mod:`.checkpointer` saves and resumes
training state.

Only the bottom layer is imported eagerly: ``hodor.modeling`` reads backbone weight files through
it, and the layers above import ``hodor.modeling``; the other names load on first use.
"""

import importlib
from typing import Any

from .formats import CheckpointError, LoadReport, match_state_dict, read_checkpoint, save_model

_UPPER = {
    "convert_original_checkpoint": "convert",
    "convert_original_state_dict": "convert",
    "original_config": "convert",
    "load_model_weights": "loading",
    "checkpoint_config": "loading",
    "load_config_with_weights": "loading",
}


def __getattr__(name: str) -> Any:
    if name in _UPPER:
        return getattr(importlib.import_module(f"{__name__}.{_UPPER[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CheckpointError",
    "LoadReport",
    "checkpoint_config",
    "convert_original_checkpoint",
    "convert_original_state_dict",
    "load_config_with_weights",
    "load_model_weights",
    "match_state_dict",
    "original_config",
    "read_checkpoint",
    "save_model",
]
