#!/usr/bin/env python3
"""Convert an original HODOR checkpoint (Ali2500/HODOR training file) to hodor's format.

    python tools/convert_checkpoint.py ORIGINAL.pth OUT_DIR [--strict]

Writes OUT_DIR/model.safetensors and OUT_DIR/config.yaml (Swin-T, original architecture);
use OUT_DIR (or its model.safetensors) as MODEL.WEIGHTS. The input is read with
torch.load(weights_only=True); a file that needs more than tensors and plain containers is
refused with a message explaining how to extract its weights.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("original", help="original HODOR checkpoint (.pth)")
    p.add_argument("out", help="output directory")
    p.add_argument("--strict", action="store_true", help="fail if any key does not map onto the model exactly")
    args = p.parse_args(argv)

    from hodor.checkpoint import CheckpointError, save_model
    from hodor.checkpoint.convert import convert_original_state_dict, load_original_state_dict, original_config
    from hodor.checkpoint.formats import match_state_dict
    from hodor.modeling import build_model
    from hodor.modeling.parameter_count import describe_parameters

    try:
        original = load_original_state_dict(args.original)
        sd, cfg = convert_original_state_dict(original), original_config()
    except (CheckpointError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    model = build_model(cfg)
    good, report = match_state_dict(model, sd, args.original)
    print(report.summary())
    # what the conversion did not carry over (derived buffers, modules the original never used)
    kept = {v.untyped_storage().data_ptr() for v in good.values()}
    dropped = [k for k, v in original.items() if v.untyped_storage().data_ptr() not in kept]
    if dropped:
        print(f"dropped {len(dropped)} of {len(original)} original tensors (not part of the model):")
        for k in dropped:
            print(f"  {k} {list(original[k].shape)}")
    print(describe_parameters(model))
    if not report.ok and args.strict:
        print("error: converted weights do not match the model exactly (--strict)", file=sys.stderr)
        return 1
    model.load_state_dict(good, strict=False)
    path = save_model(model, cfg, args.out)
    n = sum(v.numel() for v in good.values())
    print(f"wrote {path} ({len(good)} tensors, {n:,} values) and {os.path.join(args.out, 'config.yaml')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
