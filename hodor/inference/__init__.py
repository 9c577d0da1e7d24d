"""Streaming video inference: the per-video predictor, test-time preprocessing, dataset runner."""

from .predictor import VideoPredictor, background_grid
from .preprocess import padded_hw, preprocess_frame, preprocess_mask, resized_hw

__all__ = [
    "VideoPredictor",
    "background_grid",
    "padded_hw",
    "preprocess_frame",
    "preprocess_mask",
    "resized_hw",
]
