#!/usr/bin/env python3
"""Export the weights of a run or checkpoint, without optimizer state, for sharing and inference.

    python tools/export_weights.py output/quickstart/static_image out/qs_static
    python tools/export_weights.py out/run/model_0005000.pth out/run_5k [--config-file out/run/config.yaml]

Writes OUT_DIR/model.safetensors (weights only; the resolved config and the run's training
metadata, e.g. its annotation cost, also sit in its metadata)
and OUT_DIR/config.yaml. A training checkpoint (``model_final.pth``) also holds the AdamW
moments (2 more tensors per parameter), RNG and sampler state: about 3x the size. The export
loads with ``hodor.load_predictor(OUT_DIR)``, as ``MODEL.WEIGHTS OUT_DIR`` in every tool, and
with safetensors anywhere (no pickle). Before writing, the weights are loaded strictly into the
architecture of the config, so a mismatched config is an error here and not later.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("source", help="run directory (OUTPUT_DIR) or checkpoint file (.pth / .safetensors)")
    p.add_argument("out", help="output directory (model.safetensors + config.yaml)")
    p.add_argument("--config-file", default=None, help="config to use if the checkpoint carries none")
    args = p.parse_args(argv)

    from hodor.api import resolve_checkpoint
    from hodor.checkpoint import CheckpointError, load_model_weights, save_model
    from hodor.checkpoint.identity import read_training_metadata
    from hodor.config import ConfigError
    from hodor.modeling import build_model
    from hodor.modeling.parameter_count import describe_parameters

    try:
        weights, cfg = resolve_checkpoint(args.source, args.config_file)
        cfg.MODEL.WEIGHTS = ""
        cfg.freeze()
        model = build_model(cfg)
        load_model_weights(model, weights, strict=True)
    except (CheckpointError, ConfigError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # the run's training metadata (annotation cost) travels with the weights
    path = save_model(model, cfg, args.out, training_metadata=read_training_metadata(weights))
    mb = os.path.getsize(path) / 2**20
    src_mb = os.path.getsize(weights) / 2**20
    print(f"read {weights} ({src_mb:.1f} MiB)")
    print(f"wrote {path} ({mb:.1f} MiB, {describe_parameters(model)}) and {os.path.join(args.out, 'config.yaml')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
