"""HODOR's training method: modes (one registration per TRAINING.MODE: regime, data kind,
mapper), regimes (what one step computes), cycle schedules, losses and the assembly of a trainer for a config (``build_trainer``).

The generic loop it runs on (trainer, hooks, setup, launch) is :mod:`hodor.engine`.
"""

from .build import build_trainer
from .cycles import CycleSchedule, parse_cycles
from .losses import segmentation_loss
from .modes import MODES, TrainingMode, build_regime, build_train_data, get_mode, register_mode
from .regimes import ClipRegime, RegimeOutput, TrainingModule

__all__ = [
    "MODES",
    "ClipRegime",
    "CycleSchedule",
    "RegimeOutput",
    "TrainingMode",
    "TrainingModule",
    "build_regime",
    "build_train_data",
    "build_trainer",
    "get_mode",
    "register_mode",
    "parse_cycles",
    "segmentation_loss",
]
