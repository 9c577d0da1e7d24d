"""Backbone weight files: formats (original HODOR, mmdet, timm, torchvision, detectron2 .pkl,
safetensors), strict-mode errors, and the restricted unpickler."""

from __future__ import annotations

import copy
import os
import pickle
import re

import numpy as np
import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file

from hodor.checkpoint.backbone_weights import load_backbone_weights, read_weight_file
from hodor.modeling.backbone import build_backbone_by_name, convert_original_feature_extractor

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "hodor_parity")


@pytest.fixture(scope="module")
def swin_t_template():
    torch.manual_seed(0)
    return build_backbone_by_name("swin_t")


@pytest.fixture()
def swin_t(swin_t_template):
    return copy.deepcopy(swin_t_template)  # cheaper than re-initialising Swin-T for every test


def fpn_and_norm_keys(model) -> list[str]:
    return [k for k in model.state_dict() if k.startswith(("fpn.", "norms."))]


def assert_loaded(model, expected: dict[str, torch.Tensor]):
    sd = model.state_dict()
    for k, v in expected.items():
        assert torch.equal(sd[k], v.to(sd[k].dtype)), k


def test_original_hodor_checkpoint_strict(tmp_path, swin_t, original_sd):
    path = str(tmp_path / "hodor_original.pth")
    torch.save({"model": original_sd, "iterations": 0, "logger": {}, "optimizers_and_lr_schedulers": []}, path)
    report = load_backbone_weights(swin_t, path, strict=True)
    assert report.ok and report.source_format == "original HODOR checkpoint"
    assert len(report.loaded) == len(swin_t.state_dict())
    assert any(k.startswith("encoder.") for k in report.ignored)
    assert torch.equal(swin_t.norms[1].weight, original_sd["feature_extractor.norm_layers.1.weight"])


def test_mmdet_checkpoint_equals_original_mapping(tmp_path, swin_t, swin_t_template, original_sd):
    """mmdet names = original names minus the bb_fpn prefixes; detector heads are ignored."""
    sd = {}
    for k, v in original_sd.items():
        if k.startswith("feature_extractor.bb_fpn.0."):
            sd["backbone." + k[len("feature_extractor.bb_fpn.0.") :]] = v
        elif k.startswith("feature_extractor.bb_fpn.1."):
            sd["neck." + k[len("feature_extractor.bb_fpn.1.") :]] = v
    sd["roi_head.bbox_head.fc_cls.weight"] = torch.zeros(81, 1024)
    path = str(tmp_path / "mask_rcnn_swin_t.pth")
    torch.save({"meta": {"epoch": 36}, "state_dict": sd}, path)
    report = load_backbone_weights(swin_t, path)
    assert report.source_format == "mmdetection detector"
    assert sorted(report.missing) == [k for k in sorted(swin_t.state_dict()) if k.startswith("norms.")]
    assert "roi_head.bbox_head.fc_cls.weight" in report.ignored and not report.unexpected
    reference = copy.deepcopy(swin_t_template)
    converted = convert_original_feature_extractor(original_sd)
    reference.load_state_dict({k: v for k, v in converted.items() if not k.startswith("norms.")}, strict=False)
    for k, v in reference.state_dict().items():
        assert torch.equal(swin_t.state_dict()[k], v), k
    with pytest.raises(ValueError, match=re.escape(path) + "(.|\n)*norms.0.weight"):
        load_backbone_weights(swin_t, path, strict=True)  # the detector has no output GroupNorms


def test_timm_swin_imagenet_and_official_layout(tmp_path, swin_t):
    torch.manual_seed(1)
    src = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, num_classes=7).state_dict()
    path = str(tmp_path / "swin_t_timm.safetensors")
    save_file({k: v.contiguous() for k, v in src.items()}, path)
    report = load_backbone_weights(swin_t, path)
    assert set(report.ignored) == {"head.fc.weight", "head.fc.bias", "norm.weight", "norm.bias"}
    trunk_keys = [k for k in swin_t.state_dict() if k.startswith("trunk.") and "out_norms" not in k]
    assert len(report.loaded) == len(trunk_keys) and not report.unexpected and not report.mismatched
    assert_loaded(swin_t, {"trunk." + k: v for k, v in src.items() if k.startswith(("patch_embed", "layers"))})

    # the official Microsoft layout puts patch merging at the end of stage s (layers.{s}.downsample)
    official = {
        re.sub(r"layers\.(\d)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", k): v
        for k, v in src.items()
    }
    official["layers.0.blocks.0.attn.relative_position_index"] = torch.zeros(49, 49, dtype=torch.long)
    path2 = str(tmp_path / "swin_tiny_patch4_window7_224.pth")
    torch.save({"model": official}, path2)
    fresh = copy.deepcopy(swin_t)
    fresh.trunk.layers[1].downsample.reduction.weight.data.zero_()
    report2 = load_backbone_weights(fresh, path2)
    assert report2.loaded == report.loaded
    assert torch.equal(fresh.trunk.layers[1].downsample.reduction.weight, src["layers.1.downsample.reduction.weight"])


