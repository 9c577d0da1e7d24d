"""Streaming video inference: the per-video predictor, test-time preprocessing, dataset runner."""

from .model_loading import build_inference_model, resolve_device
from .predictor import VideoPredictor
from .preprocess import padded_hw, preprocess_frame, preprocess_mask, resized_hw
from .run_dataset import first_appearance_masks, run_dataset, run_records, run_video

__all__ = [
    "VideoPredictor",
    "build_inference_model",
    "first_appearance_masks",
    "padded_hw",
    "preprocess_frame",
    "preprocess_mask",
    "resized_hw",
    "resolve_device",
    "run_dataset",
    "run_records",
    "run_video",
]
