"""``build_optimizer`` / ``build_lr_scheduler``: the only places that read SOLVER.* keys."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..config import CfgNode
from .lr_schedule import LRSchedule

# Parameter-name prefixes that belong to the backbone (+FPN) for SOLVER.BACKBONE_LR_MULTIPLIER.
BACKBONE_PREFIXES = ("backbone.", "feature_extractor.", "fpn.", "neck.")


def split_backbone_params(
    model: nn.Module, prefixes: Iterable[str] = BACKBONE_PREFIXES
) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Trainable parameters split into (backbone+FPN, rest) by their name prefix."""
    prefixes = tuple(prefixes)
    backbone, rest = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (backbone if name.startswith(prefixes) else rest).append(p)
    return backbone, rest


def build_optimizer(cfg: CfgNode, model: nn.Module) -> torch.optim.Optimizer:
    """AdamW (betas 0.9/0.999, eps 1e-8) with weight decay on every parameter, as the original.

    With ``SOLVER.BACKBONE_LR_MULTIPLIER == 1`` there is a single param group (exactly the
    original optimiser state layout); otherwise the backbone group gets ``lr * multiplier``.
    """
    lr, wd, mult = cfg.SOLVER.BASE_LR, cfg.SOLVER.WEIGHT_DECAY, cfg.SOLVER.BACKBONE_LR_MULTIPLIER
    if mult <= 0:
        raise ValueError(f"SOLVER.BACKBONE_LR_MULTIPLIER must be > 0, got {mult}")
    if mult == 1.0:
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("the model has no trainable parameters")
        groups = [{"params": params, "lr": lr}]
    else:
        backbone, rest = split_backbone_params(model)
        if not backbone:
            raise ValueError(
                f"SOLVER.BACKBONE_LR_MULTIPLIER={mult} but no parameter name starts with {BACKBONE_PREFIXES}"
            )
        groups = [{"params": backbone, "lr": lr * mult}, {"params": rest, "lr": lr}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)


def build_schedule(cfg: CfgNode) -> LRSchedule:
    s = cfg.SOLVER
    return LRSchedule(
        name=s.LR_SCHEDULER,
        base_lr=s.BASE_LR,
        max_iter=s.MAX_ITER,
        warmup_iters=s.WARMUP_ITERS,
        warmup_init_lr=s.WARMUP_INIT_LR,
        steps=list(s.STEPS),
        gamma=s.GAMMA,
    )


def build_lr_scheduler(cfg: CfgNode, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` stepped once per optimiser step; every group follows the same multiplier."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, build_schedule(cfg))
