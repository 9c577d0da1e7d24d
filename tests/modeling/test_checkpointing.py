"""Activation checkpointing must not change the computation: same outputs and gradients in
training mode (dropout and drop path active, replayed from the saved RNG state), and it must be
off by default and switched by MODEL.CHECKPOINT_ACTIVATIONS."""

import pytest
import torch

from hodor.config import get_cfg
from hodor.modeling import build_model
from hodor.modeling.checkpointing import set_activation_checkpointing


def _cfg(checkpoint: bool):
    cfg = get_cfg()
    cfg.MODEL.HIDDEN_DIM = 32
    cfg.MODEL.ENCODER.NUM_LAYERS = 2
    cfg.MODEL.DECODER.NUM_LAYERS = 2
    cfg.MODEL.CHECKPOINT_ACTIVATIONS = checkpoint
    return cfg


def _step(model, seed: int):
    """Forward (backbone, encoder, decoder) + backward; returns the loss and all gradients."""
    g = torch.Generator().manual_seed(0)
    images = torch.randn(1, 3, 64, 96, generator=g)
    torch.manual_seed(seed)  # dropout / drop path draws
    model.zero_grad(set_to_none=True)
    feats = model.extract_features(images)
    h, w = feats[8].shape[-2:]
    fg_masks = torch.rand(1, 2, h, w, generator=g)
    bg_masks = torch.rand(1, model.num_bg_descriptors, h, w, generator=g)
    fg, bg = model.encode(feats[8], fg_masks, bg_masks)
    logits = model.decode(fg[:, :, None], bg[:, :, None], feats[4], feats[8])
    loss = logits.float().square().mean()
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_checkpointing_is_off_by_default_and_set_by_the_config_key():
    plain, ckpt = build_model(_cfg(False)), build_model(_cfg(True))
    flags = [m.checkpoint_activations for m in plain.modules() if hasattr(m, "checkpoint_activations")]
    assert flags and not any(flags)
    flags = [m.checkpoint_activations for m in ckpt.modules() if hasattr(m, "checkpoint_activations")]
    assert len(flags) == 3 and all(flags)  # Swin trunk, encoder, decoder


@pytest.mark.slow
def test_checkpointed_training_step_equals_plain_one():
    torch.manual_seed(0)
    model = build_model(_cfg(False)).train()
    loss_a, grads_a = _step(model, seed=7)
    assert set_activation_checkpointing(model, True) == 3
    loss_b, grads_b = _step(model, seed=7)
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-6, atol=0)
    assert grads_a.keys() == grads_b.keys() and len(grads_a) > 100
    for name in grads_a:
        torch.testing.assert_close(grads_b[name], grads_a[name], rtol=1e-5, atol=1e-7, msg=name)
    # a different dropout draw gives different gradients: the comparison above can fail
    _, grads_c = _step(model, seed=8)
    assert any(not torch.allclose(grads_c[n], grads_a[n]) for n in grads_a)
