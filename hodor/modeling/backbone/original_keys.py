"""Key mapping from the original HODOR / mmdetection layout to :class:`BackboneWithFPN`.

Original HODOR checkpoint (reference §5): Swin under ``feature_extractor.bb_fpn.0.*`` (official Swin
detection names), FPN under ``feature_extractor.bb_fpn.1.{lateral_convs,fpn_convs}.{i}.conv.*``,
output GroupNorms under ``feature_extractor.norm_layers.{0..4}`` (index 4 is never used).
An mmdetection detector checkpoint has the same names under ``backbone.*`` / ``neck.*``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from torch import Tensor

from .swin import SwinTrunk

ORIGINAL_PREFIX = "feature_extractor."
ORIGINAL_SWIN_PREFIX = "feature_extractor.bb_fpn.0."
ORIGINAL_FPN_PREFIX = "feature_extractor.bb_fpn.1."
ORIGINAL_NORM_PREFIX = "feature_extractor.norm_layers."
NUM_LEVELS = 4


def map_mmdet_fpn_key(key: str) -> str | None:
    """``lateral_convs.{i}.conv.{weight,bias}`` / ``fpn_convs.{i}.conv.*`` -> ``fpn.*``; None otherwise.

    Levels >= 4 (mmdet's extra convs, when present) are not part of our FPN and give None.
    """
    m = re.match(r"(lateral_convs|fpn_convs)\.(\d+)\.conv\.(weight|bias)$", key)
    if not m or int(m.group(2)) >= NUM_LEVELS:
        return None
    kind = "lateral_convs" if m.group(1) == "lateral_convs" else "output_convs"
    return f"fpn.{kind}.{m.group(2)}.{m.group(3)}"


def convert_original_feature_extractor(sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Full original HODOR state dict -> state dict of our ``BackboneWithFPN`` (Swin-T).

    Non-``feature_extractor`` keys (encoder, decoder) are ignored; the derived
    ``relative_position_index`` buffers and the dead ``norm_layers.4`` are dropped. Raises
    ``ValueError`` naming any ``feature_extractor`` key it does not understand, or if there are none.
    """
    swin: dict[str, Tensor] = {}
    out: dict[str, Tensor] = {}
    bad: list[str] = []
    for key, value in sd.items():
        if not key.startswith(ORIGINAL_PREFIX):
            continue
        if key.startswith(ORIGINAL_SWIN_PREFIX):
            swin[key[len(ORIGINAL_SWIN_PREFIX) :]] = value
        elif key.startswith(ORIGINAL_FPN_PREFIX):
            new = map_mmdet_fpn_key(key[len(ORIGINAL_FPN_PREFIX) :])
            if new is None:
                bad.append(key)
            else:
                out[new] = value
        elif key.startswith(ORIGINAL_NORM_PREFIX):
            m = re.match(r"(\d+)\.(weight|bias)$", key[len(ORIGINAL_NORM_PREFIX) :])
            if not m:
                bad.append(key)
            elif int(m.group(1)) < NUM_LEVELS:
                out[f"norms.{m.group(1)}.{m.group(2)}"] = value
        else:
            bad.append(key)
    mapped, ignored, unknown = SwinTrunk.convert_external_state_dict(swin)
    bad += [ORIGINAL_SWIN_PREFIX + k for k in unknown]
    bad += [ORIGINAL_SWIN_PREFIX + k for k in ignored if not k.endswith("relative_position_index")]
    if bad:
        raise ValueError(f"unrecognised original HODOR feature_extractor keys: {bad[:10]}")
    if not mapped and not out:
        raise ValueError("state dict has no 'feature_extractor.*' keys: not an original HODOR checkpoint")
    out.update({f"trunk.{k}": v for k, v in mapped.items()})
    return out
