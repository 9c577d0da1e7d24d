"""Stacks of identical transformer layers, initialised as the original does or independently."""

from __future__ import annotations

import copy
from collections.abc import Callable

from torch import nn

__all__ = ["make_layers"]


def make_layers(build: Callable[[], nn.Module], num_layers: int, clone: bool) -> nn.ModuleList:
    """``num_layers`` layers from ``build``.

    ``clone=True``: deep copies of one initialised layer, so every layer starts from the same
    weights - the original's construction (``nn.ModuleList([deepcopy(layer) ...])`` in its
    encoder and decoder). ``clone=False``: ``num_layers`` independent initialisations.
    Only training from scratch sees the difference; loaded weights overwrite both.
    """
    if clone:
        first = build()
        return nn.ModuleList(copy.deepcopy(first) for _ in range(num_layers))
    return nn.ModuleList(build() for _ in range(num_layers))
