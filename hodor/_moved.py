"""Old import paths of modules and names that moved in the architecture redesign (issue 11).

Every entry is an alias kept for one release: ``import hodor.engine.regimes`` still works and
gives the very module object now at ``hodor.training.regimes`` (so monkeypatching either name
patches both). The aliases live in this one table rather than in shim files at the old paths on
purpose: a file left at an old path would stop git's rename detection, and branches that edit the
old files would then conflict instead of following the move.

Nothing here is imported statically: names are resolved from strings on first use, so this
module adds no arrow to the import graph.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

# old module path -> new module path (moved in release 0.2, aliases removed in the next one)
MOVED_MODULES: dict[str, str] = {
    "hodor.data.batch": "hodor.structures.batch",
    "hodor.engine.regimes": "hodor.training.regimes",
    "hodor.engine.cycles": "hodor.training.cycles",
    "hodor.engine.losses": "hodor.training.losses",
    "hodor.engine.build": "hodor.training.build",
    "hodor.engine.launch": "hodor.cli.train",
    "hodor.evaluation.cli": "hodor.cli.eval_vos",
    "hodor.evaluation.palette": "hodor.utils.palette",
    "hodor.inference.video_cli": "hodor.cli.infer_video",
    "hodor.checkpoint.io": "hodor.checkpoint.formats",
    "hodor.modeling.backbone.weights": "hodor.checkpoint.backbone_weights",
}

# package -> {public name that moved out of it: module that now defines it}
MOVED_NAMES: dict[str, dict[str, str]] = {
    "hodor.engine": {
        "build_trainer": "hodor.training.build",
        "CycleSchedule": "hodor.training.cycles",
        "parse_cycles": "hodor.training.cycles",
        "segmentation_loss": "hodor.training.losses",
        "ClipRegime": "hodor.training.regimes",
        "RegimeOutput": "hodor.training.regimes",
        "TrainingModule": "hodor.training.regimes",
        "build_regime": "hodor.training.modes",
        "train_main": "hodor.cli.train",
    },
    "hodor.training.regimes": {"build_regime": "hodor.training.modes"},
}


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old module path to the module at its new path (the same object)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(MOVED_MODULES[spec.name])

    def exec_module(self, module: ModuleType) -> None:  # the new module is already executed
        return None


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (idempotent; called by ``hodor/__init__.py``)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())


def name_getter(package: str) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package`` that serves the names that moved out of it."""
    table = MOVED_NAMES.get(package, {})

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(table[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
