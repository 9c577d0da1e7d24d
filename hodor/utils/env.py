"""Seeding and environment reports, so every run directory says how it was produced."""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys

import numpy as np
import torch


def seed_all(seed: int) -> int:
    """Seed Python, NumPy and torch (all devices). ``seed < 0`` draws one from the OS."""
    if seed < 0:
        seed = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return seed


def git_hash(path: str | None = None) -> str:
    """Commit hash of the checkout that holds ``path`` (default: this package), or 'unknown'."""
    path = path or os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return out + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def collect_env_info() -> dict:
    """Versions of everything that changes numbers: python, torch, CUDA, devices, git."""
    import hodor

    info = {
        "hodor": hodor.__version__,
        "git": git_hash(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except Exception as exc:  # pragma: no cover - reported, not fatal
        info["torchvision"] = f"import failed: {exc}"
    try:
        import timm

        info["timm"] = timm.__version__
    except Exception as exc:  # pragma: no cover
        info["timm"] = f"import failed: {exc}"
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def format_env_info(info: dict | None = None) -> str:
    info = info or collect_env_info()
    width = max(len(k) for k in info)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in info.items())
