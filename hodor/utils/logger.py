"""Rank-aware logging: the main process logs to console and file, other ranks to their own file."""

from __future__ import annotations

import logging
import os
import sys

_FMT = "[%(asctime)s %(name)s %(levelname)s] %(message)s"
_DATEFMT = "%m/%d %H:%M:%S"


def setup_logger(output_dir: str | None = None, name: str = "hodor", level: int = logging.INFO) -> logging.Logger:
    """Configure the ``hodor`` logger once per process.

    Rank 0 writes to stdout and ``OUTPUT_DIR/log.txt``; rank r > 0 writes only to
    ``OUTPUT_DIR/log.txt.rank{r}`` so that multi-GPU runs do not print everything N times.
    Calling it again replaces the handlers (useful in tests and notebooks).
    """
    logger = logging.getLogger(name)
    logger.setLevel(level)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    from .comm import get_rank  # lazy: torch is only imported by processes that set up logging

    rank = get_rank()
    formatter = logging.Formatter(_FMT, datefmt=_DATEFMT)
    if rank == 0:
        console = logging.StreamHandler(stream=sys.stdout)
        console.setFormatter(formatter)
        logger.addHandler(console)
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        fname = os.path.join(output_dir, "log.txt" if rank == 0 else f"log.txt.rank{rank}")
        fh = logging.FileHandler(fname, encoding="utf-8")
        fh.setFormatter(formatter)
        logger.addHandler(fh)
    return logger


def get_logger(name: str = "hodor") -> logging.Logger:
    """Child loggers (``hodor.data`` ...) inherit the handlers set up by ``setup_logger``."""
    return logging.getLogger(name)
