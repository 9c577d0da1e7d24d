"""MixtureSampler: seeded, infinite, rank-sharded, ratio-respecting and exactly restorable."""

from __future__ import annotations

from itertools import islice

import numpy as np
import pytest

from hodor.data import MixtureSampler
from hodor.data.build import worker_init_fn
from hodor.data.sampler import BLOCK


def test_ratios_and_epochs():
    s = MixtureSampler([50, 7], [0.8, 0.2], seed=3)
    keys = list(islice(iter(s), 5000))
    d = np.array([k.dataset for k in keys])
    assert abs(d.mean() - 0.2) < 0.03
    first_epoch = [k.index for k in keys if k.dataset == 0][:50]
    assert sorted(first_epoch) == list(range(50))  # every item once per epoch
    assert [k.position for k in keys] == list(range(5000))


def test_resume_is_exact_across_block_boundaries():
    ref = MixtureSampler([13, 5, 40], [0.5, 0.2, 0.3], seed=11)
    full = list(islice(iter(ref), BLOCK + 300))
    s = MixtureSampler([13, 5, 40], [0.5, 0.2, 0.3], seed=11)
    it = iter(s)
    head = list(islice(it, BLOCK + 100))
    state = s.state_dict()
    resumed = MixtureSampler([13, 5, 40], [0.5, 0.2, 0.3], seed=11)
    resumed.load_state_dict(state)
    assert head + list(islice(iter(resumed), 200)) == full
    with pytest.raises(ValueError, match="seed"):
        MixtureSampler([13, 5, 40], seed=12).load_state_dict(state)


def test_rank_sharding_partitions_the_stream():
    full = list(islice(iter(MixtureSampler([9, 4], seed=5)), 300))
    shards = [list(islice(iter(MixtureSampler([9, 4], seed=5, rank=r, world_size=3)), 100)) for r in range(3)]
    merged = sorted((k for sh in shards for k in sh), key=lambda k: k.position)
    assert merged == full
    # per-rank resume
    s = MixtureSampler([9, 4], seed=5, rank=1, world_size=3)
    it = iter(s)
    list(islice(it, 10))
    r = MixtureSampler([9, 4], seed=5, rank=1, world_size=3)
    r.load_state_dict(s.state_dict())
    assert list(islice(iter(r), 5)) == shards[1][10:15]


def test_worker_seeds_differ_by_rank_and_worker():
    def draw(w, r):
        worker_init_fn(w, base_seed=1, rank=r)
        return np.random.rand()

    assert len({draw(0, 0), draw(1, 0), draw(0, 1)}) == 3 and draw(1, 0) == draw(1, 0)
