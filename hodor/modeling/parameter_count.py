"""The one parameter count hodor reports.

Counted: every ``nn.Parameter`` of the model, trainable or frozen (frozen BatchNorm statistics and
other buffers are not parameters and are not counted). A checkpoint file is larger than 4 bytes x
this number: it also holds buffers and, for training checkpoints, the optimizer's two AdamW
moments per parameter (about 3x the weights); ``tools/export_weights.py`` writes the weights alone.
"""

from __future__ import annotations

from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Number of parameter values (trainable and frozen, buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def describe_parameters(model: nn.Module) -> str:
    """e.g. ``"11.73 M parameters (backbone 11.20 M, encoder 0.27 M, decoder 0.26 M)"``."""
    parts = []
    for name, child in model.named_children():
        n = count_parameters(child)
        if n:
            parts.append(f"{name} {n / 1e6:.2f} M")
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{count_parameters(model) / 1e6:.2f} M parameters{detail}"
