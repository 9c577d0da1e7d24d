"""Command-line parsing and per-run setup shared by every tool.

``default_setup`` is where a run becomes reproducible: it checks the output directory is
writable before any work starts, writes the resolved config and environment info there,
sets up rank-aware logging and seeds every RNG (SEED + rank).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence

from ..config import CfgNode, dump_config, load_config
from ..utils.comm import get_rank, is_main_process
from ..utils.env import collect_env_info, format_env_info, seed_all
from ..utils.logger import setup_logger


def default_argument_parser(description: str = "hodor") -> argparse.ArgumentParser:
    """``--config-file``, ``--resume``, ``--eval-only`` and trailing ``KEY VALUE`` overrides."""
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Trailing KEY VALUE pairs override config keys, e.g. SOLVER.BASE_LR 1e-5 OUTPUT_DIR out/run1",
    )
    parser.add_argument("--config-file", default="", metavar="FILE", help="YAML config (may use _BASE_)")
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/last_checkpoint")
    parser.add_argument("--eval-only", action="store_true", help="only evaluate MODEL.WEIGHTS")
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (it is only drawn when stderr is a terminal anyway; or set HODOR_PROGRESS=0)",
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")
    return parser


def check_writable_dir(path: str) -> None:
    """Create ``path`` and fail at once, with a clear message, if nothing can be written there."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".write_test.{os.getpid()}")
        with open(probe, "w") as fh:
            fh.write("ok")
        os.remove(probe)
    except OSError as exc:
        raise PermissionError(
            f"OUTPUT_DIR {path!r} is not writable ({exc.strerror}); pass OUTPUT_DIR <a writable dir>"
        ) from exc


def default_setup(cfg: CfgNode, args: argparse.Namespace | None = None, seed_offset_by_rank: bool = True) -> CfgNode:
    """Prepare OUTPUT_DIR (config.yaml, env.json, log.txt), logging and seeds for this process."""
    out = cfg.OUTPUT_DIR
    check_writable_dir(out)
    logger = setup_logger(out)
    env = collect_env_info()
    if is_main_process():
        dump_config(cfg, os.path.join(out, "config.yaml"))
        with open(os.path.join(out, "env.json"), "w") as fh:
            json.dump(env, fh, indent=1, default=str)
    logger.info("Environment:\n%s", format_env_info(env))
    if args is not None:
        logger.info("Command line arguments: %s", vars(args))
    seed = seed_all(cfg.SEED + (get_rank() if seed_offset_by_rank and cfg.SEED >= 0 else 0))
    logger.info("Seeded RNGs with %d; resolved config written to %s", seed, os.path.join(out, "config.yaml"))
    return cfg


def setup_from_args(args: argparse.Namespace, extra_opts: Sequence[str] = ()) -> CfgNode:
    """Load config from parsed arguments (file + overrides), freeze it, and run ``default_setup``."""
    cfg = load_config(args.config_file or None, list(args.opts) + list(extra_opts))
    return default_setup(cfg, args)
