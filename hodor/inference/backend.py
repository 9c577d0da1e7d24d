"""The seam between the streaming predictor and whatever computes the network.

``VideoPredictor`` owns the streaming procedure (window, late objects, re-encoding, thresholding);
a backend owns the three network calls it makes per frame. :class:`TorchBackend` runs a HODOR
``nn.Module`` (today's behaviour: eval mode, autocast at the chosen precision); the onnxruntime
backend (``hodor.export.ort_backend``) runs exported graphs. Both take and return torch tensors on
``device`` so the predictor's mask maths is one implementation for every backend.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from ..utils.device import PRECISION_DTYPES

PRECISIONS = PRECISION_DTYPES  # the one precision table (hodor.utils.device)


@runtime_checkable
class PredictorBackend(Protocol):
    """What ``VideoPredictor`` needs from the network (shapes as in ``hodor.modeling.HODOR``)."""

    num_bg_descriptors: int
    device: torch.device

    def session(self) -> contextlib.AbstractContextManager:
        """Context around one ``VideoPredictor.step`` (e.g. eval mode for a torch module)."""
        ...

    def extract_features(self, image: Tensor) -> dict[int, Tensor]:
        """image [1,3,Hp,Wp] normalised and padded -> {4: f4 [1,C,Hp/4,Wp/4], 8: f8 [1,C,Hp/8,Wp/8]}."""
        ...

    def encode(self, f8: Tensor, fg_masks: Tensor, bg_masks: Tensor) -> tuple[Tensor, Tensor]:
        """f8 [1,C,h,w], fg_masks [1,I,h,w], bg_masks [1,Qb,h,w] -> (fg [1,I,C], bg [1,Qb,C])."""
        ...

    def decode(self, fg: Tensor, bg: Tensor, f4: Tensor, f8: Tensor, fg_invalid: Tensor, bg_invalid: Tensor) -> Tensor:
        """fg [1,I,T,C], bg [1,Qb,T,C], f4, f8, fg_invalid [1,I,T], bg_invalid [1,Qb,T] -> logits [1,1+Qb+I,h4,w4]."""
        ...


class TorchBackend:
    """A HODOR ``nn.Module`` run in eval mode under autocast (``precision`` fp32 = no autocast)."""

    def __init__(self, model: nn.Module, precision: str = "fp32", device: torch.device | str | None = None) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"INFERENCE.PRECISION must be one of {sorted(PRECISIONS)}, got {precision!r}")
        self.model = model
        self.precision = precision
        if device is None:
            p = next(iter(model.parameters()), None)
            device = p.device if p is not None else "cpu"
        self.device = torch.device(device)
        self.num_bg_descriptors = int(model.num_bg_descriptors)

    def _autocast(self) -> contextlib.AbstractContextManager:
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Dropout off during inference, restoring the caller's mode (the trainer's eval hook)."""
        was_training = self.model.training
        self.model.eval()
        try:
            yield
        finally:
            self.model.train(was_training)

    def extract_features(self, image: Tensor) -> dict[int, Tensor]:
        with self._autocast():
            return self.model.extract_features(image)

    def encode(self, f8: Tensor, fg_masks: Tensor, bg_masks: Tensor) -> tuple[Tensor, Tensor]:
        with self._autocast():
            return self.model.encode(f8, fg_masks, bg_masks)

    def decode(self, fg: Tensor, bg: Tensor, f4: Tensor, f8: Tensor, fg_invalid: Tensor, bg_invalid: Tensor) -> Tensor:
        with self._autocast():
            return self.model.decode(fg, bg, f4, f8, fg_invalid, bg_invalid)
