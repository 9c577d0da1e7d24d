"""Build the model for inference from a config: architecture, MODEL.WEIGHTS, device, eval mode."""

from __future__ import annotations

import torch
from torch import nn

from ..checkpoint.loading import load_model_weights
from ..modeling import build_model
from ..utils.logger import get_logger

logger = get_logger(__name__)


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> cuda if available else cpu; anything else is a torch device string."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"DEVICE is {name!r} but CUDA is not available on this machine; use DEVICE cpu")
    return dev


def build_inference_model(cfg, device: torch.device | str = "cpu") -> nn.Module:
    """``build_model(cfg)`` + weights from ``cfg.MODEL.WEIGHTS`` (if set), on ``device``, in eval mode."""
    model = build_model(cfg)
    if cfg.MODEL.WEIGHTS:
        load_model_weights(model, cfg.MODEL.WEIGHTS, strict=cfg.MODEL.WEIGHTS_STRICT)
    else:
        logger.warning("MODEL.WEIGHTS is empty: running a randomly initialised model (outputs are meaningless)")
    return model.to(device).eval()
