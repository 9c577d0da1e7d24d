"""The three graphs the streaming predictor calls, as modules with tensor-only signatures.

``VideoPredictor`` calls the model three ways per frame (``extract_features``, ``encode``,
``decode``); each becomes one ONNX graph so that the predictor's streaming logic (window, late
objects, re-encoding, thresholding) stays in one place and only the network runs in onnxruntime.
The wrappers add no maths: they call the model's own primitives and fix the argument lists
(the decoder's validity masks are always given, the backbone returns only the strides the
predictor reads).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


class BackboneGraph(nn.Module):
    """image [1,3,H,W] (normalised, H and W multiples of the size divisibility) -> f4 [1,C,H/4,W/4], f8 [1,C,H/8,W/8]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        feats = self.model.extract_features(image)
        return feats[4], feats[8]


class EncoderGraph(nn.Module):
    """f8 [1,C,h,w], fg_masks [1,I,h,w], bg_masks [1,Qb,h,w] -> fg_desc [1,I,C], bg_desc [1,Qb,C]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, f8: Tensor, fg_masks: Tensor, bg_masks: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.encode(f8, fg_masks, bg_masks)


class DecoderGraph(nn.Module):
    """fg_desc [1,I,T,C], bg_desc [1,Qb,T,C], f4, f8, fg_invalid [1,I,T] bool, bg_invalid [1,Qb,T] bool
    -> logits [1,1+Qb+I,H/4,W/4]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, fg_desc: Tensor, bg_desc: Tensor, f4: Tensor, f8: Tensor, fg_invalid: Tensor, bg_invalid: Tensor
    ) -> Tensor:
        return self.model.decode(fg_desc, bg_desc, f4, f8, fg_invalid, bg_invalid)


@dataclass(frozen=True)
class GraphSpec:
    """Names and symbolic shapes of one graph's inputs and outputs (what the manifest records)."""

    name: str
    inputs: dict[str, list[str | int]]
    outputs: dict[str, list[str | int]]
    input_dtypes: dict[str, str]

    @property
    def filename(self) -> str:
        return f"{self.name}.onnx"


def graph_specs(dim: int, num_bg: int) -> dict[str, GraphSpec]:
    """Symbolic shapes of the three graphs. Symbols: H, W padded frame size; I objects; T window slots.

    Batch is 1 (the predictor segments one video at a time)."""
    f4 = [1, dim, "H/4", "W/4"]
    f8 = [1, dim, "H/8", "W/8"]
    return {
        "backbone": GraphSpec("backbone", {"image": [1, 3, "H", "W"]}, {"f4": f4, "f8": f8}, {"image": "float32"}),
        "encoder": GraphSpec(
            "encoder",
            {"f8": f8, "fg_masks": [1, "I", "H/8", "W/8"], "bg_masks": [1, num_bg, "H/8", "W/8"]},
            {"fg_desc": [1, "I", dim], "bg_desc": [1, num_bg, dim]},
            {"f8": "float32", "fg_masks": "float32", "bg_masks": "float32"},
        ),
        "decoder": GraphSpec(
            "decoder",
            {
                "fg_desc": [1, "I", "T", dim],
                "bg_desc": [1, num_bg, "T", dim],
                "f4": f4,
                "f8": f8,
                "fg_invalid": [1, "I", "T"],
                "bg_invalid": [1, num_bg, "T"],
            },
            {"logits": [1, f"1+{num_bg}+I", "H/4", "W/4"]},
            {
                "fg_desc": "float32",
                "bg_desc": "float32",
                "f4": "float32",
                "f8": "float32",
                "fg_invalid": "bool",
                "bg_invalid": "bool",
            },
        ),
    }


def example_inputs(dim: int, num_bg: int, hw: tuple[int, int] = (64, 96), num_obj: int = 2, slots: int = 3):
    """Random example inputs per graph for tracing (sizes must be multiples of 32)."""
    h, w = hw
    g = torch.Generator().manual_seed(0)
    f4 = torch.randn(1, dim, h // 4, w // 4, generator=g)
    f8 = torch.randn(1, dim, h // 8, w // 8, generator=g)
    fg_inv = torch.zeros(1, num_obj, slots, dtype=torch.bool)
    fg_inv[:, :, 0] = True
    fg_inv[:, 0, :] = False
    return {
        "backbone": (torch.randn(1, 3, h, w, generator=g),),
        "encoder": (
            f8,
            torch.rand(1, num_obj, h // 8, w // 8, generator=g),
            torch.rand(1, num_bg, h // 8, w // 8, generator=g),
        ),
        "decoder": (
            torch.randn(1, num_obj, slots, dim, generator=g),
            torch.randn(1, num_bg, slots, dim, generator=g),
            f4,
            f8,
            fg_inv,
            torch.zeros(1, num_bg, slots, dtype=torch.bool),
        ),
    }
