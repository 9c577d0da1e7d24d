"""Two CPU processes (gloo) train a few steps with DDP; parameters must stay identical across ranks."""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    from hodor.engine.distributed import launch
    from hodor.engine.setup import default_setup
    from hodor.training.build import build_trainer
    from hodor.utils import comm
    from tests.helpers import ClipStream, tiny_cfg

    def train() -> None:
        assert comm.is_dist() and comm.get_world_size() == 2  # launch joined the process group
        # global batch 4 over 2 ranks = 2 accumulated forwards of 1 sample per rank (exercises no_sync)
        cfg = tiny_cfg(out, "SOLVER.MAX_ITER", "2", "SOLVER.IMS_PER_BATCH", "4", "SOLVER.CHECKPOINT_PERIOD", "100")
        default_setup(cfg)  # seeds SEED + rank: ranks start from different inits, DDP broadcasts rank 0's
        stream = ClipStream(1, size=32, seed=10 + rank)  # and see different data
        trainer = build_trainer(cfg, data=stream, progress_bar=False)
        assert isinstance(trainer.module, torch.nn.parallel.DistributedDataParallel)
        assert trainer.accum_steps == 2
        trainer.train()
        torch.save(
            {
                "params": trainer.model.state_dict(),
                "loss": trainer.storage.latest()["loss"][0],
                "batches": trainer.batches_consumed,
            },
            os.path.join(out, f"rank{rank}.pt"),
        )

    launch(train, backend="gloo")  # creates the gloo group, runs, destroys it
    assert not torch.distributed.is_initialized()


@pytest.mark.slow
def test_two_process_ddp_keeps_ranks_identical(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["batches"] == r1["batches"] == 4
    for key, value in r0["params"].items():
        assert torch.equal(value, r1["params"][key]), key
