"""The regimes on the real (tiny) model: predictions, supervision, trackability, mask gradients."""

import pytest
import torch

from hodor.modeling import build_model
from hodor.training.modes import MODES, build_regime
from hodor.training.regimes import TrainingModule
from tests.helpers import ClipStream, tiny_cfg


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    return build_model(
        tiny_cfg(tmp_path_factory.mktemp("m"), "MODEL.ENCODER.DROPOUT", "0.0", "MODEL.DECODER.DROPOUT", "0.0")
    )


def test_registry_has_the_three_regimes():
    assert set(MODES.names()) >= {"static_image", "dense_video", "sparse_video"}
    with pytest.raises(KeyError, match="Available"):
        MODES.get("sparse")


@pytest.mark.parametrize(
    "mode,sparse,supervised", [("static_image", False, 6), ("dense_video", False, 6), ("sparse_video", True, 3)]
)
def test_regime_step_on_mixed_object_counts(tmp_path, model, mode, sparse, supervised):
    cfg = tiny_cfg(tmp_path, "TRAINING.MODE", mode)
    regime = build_regime(cfg)
    batch = ClipStream(2, sparse=sparse, seed=3).make(0)
    counts = sorted(set(batch.num_objects.tolist()))
    model.zero_grad(set_to_none=True)
    out = TrainingModule(model, regime)(batch, iteration=1)
    assert sorted(g.num_objects for g in out.groups) == counts  # one group per object count
    for g in out.groups:
        assert len(g.predictions) == 6  # [0]->0, [0]->1, [1]->0, [0,1]->2, [2]->1, [1,2]->0
        assert g.pred_logits.shape[2] == supervised
        assert g.pred_logits.shape[1] == 1 + g.num_objects and g.pred_logits.shape[-2:] == batch.frames.shape[-2:]
        if sparse:
            assert all(p.step.tgt == 0 for p in g.predictions if p.supervised)
    loss = out.total_loss
    assert torch.isfinite(loss) and set(out.losses) == {"loss_ce", "loss_dice"}
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads), (
        "every parameter must receive a gradient (DDP without find_unused_parameters)"
    )


def test_untrackable_object_becomes_background(tmp_path, model):
    batch = ClipStream(1, seed=0).make(0)
    batch.num_objects[:] = 2
    batch.masks[0, :, 40:50, 40:50] = 2
    batch.masks[0, 1][batch.masks[0, 1] == 2] = 0  # object 2 vanishes in frame 1
    batch.presence = (batch.masks[:, :, None] == torch.tensor([1, 2])[None, None, :, None, None]).flatten(3).any(-1)
    regime = build_regime(tiny_cfg(tmp_path))
    with torch.no_grad():
        (g,) = regime(model, batch, iteration=0).groups
    for p in g.predictions:
        gone = any(s == 1 for s in p.step.src) or (p.cycle > 0 and p.step.src != (0,))
        has2 = bool((p.target == 2).any())
        # after a step from frame 1 (where object 2 is absent) the object is background in its cycle
        assert has2 != gone or p.step.tgt == 1, (p.cycle, str(p.step))
    first = g.predictions[0]
    assert str(first.step) == "[0]->0" and bool((first.target == 2).any())


@pytest.mark.parametrize("detach", [True, False])
def test_mask_gradient_flows_only_without_detach(tmp_path, model, detach):
    regime = build_regime(tiny_cfg(tmp_path, "TRAINING.DETACH_INTERMEDIATE_MASKS", str(detach)))
    batch = ClipStream(1, seed=1).make(0)
    out = regime(model, batch, iteration=0, record=True)
    (g,) = out.groups
    soft = [c.soft_fg for c in g.encoder_calls if c.soft_fg is not None]
    assert len(soft) == 3  # frame 1, frame 2, frame 1 re-encoded from predictions
    grads = torch.autograd.grad(out.total_loss, soft, allow_unused=True)
    total = sum(float(x.abs().sum()) for x in grads if x is not None)
    if detach:
        assert total == 0.0
        assert all(not c.fg_mask.requires_grad for c in g.encoder_calls)
    else:
        assert total > 0.0
        assert all(c.fg_mask.requires_grad for c in g.encoder_calls[1:])
