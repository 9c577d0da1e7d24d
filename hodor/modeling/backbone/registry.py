"""The backbone registry: name -> function building a feature trunk.

A registered entry is called as ``fn(drop_path_rate=..., frozen_bn=...)`` and returns a *trunk*: an
``nn.Module`` whose ``forward(images [N,3,H,W]) -> list[Tensor]`` gives the four maps C2..C5 at
strides 4, 8, 16, 32 (NCHW), and which exposes ``out_channels``, ``strides``, ``size_divisibility``,
``freeze(freeze_at)`` and ``convert_external_state_dict(sd)``. The FPN and output norms are added by
:class:`hodor.modeling.backbone.backbone.BackboneWithFPN`, so every trunk gets the same neck.
"""

from __future__ import annotations

from hodor.utils.registry import Registry

BACKBONE_REGISTRY = Registry("backbone")
