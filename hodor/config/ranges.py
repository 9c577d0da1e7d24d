"""Allowed ranges of numeric config keys, checked when a config is loaded.

A value outside its range is never what the user meant (``SOLVER.MAX_ITER 0`` used to
"finish" at iteration 1 without a checkpoint; a negative period silently disabled checkpoints),
so ``load_config`` refuses it with the key, the value and the range.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["RANGES", "check_ranges"]

# key -> (minimum, maximum); None = unbounded. Every value must also be finite.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "MODEL.HIDDEN_DIM": (1, None),
    "MODEL.ENCODER.NUM_LAYERS": (0, None),
    "MODEL.ENCODER.NUM_HEADS": (1, None),
    "MODEL.DECODER.NUM_LAYERS": (1, None),
    "MODEL.DECODER.NUM_HEADS": (1, None),
    "INPUT.SIZE_DIVISIBILITY": (1, None),
    "INPUT.MIN_DIM": (1, None),
    "INPUT.MAX_DIM": (1, None),
    "INPUT.MAX_IMAGE_AREA": (1, None),
    "DATALOADER.NUM_WORKERS": (0, None),
    "DATALOADER.MAX_BAD_SAMPLES": (0, None),
    "DATALOADER.MAX_RESAMPLES": (0, None),
    "TRAINING.NUM_OTHER_FRAMES": (0, None),
    "TRAINING.NUM_INSTANCES": (1, None),
    "TRAINING.CE_WEIGHT": (0, None),
    "TRAINING.DICE_WEIGHT": (0, None),
    "TRAINING.MIN_REF_MASK_AREA": (0, None),
    "TRAINING.MIN_REF_MASK_DIM": (0, None),
    "TRAINING.MIN_CLIP_DELTA": (1, None),
    "TRAINING.MAX_CLIP_DELTA": (1, None),
    "TRAINING.SELF_TRAINING.MIN_CONFIDENCE": (0, 1),
    "TRAINING.SELF_TRAINING.PSEUDO_WEIGHT": (0, None),
    "TRAINING.SELF_TRAINING.CYCLE_WEIGHT": (0, None),
    "TRAINING.SELF_TRAINING.ROUNDS": (1, None),
    "SOLVER.MAX_ITER": (1, None),
    "SOLVER.IMS_PER_BATCH": (1, None),
    "SOLVER.MAX_SAMPLES_PER_GPU": (1, None),
    "SOLVER.BASE_LR": (0, None),
    "SOLVER.WEIGHT_DECAY": (0, None),
    "SOLVER.BACKBONE_LR_MULTIPLIER": (0, None),
    "SOLVER.WARMUP_ITERS": (0, None),
    "SOLVER.WARMUP_INIT_LR": (0, None),
    "SOLVER.GAMMA": (0, None),
    "SOLVER.CLIP_GRAD_NORM": (0, None),
    "SOLVER.MAX_NONFINITE_STEPS": (1, None),
    "SOLVER.CHECKPOINT_PERIOD": (0, None),
    "SOLVER.CHECKPOINT_KEEP": (0, None),
    "SOLVER.LOG_PERIOD": (0, None),
    "SOLVER.IMAGE_LOG_PERIOD": (0, None),
    "INFERENCE.TEMPORAL_WINDOW": (1, None),
    "INFERENCE.MIN_DIM": (1, None),
    "INFERENCE.MAX_DIM": (1, None),
    "TEST.EVAL_PERIOD": (0, None),
    "TEST.MAX_VIDEOS": (0, None),
}

# pairs (low key, high key) with low <= high
ORDERED: tuple[tuple[str, str], ...] = (
    ("INPUT.MIN_DIM", "INPUT.MAX_DIM"),
    ("INFERENCE.MIN_DIM", "INFERENCE.MAX_DIM"),
    ("TRAINING.MIN_CLIP_DELTA", "TRAINING.MAX_CLIP_DELTA"),
)


def _get(cfg: Any, key: str) -> Any:
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


def check_ranges(cfg: Any) -> list[str]:
    """Problems as ``KEY = value: reason`` lines (empty when every value is in range)."""
    problems = []
    for key, (lo, hi) in RANGES.items():
        v = _get(cfg, key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue  # type errors are reported by the key-by-key type check
        if not math.isfinite(v):
            problems.append(f"{key} = {v!r} must be a finite number")
        elif lo is not None and v < lo:
            problems.append(f"{key} = {v!r} must be >= {lo}")
        elif hi is not None and v > hi:
            problems.append(f"{key} = {v!r} must be <= {hi}")
    for low, high in ORDERED:
        a, b = _get(cfg, low), _get(cfg, high)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > b:
            problems.append(f"{low} = {a!r} must not exceed {high} = {b!r}")
    return problems
