"""Distributed helpers that work under torchrun (env://) and in a plain single process."""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if is_dist() else 1


def get_rank() -> int:
    return dist.get_rank() if is_dist() else 0


def get_local_rank() -> int:
    """Rank on this node: from torchrun's LOCAL_RANK, 0 otherwise."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main_process() -> bool:
    return get_rank() == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1


def init_distributed(backend: str | None = None) -> bool:
    """Initialise the default process group from torchrun's environment, if launched by it.

    Returns True when running distributed. Multi-node works the same way: torchrun provides
    MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE, we only read them through ``env://``.
    """
    if is_dist() or not launched_by_torchrun():
        return is_dist()
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(get_local_rank())
    dist.init_process_group(backend=backend, init_method="env://")
    return True


def synchronize() -> None:
    """Barrier across all processes; a no-op in a single process."""
    if is_dist() and get_world_size() > 1:
        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """Gather a picklable object from every rank (list ordered by rank)."""
    if not is_dist() or get_world_size() == 1:
        return [obj]
    out: list[Any] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


def reduce_mean(t: torch.Tensor) -> torch.Tensor:
    """Mean of a tensor over ranks (returns the input in a single process)."""
    if not is_dist() or get_world_size() == 1:
        return t
    t = t.clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t / get_world_size()
