"""Checkpoints in three layers: file formats (:mod:`.formats`: reading/writing, the one
``CheckpointError``, ``LoadReport`` and state-dict matcher), the upstream key mapping
(:mod:`.convert`: original HODOR files) and the one loading entry (:mod:`.loading`:
``load_model_weights``, the config a checkpoint carries). :mod:`.checkpointer` saves and resumes
training state.

Pretrained backbone files (mmdetection, detectron2, timm, ...) are read by
:mod:`.backbone_weights` at training start. The package sits above ``hodor.modeling`` (whose key
tables it uses); modeling itself reads no weight file.
"""

from .backbone_weights import load_backbone_weights
from .convert import convert_original_checkpoint, convert_original_state_dict, original_config
from .formats import CheckpointError, LoadReport, match_state_dict, read_checkpoint, save_model
from .loading import checkpoint_config, load_config_with_weights, load_model_weights

__all__ = [
    "CheckpointError",
    "LoadReport",
    "checkpoint_config",
    "convert_original_checkpoint",
    "convert_original_state_dict",
    "load_backbone_weights",
    "load_config_with_weights",
    "load_model_weights",
    "match_state_dict",
    "original_config",
    "read_checkpoint",
    "save_model",
]
