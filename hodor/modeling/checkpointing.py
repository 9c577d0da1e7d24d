"""Activation checkpointing for the repeated layers (Swin blocks, encoder and decoder layers).

Why: a training step keeps every layer's intermediate activations for the backward pass; at
480x640 with three frames that is most of the step's peak memory. A layer run under
``torch.utils.checkpoint`` keeps only its inputs and recomputes the rest during backward
(about one extra forward of those layers). The result is the same computation (dropout and drop
path replay the same random numbers: the RNG state is saved and restored), so gradients are equal.

Modules that support it carry a ``checkpoint_activations`` attribute (False by default) and call
:func:`run_layer`; :func:`set_activation_checkpointing` switches every such module of a model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


def run_layer(enabled: bool, fn: Callable[..., torch.Tensor], *args) -> torch.Tensor:
    """``fn(*args)``, under non-reentrant checkpointing when ``enabled`` and gradients are on."""
    if enabled and torch.is_grad_enabled():
        return checkpoint(fn, *args, use_reentrant=False)
    return fn(*args)


def set_activation_checkpointing(model: nn.Module, enabled: bool = True) -> int:
    """Switch checkpointing on/off in every supporting submodule; returns how many were switched."""
    n = 0
    for m in model.modules():
        if hasattr(m, "checkpoint_activations"):
            m.checkpoint_activations = bool(enabled)
            n += 1
    return n
