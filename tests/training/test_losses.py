import math

import pytest
import torch
import torch.nn.functional as F

from hodor.training.losses import IGNORE_INDEX, mean_iou, multiclass_dice_loss, per_object_dice_loss, segmentation_loss


def _reference_dice(logits, target):
    """The original's formula written out for one sample at a time."""
    out = []
    for b in range(logits.shape[0]):
        p = logits[b].softmax(0)[1:].flatten()
        g = F.one_hot(target[b], logits.shape[1]).movedim(-1, 0)[1:].flatten().float()
        num = 2 * (p * g).mean()
        d = (num + 1e-6) / ((p + g).mean() + 1e-6)
        out.append(1 - d if num > 1e-6 else torch.zeros(()))
    return torch.stack(out).mean()


def test_multiclass_dice_matches_formula_and_pools_objects():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 8, 8, generator=g)
    target = torch.randint(0, 3, (2, 4, 8, 8), generator=g)
    assert multiclass_dice_loss(logits, target) == pytest.approx(float(_reference_dice(logits, target)), rel=1e-6)
    # per-object dice weights a small object as much as a large one, the original does not
    assert per_object_dice_loss(logits, target) != pytest.approx(float(multiclass_dice_loss(logits, target)))


def test_zero_overlap_sample_gives_no_loss_and_no_gradient():
    logits = torch.full((1, 2, 1, 4, 4), -30.0)
    logits[:, 0] = 30.0  # predicts background everywhere
    target = torch.ones(1, 1, 4, 4, dtype=torch.long)
    logits.requires_grad_(True)
    loss = multiclass_dice_loss(logits, target)
    loss.backward()
    assert float(loss.detach()) == 0.0 and float(logits.grad.abs().sum()) == 0.0
    logits.grad = None
    per_object_dice_loss(logits, target).backward()  # the variant still pushes towards the object
    assert float(logits.grad.abs().sum()) > 0


def test_perfect_prediction_and_ignore():
    target = torch.zeros(1, 2, 4, 4, dtype=torch.long)
    target[:, :, :2] = 1
    logits = F.one_hot(target, 2).permute(0, 4, 1, 2, 3).float() * 50
    terms = segmentation_loss(logits, target)
    assert float(terms["loss_ce"]) < 1e-6 and float(terms["loss_dice"]) < 1e-5
    assert float(mean_iou(logits, target)) == pytest.approx(1.0)
    wrong = logits.clone()
    wrong[:, :, 1] = wrong[:, :, 1].flip(1)  # second prediction wrong ...
    ignored = target.clone()
    ignored[:, 1] = IGNORE_INDEX  # ... but ignored
    terms = segmentation_loss(wrong, ignored)
    assert float(terms["loss_ce"]) < 1e-6 and float(terms["loss_dice"]) < 1e-5
    assert float(segmentation_loss(wrong, target)["loss_ce"]) > 1.0


# ----------------------------------------------------------------------------- weighted loss
def _hand_case():
    """B = 1, background + 1 object, N = 2 predictions of 1 x 2 pixels; weights (1, 0.5).

    prediction 0: pixel a logits (0, ln 3) -> p_obj 3/4, target object; pixel b (0, 0) -> 1/2, target bg
    prediction 1: pixel a logits (ln 3, 0) -> p_obj 1/4, target object; pixel b ignored
    """
    ln3 = math.log(3.0)
    logits = torch.tensor([[[[[0.0, 0.0]], [[ln3, 0.0]]], [[[ln3, 0.0]], [[0.0, 0.0]]]]])  # [1, 2, 2, 1, 2]
    target = torch.tensor([[[[1, 0]], [[1, IGNORE_INDEX]]]])  # [1, 2, 1, 2]
    return logits, target, torch.tensor([[1.0, 0.5]])


def test_weighted_loss_hand_worked():
    logits, target, w = _hand_case()
    terms = segmentation_loss(logits, target, weights=w)
    # CE: (1 * -ln 3/4 + 1 * -ln 1/2 + 0.5 * -ln 1/4) / 3 valid pixels
    ce = (math.log(4 / 3) + math.log(2) + 0.5 * math.log(4)) / 3
    assert float(terms["loss_ce"]) == pytest.approx(ce, rel=1e-6)
    # dice on w p, w g: p = (3/4, 1/2, 1/8, 0), g = (1, 0, 1/2, 0)
    # 2 mean(pg) = 2 (3/4 + 1/16) / 4 = 13/32; mean(p + g) = 23/8 / 4 = 23/32 -> loss 1 - 13/23
    assert float(terms["loss_dice"]) == pytest.approx(10 / 23, rel=1e-5)
    # per-object dice: one object, sums instead of means: the same ratio
    assert float(segmentation_loss(logits, target, "per_object_dice", weights=w)["loss_dice"]) == pytest.approx(
        10 / 23, rel=1e-5
    )


@pytest.mark.parametrize("dice", ["multiclass_dice", "per_object_dice"])
def test_unit_weights_equal_the_unweighted_loss_and_zero_weights_cut_gradients(dice):
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 3, 8, 8, generator=g, requires_grad=True)
    target = torch.randint(0, 3, (2, 3, 8, 8), generator=g)
    target[1, 2, :4] = IGNORE_INDEX
    plain = segmentation_loss(logits, target, dice)
    ones = segmentation_loss(logits, target, dice, weights=torch.ones(2, 3))
    for k in plain:
        assert float(ones[k].detach()) == pytest.approx(float(plain[k].detach()), rel=1e-6)
    w = torch.tensor([[1.0, 0.0, 0.3], [0.0, 2.0, 1.0]])
    grad = torch.autograd.grad(sum(segmentation_loss(logits, target, dice, weights=w).values()), logits)[0]
    per_pred = grad.abs().sum(dim=(1, 3, 4))  # [B, N]
    assert torch.equal(per_pred == 0, w == 0)


def test_bad_weights_are_refused():
    logits, target, _ = _hand_case()
    with pytest.raises(ValueError, match="one per prediction"):
        segmentation_loss(logits, target, weights=torch.ones(1, 3))
    with pytest.raises(ValueError, match=">= 0"):
        segmentation_loss(logits, target, weights=torch.tensor([[1.0, -1.0]]))
