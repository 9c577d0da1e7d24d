"""Soft-masked attention: gradients (incl. w.r.t. the mask), limits, fused == reference."""

import math

import pytest
import torch
import torch.nn.functional as F

from hodor.modeling.soft_masked_attention import SoftMaskedAttention, default_mask_scales


def _attn(dim=8, heads=2, fused=True, dtype=torch.float32, scales=None, learnable=True):
    torch.manual_seed(0)
    return SoftMaskedAttention(dim, heads, 0.0, scales, learnable, fused).to(dtype).eval()


def test_default_scales_original_and_generalised():
    assert default_mask_scales(8) == [32, 32, 16, 16, 8, 8, 4, 4]
    assert default_mask_scales(4) == [32, 16, 8, 4]
    assert default_mask_scales(1) == [32]
    assert default_mask_scales(16)[:4] == [32] * 4 and default_mask_scales(16)[-1] == 4
    with pytest.raises(ValueError):
        SoftMaskedAttention(8, 2, mask_scales=[1.0, 2.0, 3.0])


@pytest.mark.parametrize("fused", [True, False])
def test_gradcheck_including_mask(fused):
    m = _attn(dim=4, heads=2, fused=fused, dtype=torch.float64, scales=[3.0, 1.0])
    q = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
    kv = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(1, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: m(a, b, b, c), (q, kv, mask))
    # the mask gradient is real: d out / d mask is not zero
    m(q, kv, kv, mask).sum().backward()
    assert mask.grad.abs().max() > 0 and m.scaling_factors.grad.abs().max() > 0


def test_mask_of_ones_is_standard_attention():
    m = _attn(dim=8, heads=2)
    q, kv = torch.randn(2, 3, 8), torch.randn(2, 6, 8)
    out = m(q, kv, kv, torch.ones(2, 3, 6))
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([m.q_proj.weight, m.k_proj.weight, m.v_proj.weight]))
        mha.in_proj_bias.copy_(torch.cat([m.q_proj.bias, m.k_proj.bias, m.v_proj.bias]))
        mha.out_proj.load_state_dict(m.out_proj.state_dict())
    ref = mha(q, kv, kv, need_weights=False)[0]
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_binary_mask_large_sigma_approaches_hard_masking():
    m = _attn(dim=8, heads=2, scales=[200.0, 200.0])
    q, kv = torch.randn(1, 2, 8), torch.randn(1, 7, 8)
    mask = torch.zeros(1, 2, 7)
    mask[0, 0, [1, 4]] = 1
    mask[0, 1, [0, 2, 3]] = 1
    out = m(q, kv, kv, mask)
    hard = torch.where(mask.bool(), 0.0, float("-inf"))[:, None]  # [B,1,N,S]
    qh = m.q_proj(q).view(1, 2, 2, 4).transpose(1, 2)
    kh = m.k_proj(kv).view(1, 7, 2, 4).transpose(1, 2)
    vh = m.v_proj(kv).view(1, 7, 2, 4).transpose(1, 2)
    ref = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=hard).transpose(1, 2).reshape(1, 2, 8)
    torch.testing.assert_close(out, m.out_proj(ref), atol=1e-5, rtol=1e-4)
    # with a small sigma the result is clearly different (the test can fail)
    m2 = _attn(dim=8, heads=2, scales=[0.5, 0.5])
    assert (m2(q, kv, kv, mask) - out).abs().max() > 1e-3


@pytest.mark.parametrize("fused", [True, False])
def test_all_zero_mask_is_finite(fused):
    m = _attn(fused=fused)
    q, kv = torch.randn(1, 3, 8), torch.randn(1, 5, 8)
    out = m(q, kv, kv, torch.zeros(1, 3, 5))
    assert torch.isfinite(out).all()


def test_fused_equals_reference_values_and_grads():
    ref_m, fus_m = _attn(dim=16, heads=4, fused=False), _attn(dim=16, heads=4, fused=True)
    fus_m.load_state_dict(ref_m.state_dict())
    torch.manual_seed(1)
    q, kv, mask = torch.randn(2, 5, 16), torch.randn(2, 30, 16), torch.rand(2, 5, 30)
    pad = torch.zeros(2, 30, dtype=torch.bool)
    pad[1, -4:] = True
    outs, grads = [], []
    for m in (ref_m, fus_m):
        qi, ki, mi = (t.clone().requires_grad_(True) for t in (q, kv, mask))
        out = m(qi, ki, ki, mi, key_padding_mask=pad)
        (out * torch.linspace(-1, 1, 16)).sum().backward()
        outs.append(out)
        grads.append([qi.grad, ki.grad, mi.grad, m.scaling_factors.grad, m.q_proj.weight.grad])
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-5)
    for a, b in zip(grads[0], grads[1]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_key_padding_mask_ignores_keys():
    m = _attn()
    q, kv = torch.randn(1, 2, 8), torch.randn(1, 6, 8)
    mask = torch.rand(1, 2, 6)
    pad = torch.tensor([[False, False, False, False, True, True]])
    out = m(q, kv, kv, mask, key_padding_mask=pad)
    torch.testing.assert_close(out, m(q, kv[:, :4], kv[:, :4], mask[..., :4]), atol=1e-6, rtol=1e-5)


def test_fixed_scales_are_a_buffer_and_penalty_formula():
    m = _attn(dim=4, heads=1, scales=[3.0], learnable=False, fused=False)
    assert "scaling_factors" in dict(m.named_buffers()) and not any("scaling" in n for n, _ in m.named_parameters())
    # one query, two keys with identical keys/values except value: penalty shifts weights by e^{-sigma(1-m)}
    with torch.no_grad():
        for lin in (m.q_proj, m.k_proj, m.v_proj, m.out_proj):
            lin.weight.copy_(torch.eye(4))
            lin.bias.zero_()
    q = torch.zeros(1, 1, 4)
    kv = torch.tensor([[[1.0, 0, 0, 0], [0, 1.0, 0, 0]]])
    out = m(q, kv, kv, torch.tensor([[[1.0, 0.5]]]))
    w1 = 1 / (1 + math.exp(-1.5))
    torch.testing.assert_close(out[0, 0, :2], torch.tensor([w1, 1 - w1]), atol=1e-6, rtol=1e-6)
