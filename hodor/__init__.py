"""hodor: weakly-supervised video object segmentation (HODOR, CVPR 2022) in PyTorch."""

__version__ = "0.1.0"
