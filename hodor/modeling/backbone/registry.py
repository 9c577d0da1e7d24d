"""The backbone registry: name -> function building a feature trunk.

A registered entry is a :data:`~hodor.modeling.backbone.trunk.TrunkFactory`: called with the
:class:`~hodor.modeling.backbone.trunk.TrunkOptions`, it returns a
:class:`~hodor.modeling.backbone.trunk.Trunk` (C2..C5 at strides 4, 8, 16, 32). The FPN and output
norms are added by :class:`hodor.modeling.backbone.backbone.BackboneWithFPN`, so every trunk gets
the same neck.
"""

from __future__ import annotations

from hodor.utils.registry import Registry

BACKBONE_REGISTRY = Registry("backbone")