def test_torchvision_resnet_and_architecture_errors(tmp_path, swin_t):
    tv = torchvision.models.resnet18(weights=None).state_dict()
    path = str(tmp_path / "resnet18_tv.pth")
    torch.save(tv, path)
    model = build_backbone_by_name("resnet18", out_channels=32, norm_groups=8)
    report = load_backbone_weights(model, path)
    assert {"fc.weight", "fc.bias"} <= set(report.ignored)
    assert sorted(report.missing) == sorted(fpn_and_norm_keys(model))
    assert_loaded(
        model, {"trunk.body." + k: v for k, v in tv.items() if not k.startswith("fc.") and "num_batches" not in k}
    )
    # a ResNet file for a Swin: clear error naming the file and the architecture, strict or not
    for strict in (True, False):
        with pytest.raises(ValueError, match=re.escape(path) + ".*swin_t.*ResNet"):
            load_backbone_weights(swin_t, path, strict=strict)


def test_shape_mismatch_reported_and_strict_raises(tmp_path, swin_t):
    sd = {k: v.clone() for k, v in swin_t.state_dict().items()}
    sd["fpn.lateral_convs.0.weight"] = torch.zeros(256, 95, 1, 1)
    sd["trunk.layers.9.blocks.0.norm1.weight"] = torch.zeros(96)  # e.g. from a deeper variant
    path = str(tmp_path / "ours.pth")
    torch.save({"model": {"backbone." + k: v for k, v in sd.items()}}, path)
    report = load_backbone_weights(copy.deepcopy(swin_t), path)
    assert report.source_format == "hodor backbone (prefix 'backbone.')"
    assert report.mismatched == [("fpn.lateral_convs.0.weight", (256, 95, 1, 1), (256, 96, 1, 1))]
    assert report.unexpected == ["trunk.layers.9.blocks.0.norm1.weight"]
    assert report.missing == ["fpn.lateral_convs.0.weight"]
    text = str(report)
    assert "shape mismatch" in text and "unexpected" in text and path in text
    with pytest.raises(ValueError, match="fpn.lateral_convs.0.weight"):
        load_backbone_weights(swin_t, path, strict=True)


def _tv_to_detectron2(key: str) -> str:
    """torchvision ResNet name -> detectron2 name (written independently of the loader's mapping)."""
    key = key.replace("downsample.0", "shortcut").replace("downsample.1", "shortcut.norm")
    key = re.sub(r"^layer(\d)", lambda m: f"res{int(m.group(1)) + 1}", key)
    key = re.sub(r"\.bn(\d)\.", r".conv\1.norm.", key)
    key = re.sub(r"^conv1\.", "stem.conv1.", key)
    key = re.sub(r"^bn1\.", "stem.conv1.norm.", key)
    return "backbone.bottom_up." + key


def test_detectron2_pkl_resnet_with_fpn(tmp_path):
    torch.manual_seed(2)
    model = build_backbone_by_name("resnet18", out_channels=32, norm_groups=8)
    tv = {k: v for k, v in torchvision.models.resnet18(weights=None).state_dict().items()}
    d2 = {_tv_to_detectron2(k): v.numpy() for k, v in tv.items() if not k.startswith("fc.") and "num_batches" not in k}
    for lvl, c in zip(range(2, 6), [64, 128, 256, 512]):
        d2[f"backbone.fpn_lateral{lvl}.weight"] = np.random.randn(32, c, 1, 1).astype(np.float32)
        d2[f"backbone.fpn_lateral{lvl}.bias"] = np.random.randn(32).astype(np.float32)
        d2[f"backbone.fpn_output{lvl}.weight"] = np.random.randn(32, 32, 3, 3).astype(np.float32)
        d2[f"backbone.fpn_output{lvl}.bias"] = np.random.randn(32).astype(np.float32)
    d2["roi_heads.box_predictor.cls_score.weight"] = np.zeros((81, 8), np.float32)
    path = str(tmp_path / "model_final.pkl")
    with open(path, "wb") as fh:
        pickle.dump({"model": d2, "__author__": "Detectron2 Model Zoo"}, fh, protocol=2)
    report = load_backbone_weights(model, path)
    assert report.source_format == "detectron2"
    assert sorted(report.missing) == sorted(k for k in model.state_dict() if k.startswith("norms."))
    assert not report.unexpected and report.ignored == ["roi_heads.box_predictor.cls_score.weight"]
    assert_loaded(model, {"trunk.body." + k: v for k, v in tv.items() if not k.startswith("fc.") and "num_b" not in k})
    assert torch.equal(model.fpn.output_convs[3].bias, torch.from_numpy(d2["backbone.fpn_output5.bias"]))


