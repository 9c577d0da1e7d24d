"""Optimiser and learning-rate schedules (built from the SOLVER section of the config)."""

from .build import build_lr_scheduler, build_optimizer, split_backbone_params
from .lr_schedule import LRSchedule

__all__ = ["LRSchedule", "build_lr_scheduler", "build_optimizer", "split_backbone_params"]
