"""The generic training loop: trainer, hooks, event storage, per-run setup and launch.

It knows nothing about HODOR's method; :mod:`hodor.training` (regimes, cycles, losses,
``build_trainer``) sits on top of it.

Public API:
  * ``Trainer`` / ``accumulation_plan``: the loop with gradient accumulation, AMP and checkpoints
  * hooks: ``HookBase``, ``EvalHook`` (periodic evaluation, keeps model_best), ``PeriodicCheckpointer``, ...
  * ``default_argument_parser`` / ``default_setup``: command line and run directory setup
  * ``launch``: run an entry point as one process of a torchrun job (or alone)
"""

from .. import _moved
from .distributed import launch
from .hooks import EvalHook, HookBase, ImageWriter, IterationTimer, MetricsWriter, PeriodicCheckpointer, ProgressBar
from .setup import default_argument_parser, default_setup, setup_from_args
from .trainer import NonFiniteLossError, Trainer, TrainingInterrupted, accumulation_plan

__getattr__ = _moved.name_getter(__name__)  # names that moved to hodor.training / hodor.cli (one release)

__all__ = [
    "EvalHook",
    "HookBase",
    "ImageWriter",
    "IterationTimer",
    "MetricsWriter",
    "NonFiniteLossError",
    "PeriodicCheckpointer",
    "ProgressBar",
    "Trainer",
    "TrainingInterrupted",
    "accumulation_plan",
    "default_argument_parser",
    "launch",
    "default_setup",
    "setup_from_args",
]
