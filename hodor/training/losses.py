"""Segmentation losses of the training regimes: cross-entropy + dice over stacked predictions.

Every regime stacks its supervised predictions to ``logits [B, 1+I, N, H, W]`` (channel 0 =
background after merging the catch-all and grid channels, N = number of predictions) and the
targets to an index map ``target [B, N, H, W]`` (0 = background, i = object i). Pixels with
``IGNORE_INDEX`` (frames without ground truth) take part in neither term.

Optional per-prediction weights ``[B, N]`` (self-training: ground truth 1, pseudo-labels less)
are absolute, not normalised: cross-entropy becomes ``sum(w x pixel CE) / #valid pixels`` and the
dice terms see ``w p`` and ``w g`` for each prediction, so ``w = 1`` everywhere is the unweighted
loss and ``w = 0`` removes a prediction's gradient. ``weights=None`` runs the unweighted code
unchanged (the parity cases depend on it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..utils.registry import Registry

IGNORE_INDEX = -1
DICE_EPS = 1e-6

DICE_LOSSES = Registry("dice loss")


@DICE_LOSSES.register("multiclass_dice")
def multiclass_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """The original HODOR dice (hodor-reference §2.3 step 6), averaged over the batch.

    Softmax over the 1+I channels, one-hot target, background channel dropped, and *all*
    objects and predictions of a sample pooled into one soft dice
    ``(2 mean(p g) + eps) / (mean(p + g) + eps)``. A sample whose numerator is not above eps
    contributes 0 (and no gradient): this reproduces the original, which large objects dominate.

    Shapes: logits [B, 1+I, N, H, W], target [B, N, H, W] int64, weights [B, N] or None -> scalar.
    """
    p, g, valid = _probs_onehot(logits, target)
    p = p * valid
    if weights is not None:
        p, g = _weigh(p, g, weights)
    p, g = p[:, 1:].flatten(1), g[:, 1:].flatten(1)  # [B, I*N*H*W]
    num = 2.0 * (p * g).mean(1)
    den = (p + g).mean(1)
    dice = (num + DICE_EPS) / (den + DICE_EPS)
    per_sample = torch.where(num > DICE_EPS, 1.0 - dice, torch.zeros_like(dice))
    return per_sample.mean()


@DICE_LOSSES.register("per_object_dice")
def per_object_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Soft dice per (sample, object) over its predictions, averaged: small objects count as much.

    Unlike the original there is no zero-overlap special case, so an object the model misses
    entirely still gets a gradient (loss 1 - eps/(sum p + sum g + eps) ~ 1).

    Shapes: logits [B, 1+I, N, H, W], target [B, N, H, W] int64, weights [B, N] or None -> scalar.
    """
    p, g, valid = _probs_onehot(logits, target)
    p = p * valid
    if weights is not None:
        p, g = _weigh(p, g, weights)
    p, g = p[:, 1:].flatten(2), g[:, 1:].flatten(2)  # [B, I, N*H*W]
    if p.shape[1] == 0:
        return logits.sum() * 0.0
    dice = (2.0 * (p * g).sum(2) + DICE_EPS) / ((p + g).sum(2) + DICE_EPS)
    return (1.0 - dice).mean()


def _probs_onehot(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Softmax probabilities, one-hot target and the valid-pixel mask, all [B, 1+I, N, H, W]-broadcastable."""
    if (
        logits.dim() != 5
        or target.dim() != 4
        or logits.shape[0] != target.shape[0]
        or logits.shape[2:] != target.shape[1:]
    ):
        raise ValueError(
            f"expected logits [B,1+I,N,H,W] and target [B,N,H,W]; got {tuple(logits.shape)} and {tuple(target.shape)}"
        )
    num_classes = logits.shape[1]
    valid = (target != IGNORE_INDEX).unsqueeze(1)  # [B, 1, N, H, W]
    p = logits.float().softmax(dim=1)
    g = F.one_hot(target.clamp(min=0), num_classes).permute(0, 4, 1, 2, 3).to(p.dtype) * valid
    return p, g, valid.to(p.dtype)


def _weigh(p: torch.Tensor, g: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """p, g [B, C, N, H, W] scaled by the per-prediction weights [B, N]."""
    w = weights.to(p.dtype)[:, None, :, None, None]
    return p * w, g * w


def _check_weights(weights: torch.Tensor, target: torch.Tensor) -> None:
    if weights.shape != target.shape[:2]:
        raise ValueError(
            f"loss weights must be [B, N] = {tuple(target.shape[:2])} (one per prediction), got {tuple(weights.shape)}"
        )
    if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()):
        raise ValueError("loss weights must be finite and >= 0")


def segmentation_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    dice: str = "multiclass_dice",
    ce_weight: float = 1.0,
    dice_weight: float = 1.0,
    weights: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """``{"loss_ce", "loss_dice"}`` (already weighted); the total is their sum.

    Cross-entropy is the mean over every pixel of every prediction, padding included, as the
    original (ignored pixels excluded). ``weights`` [B, N]: per-prediction loss weights (module
    docstring); the weighted cross-entropy still divides by the number of valid pixels (0 when
    there is none).

    Shapes: logits [B, 1+I, N, H, W], target [B, N, H, W] int64, weights [B, N] float or None.
    """
    if weights is None:
        ce = F.cross_entropy(logits.float(), target, ignore_index=IGNORE_INDEX)
        dl = DICE_LOSSES.get(dice)(logits, target)
    else:
        _check_weights(weights, target)
        pixel = F.cross_entropy(logits.float(), target, ignore_index=IGNORE_INDEX, reduction="none")  # [B,N,H,W]
        count = (target != IGNORE_INDEX).sum().clamp(min=1)
        ce = (pixel * weights.to(pixel.dtype)[:, :, None, None]).sum() / count
        dl = DICE_LOSSES.get(dice)(logits, target, weights)
    return {"loss_ce": ce_weight * ce, "loss_dice": dice_weight * dl}


@torch.no_grad()
def mean_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean IoU of the arg-max prediction over (sample, object, prediction) with a non-empty union.

    Logged only (like the original's training IoU); returns NaN-free 0-d tensor (0 if no union).

    Shapes: logits [B, 1+I, N, H, W], target [B, N, H, W].
    """
    pred = logits.argmax(1)  # [B, N, H, W]
    valid = target != IGNORE_INDEX
    ious = []
    for obj in range(1, logits.shape[1]):
        p, g = (pred == obj) & valid, (target == obj) & valid
        inter = (p & g).flatten(2).sum(-1).float()
        union = (p | g).flatten(2).sum(-1).float()
        ious.append((inter / union.clamp(min=1))[union > 0])
    cat = torch.cat(ious) if ious else logits.new_zeros(0)
    return cat.mean() if cat.numel() else logits.new_zeros(())
