"""HODOR's training method: regimes (what one step computes), cycle schedules, losses and the
assembly of a trainer for a config (``build_trainer``).

The generic loop it runs on (trainer, hooks, setup, launch) is :mod:`hodor.engine`.
"""

from .build import build_trainer
from .cycles import CycleSchedule, parse_cycles
from .losses import segmentation_loss
from .regimes import REGIMES, ClipRegime, RegimeOutput, TrainingModule, build_regime

__all__ = [
    "REGIMES",
    "ClipRegime",
    "CycleSchedule",
    "RegimeOutput",
    "TrainingModule",
    "build_regime",
    "build_trainer",
    "parse_cycles",
    "segmentation_loss",
]
