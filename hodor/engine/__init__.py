"""Run setup, training regimes (cycles, loss) and the training loop with its hooks.

Public API:
  * ``build_trainer(cfg, resume, eval_fn)`` -> :class:`Trainer` (``hodor.engine.build``)
  * ``REGIMES`` / ``build_regime(cfg)``: static_image, dense_video, sparse_video
  * ``CycleSchedule`` / ``parse_cycles``: TRAINING.CYCLES specs
  * ``segmentation_loss`` and the dice variants (``hodor.engine.losses``)
  * hooks: ``EvalHook`` (periodic evaluation, keeps model_best), ``PeriodicCheckpointer``, ...
  * ``train_main``: the ``tools/train_net.py`` / ``hodor-train`` entry point
"""

from .build import build_trainer
from .cycles import CycleSchedule, parse_cycles
from .hooks import EvalHook, HookBase, ImageWriter, IterationTimer, MetricsWriter, PeriodicCheckpointer, ProgressBar
from .launch import train_main
from .losses import segmentation_loss
from .regimes import REGIMES, ClipRegime, RegimeOutput, TrainingModule, build_regime
from .setup import default_argument_parser, default_setup, setup_from_args
from .trainer import NonFiniteLossError, Trainer, TrainingInterrupted, accumulation_plan

__all__ = [
    "REGIMES",
    "ClipRegime",
    "CycleSchedule",
    "EvalHook",
    "HookBase",
    "ImageWriter",
    "IterationTimer",
    "MetricsWriter",
    "NonFiniteLossError",
    "PeriodicCheckpointer",
    "ProgressBar",
    "RegimeOutput",
    "Trainer",
    "TrainingInterrupted",
    "TrainingModule",
    "accumulation_plan",
    "build_regime",
    "build_trainer",
    "default_argument_parser",
    "default_setup",
    "parse_cycles",
    "segmentation_loss",
    "setup_from_args",
    "train_main",
]
