"""Backbones + FPN: parity with the original HODOR feature extractor (fixture case a) and shapes."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

from hodor.config import get_cfg
from hodor.modeling.backbone import (
    BACKBONE_REGISTRY,
    FPN,
    Trunk,
    TrunkOptions,
    build_backbone,
    build_backbone_by_name,
    convert_original_feature_extractor,
)

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "hodor_parity")
ALL_NAMES = ["resnet101", "resnet18", "resnet50", "swin_b", "swin_s", "swin_t"]


def test_registry_names():
    assert BACKBONE_REGISTRY.names() == ALL_NAMES
    with pytest.raises(KeyError, match="swin_t"):
        build_backbone_by_name("swin_tt")


def test_parity_with_original_case_a(original_sd):
    """THE acceptance test: converted original weights reproduce the original FPN+GroupNorm outputs."""
    model = build_backbone_by_name("swin_t").eval()
    model.load_state_dict(convert_original_feature_extractor(original_sd), strict=True)
    images = torch.from_numpy(np.load(os.path.join(FIXTURE, "inputs.npz"))["a_images"])
    expected = np.load(os.path.join(FIXTURE, "expected.npz"))
    with torch.no_grad():
        out = model(images)
    assert sorted(out) == [4, 8, 16, 32]
    for stride in (4, 8, 16, 32):
        ref = expected[f"a_feat{stride}"].astype(np.float64)
        ours = out[stride].double().numpy()
        assert ours.shape == ref.shape
        err = np.abs(ours - ref).max()
        assert err <= 1e-4 * max(1.0, np.abs(ref).max()), f"stride {stride}: max abs diff {err}"


def test_converter_drops_dead_and_derived_keys(original_sd):
    sd = original_sd
    conv = convert_original_feature_extractor(sd)
    assert not any("relative_position_index" in k for k in conv)
    assert "norms.3.weight" in conv and "norms.4.weight" not in conv
    # official layout: stage-s patch merging belongs to timm stage s+1; norm{i} -> out_norms.{i}
    src = sd["feature_extractor.bb_fpn.0.layers.0.downsample.reduction.weight"]
    assert torch.equal(conv["trunk.layers.1.downsample.reduction.weight"], src)
    assert torch.equal(conv["trunk.out_norms.2.bias"], sd["feature_extractor.bb_fpn.0.norm2.bias"])
    assert torch.equal(conv["fpn.output_convs.1.weight"], sd["feature_extractor.bb_fpn.1.fpn_convs.1.conv.weight"])
    with pytest.raises(ValueError, match="feature_extractor"):
        convert_original_feature_extractor({"encoder.x": torch.zeros(1)})
    with pytest.raises(ValueError, match="unrecognised"):
        convert_original_feature_extractor({"feature_extractor.bb_fpn.2.w": torch.zeros(1)})


@pytest.mark.parametrize("name", BACKBONE_REGISTRY.names())
def test_every_registered_factory_honours_the_trunk_contract(name):
    """Each entry builds from TrunkOptions alone and gives four maps at strides 4..32 with the
    channels it declares (what BackboneWithFPN relies on)."""
    trunk = BACKBONE_REGISTRY.get(name)(TrunkOptions(drop_path_rate=0.0, frozen_bn=False))
    assert isinstance(trunk, Trunk)
    assert list(trunk.strides) == [4, 8, 16, 32] and trunk.size_divisibility % 32 == 0
    with torch.no_grad():
        feats = trunk.eval()(torch.randn(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == list(trunk.out_channels)
    assert [64 // f.shape[-1] for f in feats] == [4, 8, 16, 32]


@pytest.mark.parametrize("name", BACKBONE_REGISTRY.names())
def test_every_backbone_builds_and_gives_ceil_sizes(name):
    torch.manual_seed(0)
    model = build_backbone_by_name(name, out_channels=32, norm_groups=8).eval()
    assert model.strides == [4, 8, 16, 32] and model.out_channels == 32
    # odd sizes on purpose (padded inside, cropped back); the big models get the smallest one
    h, w = (61, 83) if name in ("swin_t", "resnet18") else (29, 37)
    with torch.no_grad():
        out = model(torch.randn(1, 3, h, w))
    assert sorted(out) == [4, 8, 16, 32]
    for s, f in out.items():
        assert f.shape == (1, 32, math.ceil(h / s), math.ceil(w / s)), (s, f.shape)
        assert torch.isfinite(f).all()


def test_internal_padding_equals_explicit_zero_padding():
    torch.manual_seed(0)
    model = build_backbone_by_name("resnet18", out_channels=32, norm_groups=8).eval()
    x = torch.randn(1, 3, 45, 70)
    padded = torch.nn.functional.pad(x, (0, 26, 0, 19))  # 64 x 96
    with torch.no_grad():
        a, b = model(x), model(padded)
    for s in a:
        torch.testing.assert_close(a[s], b[s][..., : a[s].shape[-2], : a[s].shape[-1]])


def test_fpn_top_down_uses_exact_sizes():
    torch.manual_seed(0)
    fpn = FPN([4, 6], out_channels=5)
    fine, coarse = torch.randn(1, 4, 5, 7), torch.randn(1, 6, 3, 4)
    out = fpn([fine, coarse])
    assert [o.shape[-2:] for o in out] == [torch.Size([5, 7]), torch.Size([3, 4])]
    lat_c = fpn.lateral_convs[1](coarse)
    merged = fpn.lateral_convs[0](fine) + torch.nn.functional.interpolate(lat_c, size=(5, 7), mode="nearest")
    torch.testing.assert_close(out[0], fpn.output_convs[0](merged))
    torch.testing.assert_close(out[1], fpn.output_convs[1](lat_c))


def test_build_from_config_and_freeze_resnet():
    cfg = get_cfg()
    cfg.MODEL.BACKBONE.NAME = "resnet18"
    cfg.MODEL.BACKBONE.FREEZE_AT = 2
    cfg.MODEL.HIDDEN_DIM = 64
    model = build_backbone(cfg)
    assert model.name == "resnet18" and model.out_channels == 64
    assert len(model.norms) == 4 and model.norms[0].num_groups == cfg.MODEL.BACKBONE.FPN_NORM_GROUPS
    body = model.trunk.body
    assert not body.conv1.weight.requires_grad and not body.bn1.weight.requires_grad
    assert not any(p.requires_grad for p in body.layer1.parameters())
    assert all(p.requires_grad for p in body.layer2.parameters())
    # FROZEN_BN: BatchNorm statistics are buffers of FrozenBatchNorm2d, not updated in train mode
    assert type(body.bn1).__name__ == "FrozenBatchNorm2d"


def test_swin_trains_at_tiny_size_with_frozen_stem():
    """Backward works at a size smaller than one window (1x1 at stride 32); frozen parts get no grad."""
    torch.manual_seed(0)
    model = build_backbone_by_name("swin_t", out_channels=16, norm_groups=4, drop_path_rate=0.1, freeze_at=2)
    # drop path grows linearly over all blocks to the configured rate
    assert model.trunk.layers[3].blocks[1].drop_path1.drop_prob == pytest.approx(0.1)
    out = model.train()(torch.randn(1, 3, 32, 32))
    sum(f.square().mean() for f in out.values()).backward()
    assert model.trunk.patch_embed.proj.weight.grad is None
    assert all(p.grad is None for p in model.trunk.layers[0].parameters())
    assert model.trunk.layers[1].blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    assert model.fpn.lateral_convs[0].weight.grad.abs().sum() > 0


@pytest.mark.gpu
def test_parity_with_original_case_a_cuda(original_sd):
    """Same check on CUDA with TF32 off (TF32 would round far beyond the tolerance)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = build_backbone_by_name("swin_t").eval().cuda()
    model.load_state_dict(convert_original_feature_extractor(original_sd), strict=True)
    images = torch.from_numpy(np.load(os.path.join(FIXTURE, "inputs.npz"))["a_images"]).cuda()
    expected = np.load(os.path.join(FIXTURE, "expected.npz"))
    with torch.no_grad():
        out = model(images)
    for stride in (4, 8, 16, 32):
        ref = expected[f"a_feat{stride}"].astype(np.float64)
        err = np.abs(out[stride].double().cpu().numpy() - ref).max()
        assert err <= 1e-4 * max(1.0, np.abs(ref).max()), f"stride {stride}: max abs diff {err}"
