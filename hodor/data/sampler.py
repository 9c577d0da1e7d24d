"""Infinite, seeded, rank-sharded training sampler with an exactly restorable position.

The sample stream is a pure function of (seed, position k):

* which dataset position k draws from is decided in blocks of ``BLOCK`` positions, each block's
  choices drawn from ``default_rng([seed, block])`` with the mixture ratios;
* the c-th draw from dataset d is ``permutation_{d, epoch}[c % n_d]`` with ``epoch = c // n_d``
  and the permutation drawn from ``default_rng([seed, d, epoch])`` - every item once per epoch.

Rank r of W takes the positions k = r, r + W, r + 2W, ... Because nothing depends on history
beyond k, the state is one integer: restoring it reproduces the uninterrupted sequence exactly,
for any number of DataLoader workers (and even for another world size).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
from torch.utils.data import Sampler

__all__ = ["SampleKey", "MixtureSampler", "BLOCK"]

BLOCK = 4096
_PERM_TAG = 7_919  # keeps the permutation streams apart from the block streams


class SampleKey(NamedTuple):
    """What the dataset receives: global position (seeds the augmentation), dataset, item index,
    and - from a planned sample list (hodor.data.balance) - the reference frame (-1 = the
    mapper chooses) and the objects to use (None = the mapper chooses)."""

    position: int
    dataset: int
    index: int
    ref: int = -1
    objects: tuple[int, ...] | None = None


class MixtureSampler(Sampler[SampleKey]):
    """Infinite stream of :class:`SampleKey` for this rank, starting at global ``start`` position."""

    def __init__(
        self,
        sizes: Sequence[int],
        ratios: Sequence[float] | None = None,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        start: int = 0,
    ) -> None:
        if not sizes or any(n <= 0 for n in sizes):
            raise ValueError(f"MixtureSampler: every dataset needs at least one item, got sizes {list(sizes)}")
        ratios = list(ratios) if ratios else [1.0] * len(sizes)
        if len(ratios) != len(sizes) or any(r < 0 for r in ratios) or sum(ratios) <= 0:
            raise ValueError(f"MixtureSampler: ratios {ratios} do not fit {len(sizes)} datasets")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.sizes = [int(n) for n in sizes]
        self.probs = np.asarray(ratios, dtype=np.float64) / float(sum(ratios))
        self.seed, self.rank, self.world_size = int(seed), int(rank), int(world_size)
        self.start = int(start)
        self._position = self.start  # global position after the last key handed out
        self._perm_cache: dict[tuple[int, int], np.ndarray] = {}
        self._block_cache: dict[int, np.ndarray] = {}

    # -- pure functions of the position ---------------------------------------------------
    def _block(self, b: int) -> np.ndarray:
        if b not in self._block_cache:
            if len(self._block_cache) > 4:
                self._block_cache.clear()
            rng = np.random.default_rng([self.seed, b])
            self._block_cache[b] = rng.choice(len(self.sizes), size=BLOCK, p=self.probs)
        return self._block_cache[b]

    def counts_before(self, k: int) -> np.ndarray:
        """How many of positions [0, k) drew from each dataset (O(k / BLOCK))."""
        counts = np.zeros(len(self.sizes), dtype=np.int64)
        full, rest = divmod(k, BLOCK)
        for b in range(full):
            counts += np.bincount(
                np.random.default_rng([self.seed, b]).choice(len(self.sizes), size=BLOCK, p=self.probs),
                minlength=len(self.sizes),
            )
        if rest:
            counts += np.bincount(self._block(full)[:rest], minlength=len(self.sizes))
        return counts

    def _item(self, d: int, c: int) -> int:
        n = self.sizes[d]
        epoch, j = divmod(c, n)
        key = (d, epoch)
        if key not in self._perm_cache:
            if len(self._perm_cache) > 2 * len(self.sizes):
                self._perm_cache.clear()
            self._perm_cache[key] = np.random.default_rng([self.seed, _PERM_TAG, d, epoch]).permutation(n)
        return int(self._perm_cache[key][j])

    def keys(self, start: int) -> Iterator[SampleKey]:
        """All ranks' keys from global position ``start`` on (used by tests and by __iter__)."""
        counts = self.counts_before(start)
        k = start
        while True:
            d = int(self._block(k // BLOCK)[k % BLOCK])
            yield SampleKey(k, d, self._item(d, int(counts[d])))
            counts[d] += 1
            k += 1

    def __iter__(self) -> Iterator[SampleKey]:
        self._position = self.start
        for key in self.keys(self.start):
            if key.position % self.world_size == self.rank:
                self._position = key.position + 1
                yield key

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Position after the last key this rank's iterator handed out (exact for this rank).

        Behind a DataLoader the iterator runs ahead (prefetching); use
        :meth:`TrainLoader.state_dict`, which counts consumed batches, there.
        """
        return {"position": self._position, "seed": self.seed, "sizes": list(self.sizes)}

    def load_state_dict(self, state: dict) -> None:
        if state.get("seed", self.seed) != self.seed or list(state.get("sizes", self.sizes)) != self.sizes:
            raise ValueError(
                f"sampler state was saved with seed {state.get('seed')} and dataset sizes {state.get('sizes')}, "
                f"but this sampler has seed {self.seed} and sizes {self.sizes}; resuming would not be exact"
            )
        self.start = self._position = int(state["position"])
