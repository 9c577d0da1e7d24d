"""Command-line parsing and per-run setup shared by every tool.

``default_setup`` is where a run becomes reproducible: it checks the output directory is
writable before any work starts, writes the resolved config and environment info there,
sets up rank-aware logging and seeds every RNG (SEED + rank).
"""

from __future__ import annotations

import argparse
import json
import logging
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
        "--overwrite",
        action="store_true",
        help="start a new run in a non-empty OUTPUT_DIR: the old run is moved aside to OUTPUT_DIR.old-<time>",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors (also HODOR_DEBUG=1)")
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
    check_writable_dir(cfg.OUTPUT_DIR)
    return write_run_files(cfg, args, seed_offset_by_rank=seed_offset_by_rank, seed=True)


def seed_process(cfg: CfgNode, seed_offset_by_rank: bool = True) -> int:
    """Seed every RNG with SEED + rank (a negative SEED draws one); returns the seed used."""
    return seed_all(cfg.SEED + (get_rank() if seed_offset_by_rank and cfg.SEED >= 0 else 0))


class RecordBuffer(logging.Handler):
    """Keeps log records emitted before the run folder may be written to, for ``write_run_files``."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def write_run_files(
    cfg: CfgNode,
    args: argparse.Namespace | None = None,
    seed_offset_by_rank: bool = True,
    seed: bool = True,
    early: RecordBuffer | None = None,
) -> CfgNode:
    """Log to OUTPUT_DIR/log.txt and write config.yaml and env.json there (``seed``: also seed RNGs).

    Training calls this only after every start-up check passed (``seed=False``, it seeded before
    building the model; ``early`` holds what was logged meanwhile, copied to log.txt first), so a
    refused start leaves the folder as it was.
    """
    out = cfg.OUTPUT_DIR
    logger = setup_logger(out)
    if early is not None:
        for handler in logger.handlers:
            if isinstance(handler, logging.FileHandler):
                for record in early.records:
                    handler.handle(record)
    env = collect_env_info()
    if is_main_process():
        dump_config(cfg, os.path.join(out, "config.yaml"))
        with open(os.path.join(out, "env.json"), "w") as fh:
            json.dump(env, fh, indent=1, default=str)
    logger.info("Environment:\n%s", format_env_info(env))
    if args is not None:
        logger.info("Command line arguments: %s", vars(args))
    if seed:
        used = seed_process(cfg, seed_offset_by_rank)
        logger.info("Seeded RNGs with %d; resolved config written to %s", used, os.path.join(out, "config.yaml"))
    else:
        logger.info("Resolved config written to %s", os.path.join(out, "config.yaml"))
    return cfg


def setup_from_args(args: argparse.Namespace, extra_opts: Sequence[str] = ()) -> CfgNode:
    """Load config from parsed arguments (file + overrides), freeze it, and run ``default_setup``."""
    cfg = load_config(args.config_file or None, list(args.opts) + list(extra_opts))
    return default_setup(cfg, args)
