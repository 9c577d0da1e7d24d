"""The grid_sample deformable conv must equal torchvision's kernel (outputs and all gradients),
including sampling points that fall partly or wholly outside the feature map."""

import pytest
import torch
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from hodor.config import ConfigError, get_cfg, validate
from hodor.modeling.decoder import DeformConvBlock
from hodor.modeling.deform_conv import deform_conv2d, deform_conv2d_gather, deform_conv2d_grid_sample


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / a.abs().max().clamp_min(1e-12)).item()


@pytest.mark.parametrize(
    "b,c,o,h,w,k,padding,dilation,offset_scale",
    [
        (2, 8, 6, 7, 9, 3, 1, 1, 2.0),  # the decoder's case, offsets of a few pixels
        (1, 4, 4, 5, 5, 3, 1, 1, 6.0),  # many points wholly outside the map (read as zero)
        (2, 3, 5, 6, 4, 3, 0, 1, 1.0),  # no padding: smaller output
        (1, 5, 2, 8, 7, 3, 2, 2, 1.5),  # dilation
        (1, 3, 3, 1, 6, 3, 1, 1, 0.7),  # a single-row map
        (2, 4, 4, 6, 6, 1, 0, 1, 0.5),  # 1x1 kernel: pure bilinear resampling
    ],
)
@pytest.mark.parametrize("impl", [deform_conv2d_grid_sample, deform_conv2d_gather])
def test_grid_sample_matches_torchvision(impl, b, c, o, h, w, k, padding, dilation, offset_scale):
    g = torch.Generator().manual_seed(b * 100 + h * 10 + w)
    x = torch.randn(b, c, h, w, generator=g, dtype=torch.float64, requires_grad=True)
    ho, wo = h + 2 * padding - dilation * (k - 1), w + 2 * padding - dilation * (k - 1)
    off = (offset_scale * torch.randn(b, 2 * k * k, ho, wo, generator=g, dtype=torch.float64)).requires_grad_()
    weight = torch.randn(o, c, k, k, generator=g, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(o, generator=g, dtype=torch.float64, requires_grad=True)
    ref = tv_deform_conv2d(x, off, weight, bias, padding=(padding, padding), dilation=(dilation, dilation))
    out = impl(x, off, weight, bias, padding=padding, dilation=dilation)
    assert out.shape == ref.shape
    assert _rel(ref, out) < 1e-10
    upstream = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    grads_ref = torch.autograd.grad(ref, (x, off, weight, bias), upstream)
    grads_out = torch.autograd.grad(out, (x, off, weight, bias), upstream)
    for name, gr, go in zip(("x", "offset", "weight", "bias"), grads_ref, grads_out):
        assert _rel(gr, go) < 1e-9, name


def test_zero_offsets_equal_ordinary_conv():
    x = torch.randn(2, 6, 9, 11)
    weight, bias = torch.randn(5, 6, 3, 3), torch.randn(5)
    out = deform_conv2d_grid_sample(x, torch.zeros(2, 18, 9, 11), weight, bias, padding=1)
    torch.testing.assert_close(out, torch.nn.functional.conv2d(x, weight, bias, padding=1), rtol=1e-5, atol=1e-5)


def test_integer_positions_match_torchvision():
    """Offsets that land exactly on pixels (and on the last row/column) hit the floor's edge case."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 3, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    off = torch.randint(-2, 3, (1, 18, 5, 6), generator=g).to(torch.float64).requires_grad_()
    weight = torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    ref = tv_deform_conv2d(x, off, weight, None, padding=(1, 1))
    out = deform_conv2d_gather(x, off, weight, None, padding=1)
    assert _rel(ref, out) < 1e-10
    up = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    for gr, go in zip(torch.autograd.grad(ref, (x, off, weight), up), torch.autograd.grad(out, (x, off, weight), up)):
        assert _rel(gr, go) < 1e-9


def test_gather_bf16_close_to_fp32():
    """bf16 values with float32 positions: relative error at bf16's resolution, not worse."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 32, 12, 15, generator=g)
    off = 2.0 * torch.randn(2, 18, 12, 15, generator=g)
    weight, bias = 0.1 * torch.randn(16, 32, 3, 3, generator=g), torch.randn(16, generator=g)
    ref = deform_conv2d_gather(x, off, weight, bias)
    low = deform_conv2d_gather(x.bfloat16(), off, weight, bias)
    assert low.dtype == torch.bfloat16
    err = ((low.float() - ref).norm() / ref.norm()).item()
    assert err < 1e-2  # bf16 has 8 mantissa bits (2^-8 = 3.9e-3 per element)


def test_block_impls_agree_and_share_parameters():
    torch.manual_seed(0)
    fast, ref = DeformConvBlock(16, impl="grid_sample"), DeformConvBlock(16, impl="torchvision")
    gather = DeformConvBlock(16, impl="gather")
    gather.load_state_dict(fast.state_dict())
    ref.load_state_dict(fast.state_dict())  # same keys whichever kernel runs
    x = torch.randn(2, 16, 10, 12)
    torch.testing.assert_close(fast(x), ref(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gather(x), ref(x), rtol=1e-5, atol=1e-5)
    # the autocast path upcasts to float32 for both kernels and returns the input dtype
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fast(x.bfloat16()).dtype == torch.bfloat16
        low = gather(x)
    assert low.dtype == torch.float32
    assert ((low - ref(x)).norm() / ref(x).norm()).item() < 2e-2  # bf16 offsets conv + bf16 sampling/matmul


def test_bad_arguments_are_named():
    x = torch.randn(1, 4, 5, 5)
    with pytest.raises(ValueError, match="offset must be"):
        deform_conv2d_grid_sample(x, torch.zeros(1, 18, 4, 5), torch.randn(4, 4, 3, 3))
    with pytest.raises(ValueError, match="input channels"):
        deform_conv2d_grid_sample(x, torch.zeros(1, 18, 5, 5), torch.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match="unknown deformable conv implementation"):
        deform_conv2d(x, torch.zeros(1, 18, 5, 5), torch.randn(4, 4, 3, 3), None, 1, impl="cuda_fast")
    cfg = get_cfg()
    cfg.MODEL.DECODER.DEFORM_CONV_IMPL = "gridsample"
    with pytest.raises(ConfigError, match="DEFORM_CONV_IMPL"):
        validate(cfg)
