"""Encoder and decoder: original parameter layout, shapes, object equivariance, invalid masks,
position embedding, training-mode quirks. Tiny widths keep the deformable conv cheap."""

import json
import math
import os

import pytest
import torch

from hodor.config import get_cfg
from hodor.modeling.decoder import HodorDecoder
from hodor.modeling.encoder import HodorEncoder
from hodor.modeling.hodor_model import build_decoder, build_encoder
from hodor.modeling.position_encoding import sine_position_embedding

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "hodor_parity", "manifest.json")


def _tiny(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    enc = HodorEncoder(dim=32, num_layers=2, num_heads=4, ffn_dim=64, dropout=dropout, num_bg=4)
    dec = HodorDecoder(dim=32, num_layers=2, num_heads=4, ffn_dim=32, dropout=dropout, reduce_dim=8)
    return enc.eval(), dec.eval()


def _decode(enc, dec, fg, bg, f4, f8, fi=None, bi=None):
    return dec(fg, bg, f4, f8, enc.fg_query_embed, enc.bg_query_embed, fi, bi)


def test_parameter_layout_matches_original_manifest():
    with open(FIXTURE) as fh:
        manifest = {e["key"]: e["shape"] for e in json.load(fh)["state_dict"]}
    cfg = get_cfg()
    for prefix, module in (("encoder.", build_encoder(cfg)), ("decoder.", build_decoder(cfg))):
        ours = {prefix + k: list(v.shape) for k, v in module.state_dict().items()}
        theirs = {k: v for k, v in manifest.items() if k.startswith(prefix) and "fmap_proj_4x" not in k}
        assert ours == theirs
        n = sum(p.numel() for p in module.parameters())
        assert n == (5_269_800 if prefix == "encoder." else 6_501_978)


def test_encoder_shapes_and_object_equivariance():
    enc, _ = _tiny()
    f8 = torch.randn(2, 32, 6, 8)
    fg = torch.rand(2, 3, 6, 8)
    bg = torch.rand(2, 4, 6, 8)
    fgd, bgd = enc(f8, fg, bg)
    assert fgd.shape == (2, 3, 32) and bgd.shape == (2, 4, 32)
    perm = torch.tensor([2, 0, 1])
    fgd_p, bgd_p = enc(f8, fg[:, perm], bg)
    torch.testing.assert_close(fgd_p, fgd[:, perm], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(bgd_p, bgd, atol=1e-5, rtol=1e-5)
    # the masks matter
    assert (enc(f8, torch.rand(2, 3, 6, 8), bg)[0] - fgd).abs().max() > 1e-3
    with pytest.raises(ValueError, match="background masks"):
        enc(f8, fg, bg[:, :3])


def test_encoder_gradient_reaches_masks_features_and_scales():
    enc, _ = _tiny()
    f8 = torch.randn(1, 32, 4, 4, requires_grad=True)
    fg = torch.rand(1, 2, 4, 4, requires_grad=True)
    bg = torch.rand(1, 4, 4, 4, requires_grad=True)
    fgd, bgd = enc(f8, fg, bg)
    (fgd.sum() + bgd.pow(2).sum()).backward()
    for t in (f8, fg, bg, enc.attn_layers[0].cross_attn.scaling_factors, enc.fg_query_embed, enc.bg_query_embed):
        assert t.grad is not None and t.grad.abs().max() > 0


def test_decoder_shapes_invalid_masks_and_slot_max():
    enc, dec = _tiny()
    torch.manual_seed(1)
    f4, f8 = torch.randn(1, 32, 8, 12), torch.randn(1, 32, 4, 6)
    fg, bg = torch.randn(1, 2, 3, 32), torch.randn(1, 4, 3, 32)
    out = _decode(enc, dec, fg, bg, f4, f8)
    assert out.shape == (1, 1 + 4 + 2, 8, 12) and torch.isfinite(out).all()
    # marking a slot invalid equals dropping it
    fi = torch.zeros(1, 2, 3, dtype=torch.bool)
    bi = torch.zeros(1, 4, 3, dtype=torch.bool)
    fi[:, :, 2] = True
    bi[:, :, 2] = True
    torch.testing.assert_close(
        _decode(enc, dec, fg, bg, f4, f8, fi, bi),
        _decode(enc, dec, fg[:, :, :2], bg[:, :, :2], f4, f8),
        atol=1e-5,
        rtol=1e-5,
    )
    # per-object invalid slot: only changes attention and that object's max; the values of
    # an invalid entry do not matter
    fi2 = torch.zeros(1, 2, 3, dtype=torch.bool)
    fi2[0, 1, 1] = True
    fg_garbage = fg.clone()
    fg_garbage[0, 1, 1] = 1e3
    a = _decode(enc, dec, fg, bg, f4, f8, fi2, None)
    b = _decode(enc, dec, fg_garbage, bg, f4, f8, fi2, None)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert (a - out).abs().max() > 1e-4


def test_decoder_object_equivariance_and_single_slot_logit_formula():
    enc, dec = _tiny()
    torch.manual_seed(2)
    f4, f8 = torch.randn(1, 32, 8, 8), torch.randn(1, 32, 4, 4)
    fg, bg = torch.randn(1, 3, 1, 32), torch.randn(1, 4, 1, 32)
    out = _decode(enc, dec, fg, bg, f4, f8)
    perm = torch.tensor([1, 2, 0])
    out_p = _decode(enc, dec, fg[:, perm], bg, f4, f8)
    torch.testing.assert_close(out_p[:, 5:], out[:, 5:][:, perm], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out_p[:, :5], out[:, :5], atol=1e-5, rtol=1e-5)


def test_decoder_training_mode_dropout_on_logits_keeps_invalid_excluded():
    torch.manual_seed(3)
    dec = HodorDecoder(dim=16, num_layers=1, num_heads=2, ffn_dim=16, dropout=0.5, reduce_dim=8).train()
    attn = dec.attn_layers[0].cross_attn
    q, k, v = torch.randn(1, 5, 16), torch.randn(1, 4, 16), torch.randn(1, 4, 16)
    invalid = torch.tensor([[False, True, False, True]])
    v_bad = v.clone()
    v_bad[0, 1] = 1e4
    v_bad[0, 3] = -1e4
    torch.manual_seed(0)
    a = attn(q, k, v, invalid)
    torch.manual_seed(0)
    b = attn(q, k, v_bad, invalid)
    torch.testing.assert_close(a, b)  # invalid values never leak in, even with dropout
    attn.eval()
    torch.testing.assert_close(attn(q, k, v, invalid), attn(q, k, v, invalid))


def test_decoder_gradients_flow_to_descriptors_and_features():
    enc, dec = _tiny()
    dec.train()
    f4 = torch.randn(1, 32, 8, 8, requires_grad=True)
    f8 = torch.randn(1, 32, 4, 4, requires_grad=True)
    fg = torch.randn(1, 2, 2, 32, requires_grad=True)
    bg = torch.randn(1, 4, 2, 32, requires_grad=True)
    _decode(enc, dec, fg, bg, f4, f8).logsumexp(1).mean().backward()
    for t in (f4, f8, fg, bg, enc.fg_query_embed, dec.attn_layers[0].self_attn_conv_substitute[0].conv_offsets.bias):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().max() > 0


def test_sine_position_embedding_values():
    pos = sine_position_embedding(3, 4, num_pos_feats=8)
    assert pos.shape == (16, 3, 4)
    scale = 2 * math.pi
    y = 2 / (3 + 1e-6) * scale  # row 1 (1-based 2)
    x = 3 / (4 + 1e-6) * scale  # col 2
    # feature i of the y part: sin for even, cos for odd, divisor 10000^(2*floor(i/2)/8)
    for i in range(8):
        d = 10000 ** (2 * (i // 2) / 8)
        f = math.sin if i % 2 == 0 else math.cos
        assert pos[i, 1, 2].item() == pytest.approx(f(y / d), abs=1e-5)
        assert pos[8 + i, 1, 2].item() == pytest.approx(f(x / d), abs=1e-5)


def test_decoder_rejects_misshaped_invalid_mask():
    enc, dec = _tiny()
    fg, bg = torch.randn(1, 2, 2, 32), torch.randn(1, 4, 2, 32)
    with pytest.raises(ValueError, match="fg_invalid"):
        _decode(
            enc, dec, fg, bg, torch.randn(1, 32, 8, 8), torch.randn(1, 32, 4, 4), torch.zeros(1, 2, 3, dtype=torch.bool)
        )


def test_layers_start_identical_by_default_as_the_original():
    """The original deep-copies one EncoderLayer / DecoderLayer n_layers times (its
    modelling/encoder/encoder.py and decoder/decoder.py), so all layers are equal at step 0."""
    from hodor.config import load_config
    from hodor.modeling import build_decoder, build_encoder

    def layer_states(mod):
        return [mod.attn_layers[i].state_dict() for i in range(len(mod.attn_layers))]

    for opts, equal in (
        ([], True),
        (["MODEL.ENCODER.CLONE_LAYER_INIT", "False", "MODEL.DECODER.CLONE_LAYER_INIT", "False"], False),
    ):
        cfg = load_config(
            None, ["MODEL.HIDDEN_DIM", "64", "MODEL.ENCODER.FFN_DIM", "64", "MODEL.DECODER.FFN_DIM", "64", *opts]
        )
        torch.manual_seed(0)
        for mod in (build_encoder(cfg), build_decoder(cfg)):
            states = layer_states(mod)
            assert len(states) == 5
            for st in states[1:]:
                same = all(torch.equal(st[k], states[0][k]) for k in st)
                assert same == equal
            # copies, not shared modules: one layer's update must not move another
            with torch.no_grad():
                next(mod.attn_layers[0].parameters()).add_(1.0)
            assert not torch.equal(next(mod.attn_layers[0].parameters()), next(mod.attn_layers[1].parameters()))
