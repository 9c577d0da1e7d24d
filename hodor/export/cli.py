"""``hodor-export``: write the ONNX graphs + manifest of a HODOR checkpoint.

    hodor-export --weights output/model_final.pth --out export/ [--config-file cfg.yaml] \\
        [--opset 18] [--precision fp32|fp16] [KEY VALUE ...]

The config is, in order: ``--config-file`` (+ overrides); the config stored in the checkpoint
(``Checkpointer`` files keep it under "config", exported weights in their metadata); for an
original HODOR checkpoint, the original architecture. Otherwise pass ``--config-file``.
Needs the export extra: ``pip install -c constraints.txt -e '.[export]'``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from ..utils.cli_args import parse_with_overrides
from ..utils.logger import get_logger, setup_logger
from .exporter import DEFAULT_OPSET, PRECISIONS, export_from_config, quiet_exporter_logs, require_export_deps
from .manifest import ExportError

logger = get_logger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hodor-export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Trailing KEY VALUE pairs override config keys, e.g. INFERENCE.TEMPORAL_WINDOW 7",
    )
    p.add_argument("--weights", required=True, metavar="CKPT", help="checkpoint (.pth, .safetensors or output dir)")
    p.add_argument("--config-file", default="", metavar="FILE", help="YAML config (default: the checkpoint's)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (graphs + manifest.json)")
    p.add_argument(
        "--opset",
        type=int,
        default=DEFAULT_OPSET,
        help=f"ONNX opset (>= 18 with torch's exporter; default {DEFAULT_OPSET})",
    )
    p.add_argument("--precision", choices=PRECISIONS, default="fp32", help="graph precision (default fp32)")
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parse_with_overrides(parser, argv)
    return args


def resolve_config(weights: str, config_file: str, opts: Sequence[str]):
    """The config that rebuilds the checkpoint's model (see the module docstring for the order)."""
    from ..checkpoint.formats import CheckpointError
    from ..checkpoint.loading import checkpoint_config
    from ..config import load_config
    from ..config.config import ConfigError, merge_from_list, validate

    if config_file:
        return load_config(config_file, list(opts))
    try:
        # the checkpoint's "config" entry, or the original architecture for an upstream file
        stored = checkpoint_config(weights)
        if stored is None:
            raise ExportError(
                f"{weights}: the checkpoint stores no config; pass the training config with --config-file"
            )
        cfg = stored.clone()
        cfg.defrost()
        merge_from_list(cfg, list(opts))
        validate(cfg)
    except (CheckpointError, ExportError):
        raise
    except (ConfigError, KeyError, TypeError, ValueError) as e:
        raise ExportError(
            f"{weights}: the config stored in the checkpoint cannot be rebuilt ({e}); pass --config-file"
        ) from e
    cfg.freeze()
    return cfg


def run(args: argparse.Namespace):
    require_export_deps()
    from ..checkpoint.loading import load_model_weights
    from ..modeling import build_model

    cfg = resolve_config(args.weights, args.config_file, args.opts)
    try:
        model = build_model(cfg)
    except (KeyError, ValueError, RuntimeError) as e:
        src = args.config_file or f"{args.weights} (stored config)"
        raise ExportError(f"{src}: cannot build the model from this config: {e}") from e
    load_model_weights(model, args.weights, strict=True)
    t0 = time.perf_counter()
    result = export_from_config(
        cfg, model, args.out, checkpoint_path=args.weights, opset=args.opset, precision=args.precision
    )
    total = time.perf_counter() - t0
    for name, entry in result.manifest.graphs.items():
        logger.info("%-8s %s  %.1f MB  %.1f s", name, entry.file, entry.bytes / 1e6, result.seconds[name])
    logger.info("exported in %.1f s; manifest %s", total, result.manifest_path)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (``hodor-export``); exit status 2 = bad input (the message names the file)."""
    from ..checkpoint.formats import CheckpointError
    from ..config.config import ConfigError

    args = parse_args(argv)
    setup_logger()
    quiet_exporter_logs()
    try:
        run(args)
    except (ExportError, CheckpointError, ConfigError) as e:
        logger.error("%s", e)
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
