"""The HODOR primitives end to end on a tiny model, preprocessing, and checkpoint I/O."""

import os

import pytest
import torch

from hodor.checkpoint import CheckpointError, load_model_weights, read_checkpoint, save_model
from hodor.config import get_cfg, load_config
from hodor.modeling import (
    HODOR,
    build_model,
    encoder_masks_from_index,
    encoder_masks_from_probs,
    merge_bg_logits,
    normalize,
    pad_to_multiple,
)


def _tiny_cfg(backbone="resnet18", enc_layers=1):
    cfg = get_cfg()
    cfg.MODEL.BACKBONE.NAME = backbone
    cfg.MODEL.HIDDEN_DIM = 32
    cfg.MODEL.ENCODER.NUM_LAYERS = enc_layers
    cfg.MODEL.ENCODER.FFN_DIM = 32
    cfg.MODEL.ENCODER.NUM_BG_DESCRIPTORS = 4
    cfg.MODEL.DECODER.NUM_LAYERS = 1
    cfg.MODEL.DECODER.FFN_DIM = 32
    return cfg


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return build_model(_tiny_cfg())


def test_primitives_end_to_end(tiny_model):
    model: HODOR = tiny_model.train()
    assert model.num_bg_descriptors == 4
    frames = torch.randint(0, 256, (2, 3, 30, 62), dtype=torch.uint8)
    images, hw = pad_to_multiple(normalize(frames, [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]), 32)
    assert images.shape == (2, 3, 32, 64) and hw == (30, 62) and images[..., 30:, :].abs().sum() == 0
    index = torch.zeros(1, 32, 64, dtype=torch.long)
    index[0, 4:20, 8:30] = 1
    index[0, 10:30, 30:60] = 2
    feats = model.extract_features(images)
    fg_m, bg_m = encoder_masks_from_index(index, 2, 4)
    fg, bg = model.encode(feats[8][:1], fg_m, bg_m)
    assert fg.shape == (1, 2, 32) and bg.shape == (1, 4, 32)
    logits = model.decode(fg[:, :, None], bg[:, :, None], feats[4][1:], feats[8][1:])
    assert logits.shape == (1, 1 + 4 + 2, 8, 16)
    # re-encode frame 1 from its prediction (the training/inference loop's step)
    probs = torch.softmax(logits, 1)
    p8 = torch.nn.functional.interpolate(probs, scale_factor=0.5, mode="bilinear", align_corners=False)
    fg2, bg2 = model.encode(feats[8][1:], *encoder_masks_from_probs(p8[:, 5:].detach(), 4))
    logits2 = model.decode(torch.stack([fg, fg2], 2), torch.stack([bg, bg2], 2), feats[4][:1], feats[8][:1])
    merged = merge_bg_logits(logits2, 4)
    loss = torch.nn.functional.cross_entropy(merged, index[:, ::4, ::4])
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.backbone.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    with pytest.raises(RuntimeError, match="extract_features"):
        model(images)


def test_pad_to_multiple_index_masks():
    m = torch.ones(2, 33, 40, dtype=torch.uint8)
    out, hw = pad_to_multiple(m, 32)
    assert out.shape == (2, 64, 64) and out.dtype == torch.uint8 and hw == (33, 40)
    assert out[:, :33, :40].all() and out[:, 33:].sum() == 0 and out[:, :, 40:].sum() == 0
    same, _ = pad_to_multiple(torch.zeros(1, 3, 32, 64))
    assert same.shape == (1, 3, 32, 64)