def test_mask2former_swin_pkl(tmp_path, swin_t):
    # our trunk is made of timm modules, so its keys are timm's; perturb so that loading is visible
    src = {k[len("trunk.") :]: v + 0.5 for k, v in swin_t.state_dict().items() if k.startswith("trunk.")}
    src = {k: v for k, v in src.items() if not k.startswith("out_norms.")}
    m2f = {}
    for k, v in src.items():
        k = re.sub(r"layers\.(\d)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", k)
        m2f["backbone." + k] = v.numpy()
    for i, c in enumerate([96, 192, 384, 768]):
        m2f[f"backbone.norm{i}.weight"] = np.full(c, 1.5, np.float32)
        m2f[f"backbone.norm{i}.bias"] = np.full(c, 0.25, np.float32)
    m2f["sem_seg_head.predictor.query_embed.weight"] = np.zeros((100, 256), np.float32)
    path = str(tmp_path / "m2f_swin_t.pkl")
    with open(path, "wb") as fh:
        pickle.dump({"model": m2f, "__author__": "third_party"}, fh)
    report = load_backbone_weights(swin_t, path)
    assert sorted(report.missing) == sorted(fpn_and_norm_keys(swin_t))
    assert report.ignored == ["sem_seg_head.predictor.query_embed.weight"] and not report.unexpected
    assert torch.equal(swin_t.trunk.out_norms[3].bias, torch.full((768,), 0.25))
    assert torch.equal(swin_t.trunk.layers[2].downsample.norm.weight, src["layers.2.downsample.norm.weight"])


class _Evil:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.makedirs, (self.target,))


def test_malicious_pickle_is_rejected(tmp_path, swin_t):
    target = str(tmp_path / "pwned")
    path = str(tmp_path / "evil.pkl")
    with open(path, "wb") as fh:
        pickle.dump({"model": {"backbone.patch_embed.proj.bias": _Evil(target)}}, fh)
    with pytest.raises(ValueError, match=re.escape(path) + ".*refusing.*makedirs"):
        load_backbone_weights(swin_t, path)
    assert not os.path.exists(target)
    # torch files go through weights_only=True: arbitrary objects are refused as well
    path2 = str(tmp_path / "evil.pth")
    torch.save({"model": {"x": _Evil(target)}}, path2)
    with pytest.raises(ValueError, match=re.escape(path2) + ".*weights_only"):
        read_weight_file(path2)
    assert not os.path.exists(target)


def test_bad_files(tmp_path, swin_t):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_backbone_weights(swin_t, str(tmp_path / "nope.pth"))
    path = str(tmp_path / "no_tensors.pth")
    torch.save({"iterations": 3, "config": {"a": 1}}, path)
    with pytest.raises(ValueError, match=re.escape(path) + ".*no state dict"):
        load_backbone_weights(swin_t, path)
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="junk.pkl"):
        load_backbone_weights(swin_t, str(junk))


def test_plain_batchnorm_resnet_strict_roundtrip(tmp_path):
    """With FROZEN_BN off, a full torchvision file loads strictly (num_batches_tracked is not 'missing')."""
    model = build_backbone_by_name("resnet18", out_channels=16, norm_groups=4, frozen_bn=False)
    assert type(model.trunk.body.bn1).__name__ == "BatchNorm2d"
    sd = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    path = str(tmp_path / "own.safetensors")
    save_file(sd, path)
    report = load_backbone_weights(model, path, strict=True)
    assert report.ok and report.source_format == "hodor backbone"
    assert_loaded(model, sd)
