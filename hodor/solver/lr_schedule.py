"""Learning-rate schedules as plain, picklable callables of the optimiser step.

A schedule maps the number of optimiser steps taken so far to a *multiplier* of the base
LR, so that the same schedule drives param groups with different base LRs (the backbone LR
multiplier). It is a small dataclass of plain numbers rather than a closure because
``torch.optim.lr_scheduler.LambdaLR`` stores the ``__dict__`` of callable objects in its
state dict: a resumed run then checks nothing silently changed, and the checkpoint stays
loadable with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

SCHEDULE_NAMES = ("step", "warmup", "cosine")


@dataclass
class LRSchedule:
    """Linear warm-up from ``warmup_init_lr`` to ``base_lr`` then step decay, constant or cosine.

    Matches the original HODOR schedulers (hodor-reference §2.2):
    ``step``: lr(t) = init + t / W * (base - init) for t <= W, then base * gamma^(#steps <= t);
    ``warmup``: the same warm-up, then constant; ``cosine`` (ours): warm-up, then a half cosine
    from base to 0 at ``max_iter``.
    """

    name: str
    base_lr: float
    max_iter: int
    warmup_iters: int = 0
    warmup_init_lr: float = 0.0
    steps: list[int] = field(default_factory=list)
    gamma: float = 0.1

    def __post_init__(self) -> None:
        if self.name not in SCHEDULE_NAMES:
            raise ValueError(f"SOLVER.LR_SCHEDULER must be one of {list(SCHEDULE_NAMES)}, got {self.name!r}")
        if self.base_lr <= 0:
            raise ValueError(f"SOLVER.BASE_LR must be > 0, got {self.base_lr}")
        if self.warmup_iters < 0:
            raise ValueError(f"SOLVER.WARMUP_ITERS must be >= 0, got {self.warmup_iters}")
        if list(self.steps) != sorted(self.steps):
            raise ValueError(f"SOLVER.STEPS must be increasing, got {self.steps}")
        self.steps = [int(s) for s in self.steps]

    def lr(self, it: int) -> float:
        """Absolute LR after ``it`` optimiser steps."""
        if self.warmup_iters > 0 and it <= self.warmup_iters:
            return self.warmup_init_lr + it / self.warmup_iters * (self.base_lr - self.warmup_init_lr)
        if self.name == "step":
            return self.base_lr * self.gamma ** bisect.bisect_right(self.steps, it)
        if self.name == "cosine":
            span = max(1, self.max_iter - self.warmup_iters)
            progress = min(1.0, (it - self.warmup_iters) / span)
            return 0.5 * self.base_lr * (1.0 + math.cos(math.pi * progress))
        return self.base_lr

    def __call__(self, it: int) -> float:
        """Multiplier of the base LR (what ``LambdaLR`` expects)."""
        return self.lr(it) / self.base_lr
