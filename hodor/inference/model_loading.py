"""Build the model for inference from a config: architecture, MODEL.WEIGHTS, device, eval mode."""

from __future__ import annotations

import torch
from torch import nn

from ..checkpoint.loading import load_model_weights
from ..modeling import build_model
from ..utils.device import resolve_device  # noqa: F401  (re-exported: moved to hodor.utils.device)
from ..utils.logger import get_logger

logger = get_logger(__name__)


def build_inference_model(cfg, device: torch.device | str = "cpu") -> nn.Module:
    """``build_model(cfg)`` + weights from ``cfg.MODEL.WEIGHTS`` (if set), on ``device``, in eval mode."""
    model = build_model(cfg)
    if cfg.MODEL.WEIGHTS:
        load_model_weights(model, cfg.MODEL.WEIGHTS, strict=cfg.MODEL.WEIGHTS_STRICT)
    else:
        logger.warning("MODEL.WEIGHTS is empty: running a randomly initialised model (outputs are meaningless)")
    return model.to(device).eval()
