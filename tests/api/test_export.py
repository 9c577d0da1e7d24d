"""Weights-only export (tools/export_weights.py) and the conversion report of tools/convert_checkpoint.py."""

import os
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from hodor.checkpoint.formats import CONFIG_KEY as CONFIG_METADATA_KEY

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PARITY = os.path.join(REPO, "tests", "fixtures", "hodor_parity")


def _tool(name, *args):
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, os.path.join(REPO, "tools", name), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def test_weights_only_export_round_trip(run_dir, tmp_path):
    ckpt = os.path.join(run_dir, "model_final.pth")
    res = _tool("export_weights.py", run_dir, tmp_path / "exp")
    assert res.returncode == 0, res.stderr
    out = tmp_path / "exp" / "model.safetensors"
    assert (tmp_path / "exp" / "config.yaml").is_file()
    original = torch.load(ckpt, weights_only=True)
    with safe_open(str(out), framework="pt") as f:
        keys = set(f.keys())
        assert keys == set(original["model"])  # weights only: no optimizer / rng / sampler entries
        for k in keys:
            assert torch.equal(f.get_tensor(k), original["model"][k]), k
        assert "INFERENCE" in f.metadata()[CONFIG_METADATA_KEY]
    # the AdamW moments made the training file about 3x the weights
    assert os.path.getsize(out) < 0.5 * os.path.getsize(ckpt)
    assert "M parameters" in res.stdout
    # a config of another architecture is refused before anything is written
    bad = _tool(
        "export_weights.py", ckpt, tmp_path / "bad", "--config-file", os.path.join(REPO, "configs", "Base-HODOR.yaml")
    )
    assert bad.returncode == 2 and "does not match the model" in bad.stderr and not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_convert_checkpoint_lists_dropped_tensors(tmp_path):
    """An original-layout checkpoint (the parity fixture's synthetic weights) converts and says what it dropped."""
    orig = tmp_path / "orig.pth"
    gen = subprocess.run(
        [
            sys.executable,
            os.path.join(PARITY, "make_weights.py"),
            os.path.join(PARITY, "manifest.json"),
            orig,
            "--seed",
            "1234",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert gen.returncode == 0, gen.stderr
    res = _tool("convert_checkpoint.py", orig, tmp_path / "conv")
    assert res.returncode == 0, res.stderr
    dropped = [
        line.split()[0]
        for line in res.stdout.splitlines()
        if line.startswith("  feature_extractor.") or line.startswith("  decoder.")
    ]
    # independent expectation (docs/hodor-reference.md §5): derived Swin buffers and the two unused modules
    assert sum(k.endswith("attn.relative_position_index") for k in dropped) == 12  # one per Swin block (2+2+6+2)
    assert {k for k in dropped if not k.endswith("relative_position_index")} == {
        "feature_extractor.norm_layers.4.weight",
        "feature_extractor.norm_layers.4.bias",
        "decoder.fmap_proj_4x.0.weight",
        "decoder.fmap_proj_4x.2.weight",
        "decoder.fmap_proj_4x.2.bias",
    }
    assert f"dropped {len(dropped)} of 469 original tensors" in res.stdout
    assert "42.02 M parameters" in res.stdout