def test_save_and_load_roundtrip(tmp_path, tiny_model):
    cfg = _tiny_cfg()
    out = tmp_path / "ckpt"
    path = save_model(tiny_model, cfg, str(out))
    assert os.path.isfile(path) and (out / "config.yaml").is_file()
    assert load_config(str(out / "config.yaml")).MODEL.HIDDEN_DIM == 32
    torch.manual_seed(123)
    fresh = build_model(cfg)
    report = load_model_weights(fresh, str(out))
    assert report.ok and report.checkpoint_cfg["MODEL"]["BACKBONE"]["NAME"] == "resnet18"
    for (k, a), b in zip(tiny_model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), k
    # .pth variants: {"model", "config"} (config as YAML text) with a DDP prefix, and a bare state dict
    sd = {"module." + k: v for k, v in tiny_model.state_dict().items()}
    torch.save({"model": sd, "config": cfg.dump()}, tmp_path / "a.pth")
    sd2, cfg2 = read_checkpoint(str(tmp_path / "a.pth"))
    assert set(sd2) == set(tiny_model.state_dict()) and cfg2["MODEL"]["HIDDEN_DIM"] == 32
    torch.save(tiny_model.state_dict(), tmp_path / "b.pth")
    assert load_model_weights(build_model(cfg), str(tmp_path / "b.pth")).ok


def test_mismatch_reports_and_strictness(tmp_path, tiny_model):
    save_model(tiny_model, _tiny_cfg(), str(tmp_path / "ckpt"))
    other = build_model(_tiny_cfg(enc_layers=2))  # one more encoder layer: missing keys
    with pytest.raises(CheckpointError, match="ckpt") as err:
        load_model_weights(other, str(tmp_path / "ckpt"), strict=True)
    assert "missing in checkpoint" in str(err.value) and "encoder.attn_layers.1" in str(err.value)
    report = load_model_weights(other, str(tmp_path / "ckpt"), strict=False)
    assert not report.ok and report.missing and not report.unexpected
    assert torch.equal(other.decoder.bg_query_proj.weight, tiny_model.decoder.bg_query_proj.weight)

    wide = _tiny_cfg()
    wide.MODEL.ENCODER.FFN_DIM = 48  # same keys, different shapes
    report = load_model_weights(build_model(wide), str(tmp_path / "ckpt"), strict=False)
    assert report.mismatched and all("ffn" in k for k, _, _ in report.mismatched)


def test_different_backbone_gives_clear_error(tmp_path, tiny_model):
    save_model(tiny_model, _tiny_cfg(), str(tmp_path / "ckpt"))
    with pytest.raises(CheckpointError) as err:
        load_model_weights(build_model(_tiny_cfg(backbone="resnet50")), str(tmp_path / "ckpt" / "model.safetensors"))
    msg = str(err.value)
    assert "model.safetensors" in msg and "backbone" in msg and "resnet18" in msg


class _Opaque:
    pass


def test_unsafe_pickle_and_bad_files_are_refused(tmp_path):
    torch.save({"model": {"w": torch.zeros(1)}, "extra": _Opaque()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="weights_only"):
        read_checkpoint(str(tmp_path / "evil.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth"):
        read_checkpoint(str(tmp_path / "junk.pth"))
    with pytest.raises(CheckpointError, match="no such"):
        read_checkpoint(str(tmp_path / "missing.safetensors"))
    torch.save({"model": [1, 2]}, tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="state dict"):
        read_checkpoint(str(tmp_path / "list.pth"))


def test_original_style_training_pickle_loads_weights_only(tmp_path):
    import numpy as np

    from hodor.checkpoint.convert import is_original_state_dict

    # the original's four top-level keys, with numpy scalars in the logger state (allow-listed)
    ckpt = {
        "model": {"feature_extractor.norm_layers.0.weight": torch.ones(2), "encoder.fg_query_embed": torch.zeros(2)},
        "iterations": 5,
        "logger": {"elapsed": np.float64(1.5), "total_iterations": np.int64(3)},
        "optimizers_and_lr_schedulers": [
            ({"state": {}, "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999)}]}, [{"last_epoch": 3}])
        ],
    }
    torch.save(ckpt, tmp_path / "orig.pth")
    sd, cfg = read_checkpoint(str(tmp_path / "orig.pth"))
    assert set(sd) == set(ckpt["model"]) and cfg is None and is_original_state_dict(sd)
