"""``launch``: run a main function as one process of a (possibly multi-GPU, multi-node) job.

Processes are started by ``torchrun`` (one per GPU; it sets RANK, WORLD_SIZE, MASTER_ADDR, ...);
``launch`` joins this process to the job's process group, runs the function and leaves the group
cleanly, so that every entry point handles single-process and distributed runs the same way::

    torchrun --nproc_per_node 8 tools/train_net.py --config-file ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch.distributed as dist

from ..utils import comm

R = TypeVar("R")


def launch(main: Callable[..., R], *args: Any, backend: str | None = None, **kwargs: Any) -> R:
    """``main(*args, **kwargs)`` in this process: distributed if started by torchrun, else alone.

    The process group (NCCL on GPUs, gloo on CPUs unless ``backend`` says otherwise) is created
    before ``main`` and destroyed after it, also when ``main`` raises.
    """
    created = not comm.is_dist() and comm.init_distributed(backend)
    try:
        return main(*args, **kwargs)
    finally:
        if created and dist.is_initialized():
            comm.synchronize()
            dist.destroy_process_group()
