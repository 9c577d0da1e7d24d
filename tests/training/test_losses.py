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
