"""hodor: weakly-supervised video object segmentation (HODOR, CVPR 2022) in PyTorch."""

from . import _moved

__version__ = "0.1.0"

_moved.install()  # old module paths (moved in 0.2) stay importable for one release
