"""Where a process computes and at which precision: the one ``resolve_device`` and the one
precision table, shared by training, inference and the tools."""

from __future__ import annotations

import torch

from . import comm

# SOLVER.PRECISION / INFERENCE.PRECISION -> autocast dtype (None: no autocast). The names are the
# config's CHOICES for both keys.
PRECISION_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """``DEVICE`` -> a torch device for this process.

    ``auto``: this rank's GPU (``cuda:<local rank>``) if CUDA is available, else the CPU. ``cuda``
    without an index also means this rank's GPU (one GPU per process under torchrun). Asking for
    CUDA on a machine without it is a ``ValueError`` that says what to pass instead.
    """
    if name == "auto":
        return torch.device(f"cuda:{comm.get_local_rank()}") if torch.cuda.is_available() else torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"DEVICE is {name!r} but CUDA is not available on this machine; use DEVICE cpu or auto")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device(f"cuda:{comm.get_local_rank()}")
    return dev
