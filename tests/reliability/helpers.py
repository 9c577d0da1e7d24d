"""Shared pieces of the reliability tests: the tiny training command and folder snapshots."""

from __future__ import annotations

import hashlib
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_STATIC = os.path.join(REPO, "configs", "quick_schedules", "static_image_tiny.yaml")


def train_args(data_root, output_dir, *opts: str, resume: bool = False, overwrite: bool = False) -> list[str]:
    """Arguments of tools/train_net.py for the tiny static-image run (1 image per step, a checkpoint
    after every step, the newest one kept)."""
    flags = (["--resume"] if resume else []) + (["--overwrite"] if overwrite else [])
    return [
        *flags,
        "--config-file",
        TINY_STATIC,
        "DATASETS.ROOT",
        str(data_root),
        "OUTPUT_DIR",
        str(output_dir),
        "SOLVER.IMS_PER_BATCH",
        "1",
        "SOLVER.CHECKPOINT_PERIOD",
        "1",
        "SOLVER.CHECKPOINT_KEEP",
        "1",
        "SOLVER.IMAGE_LOG_PERIOD",
        "0",
        *opts,
    ]


def train_cmd(data_root, output_dir, *opts: str, resume: bool = False, overwrite: bool = False) -> list[str]:
    script = os.path.join(REPO, "tools", "train_net.py")
    return [sys.executable, script, *train_args(data_root, output_dir, *opts, resume=resume, overwrite=overwrite)]


def snapshot(folder) -> dict[str, tuple[int, int, str]]:
    """{relative path: (size, mtime_ns, sha1)} of every file under ``folder`` (to prove nothing changed)."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            h = hashlib.sha1()
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            st = os.stat(path)
            out[os.path.relpath(path, folder)] = (st.st_size, st.st_mtime_ns, h.hexdigest())
    return out
