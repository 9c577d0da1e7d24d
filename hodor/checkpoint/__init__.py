"""Checkpoint I/O (safetensors + config), weight loading with mismatch reports, original-HODOR conversion."""

from .convert import convert_original_checkpoint, convert_original_state_dict, original_config
from .formats import CheckpointError, LoadReport, load_model_weights, read_checkpoint, save_model

__all__ = [
    "CheckpointError",
    "LoadReport",
    "convert_original_checkpoint",
    "convert_original_state_dict",
    "load_model_weights",
    "original_config",
    "read_checkpoint",
    "save_model",
]
