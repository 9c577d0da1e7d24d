"""hodor: weakly-supervised video object segmentation (HODOR, CVPR 2022) in PyTorch.

Python API (see README "Python API")::

    import hodor
    predictor = hodor.load_predictor("output/quickstart/static_image")   # run dir or checkpoint
    masks = predictor.propagate("clip/JPEGImages", {0: "clip/Annotations/00000.png"})

The names below are imported on first use, so ``import hodor`` stays cheap (no torch import).
"""

from . import _moved

__version__ = "0.1.0"

_moved.install()  # old module paths (moved in 0.2) stay importable for one release

__all__ = ["Predictor", "VideoPredictor", "build_inference_model", "load_predictor"]

_LAZY = {
    "load_predictor": ("hodor.api", "load_predictor"),
    "Predictor": ("hodor.api", "Predictor"),
    "VideoPredictor": ("hodor.inference.predictor", "VideoPredictor"),
    "build_inference_model": ("hodor.inference.model_loading", "build_inference_model"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'hodor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
