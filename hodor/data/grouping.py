"""Per-forward batches as the original forms them: one object count, aspect ratios within a limit.

The original (``CustomBatchSampler``) builds every per-GPU sub-batch from samples with the **same
number of objects** whose **aspect ratios h/w differ by at most 0.1**: inside each object-count
group the samples are sorted by aspect ratio and cut into batches, batches whose spread exceeds
the limit are dropped, the list is refilled with random copies of kept batches up to the
expected count (samples // batch size), and the batches are shuffled. Padding inside a batch is
then only what rounding to the size divisibility and the small aspect-ratio spread leave.

:func:`group_batches` is that rule for one epoch of a planned sample list
(:mod:`hodor.data.balance`). :class:`GroupedBatchSampler` makes it an infinite stream:

* the **global** batch sequence G_0, G_1, ... is epoch 0's batches, then epoch 1's, ...; each
  epoch's grouping is drawn from ``default_rng([seed, epoch])``, so G_g is a pure function of
  (seed, g) - it does not depend on the number of processes or DataLoader workers;
* rank r of W takes G_r, G_{r+W}, ... (per-forward batches are dealt round-robin), so for a
  fixed per-forward batch size the set of batches in every optimiser step is the same for any
  split of the global batch into processes x accumulation steps;
* the state is one integer (global batches consumed), kept in samples (``position``) like the
  plain sampler's; restoring it continues the uninterrupted stream exactly;
* sample ``k`` of batch ``g`` has global position ``g * B + k``, which seeds its augmentation.

Differences from the original, all deliberate: the order inside a count group is shuffled before
the (stable) aspect-ratio sort, so ties form different batches every epoch; surplus batches are
cut after the shuffle (the original cuts the highest object counts' last batches); the refill
draws among kept batches (the original's index range is one too long).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from hodor.utils.logger import get_logger

from .balance import PlannedSample
from .sampler import SampleKey

__all__ = ["group_batches", "GroupedBatchSampler"]

logger = get_logger(__name__)

_SHUFFLE_TAG = 104_729  # keeps the batch shuffle stream apart from the sample shuffle


def group_batches(
    samples: Sequence[PlannedSample], batch_size: int, max_ar_diff: float, rng: np.random.Generator
) -> list[list[int]]:
    """``len(samples) // batch_size`` batches (indices into ``samples``) obeying the grouping rule.

    Raises ValueError if no batch at all satisfies the aspect-ratio limit (nothing to refill from).
    """
    n, B = len(samples), int(batch_size)
    if B <= 0:
        raise ValueError(f"batch size must be > 0, got {B}")
    expected = n // B
    if expected == 0:
        raise ValueError(f"{n} samples are fewer than one batch of {B}")
    counts = np.fromiter((s.num_objects for s in samples), dtype=np.int64, count=n)
    ars = np.fromiter((s.aspect_ratio for s in samples), dtype=np.float64, count=n)
    order = rng.permutation(n)
    kept: list[np.ndarray] = []
    dropped = 0
    for c in np.unique(counts):
        idx = order[counts[order] == c]
        pad = (-len(idx)) % B
        idx = np.concatenate([idx, np.resize(idx, pad)])  # repeat the first ones (cyclically) to fill the last batch
        idx = idx[np.argsort(ars[idx], kind="stable")].reshape(-1, B)
        spread = ars[idx].max(axis=1) - ars[idx].min(axis=1)
        ok = spread <= max_ar_diff + 1e-9
        dropped += int((~ok).sum())
        kept.extend(idx[ok])
    if not kept:
        raise ValueError(
            f"no batch of {B} samples with one object count has aspect ratios within "
            f"DATALOADER.MAX_ASPECT_RATIO_DIFF={max_ar_diff}; raise the limit or lower the per-forward batch"
        )
    if len(kept) < expected:
        extra = rng.integers(0, len(kept), size=expected - len(kept))
        kept.extend(kept[int(i)] for i in extra)
    perm = np.random.default_rng(rng.integers(2**63)).permutation(len(kept))[:expected]
    return [kept[int(i)].tolist() for i in perm]


class GroupedBatchSampler(Sampler[list[SampleKey]]):
    """Infinite stream of this rank's per-forward batches (lists of :class:`SampleKey`)."""

    def __init__(
        self,
        plan: Callable[[int], list[PlannedSample]],
        batch_size: int,
        sizes: Sequence[int],
        max_ar_diff: float = 0.1,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        start: int = 0,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.plan, self.batch_size, self.max_ar_diff = plan, int(batch_size), float(max_ar_diff)
        self.sizes = [int(n) for n in sizes]
        self.seed, self.rank, self.world_size = int(seed), int(rank), int(world_size)
        self.start = int(start)  # global sample position (a multiple of batch_size)
        self._cache: dict[int, tuple[list[PlannedSample], list[list[int]]]] = {}
        self.batches_per_epoch = len(self._epoch(0)[1])

    def _epoch(self, e: int) -> tuple[list[PlannedSample], list[list[int]]]:
        if e not in self._cache:
            if len(self._cache) > 1:
                self._cache.pop(min(self._cache))
            samples = self.plan(e)
            rng = np.random.default_rng([self.seed, _SHUFFLE_TAG, e])
            self._cache[e] = (samples, group_batches(samples, self.batch_size, self.max_ar_diff, rng))
        return self._cache[e]

    def global_batch(self, g: int) -> list[SampleKey]:
        """Global batch ``g`` (every rank computes the same)."""
        e, j = divmod(g, self.batches_per_epoch)
        samples, batches = self._epoch(e)
        B = self.batch_size
        return [
            SampleKey(g * B + k, s.dataset, s.item, s.ref, s.objects)
            for k, s in enumerate(samples[i] for i in batches[j])
        ]

    def __iter__(self) -> Iterator[list[SampleKey]]:
        g = self.start // self.batch_size + self.rank
        while True:
            yield self.global_batch(g)
            g += self.world_size

    def __len__(self) -> int:  # nominal (the stream is infinite): one epoch's share
        return max(1, self.batches_per_epoch // self.world_size)

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"position": self.start, "seed": self.seed, "sizes": list(self.sizes), "batch_size": self.batch_size}

    def load_state_dict(self, state: dict) -> None:
        if state.get("seed", self.seed) != self.seed or list(state.get("sizes", self.sizes)) != self.sizes:
            raise ValueError(
                f"sampler state was saved with seed {state.get('seed')} and dataset sizes {state.get('sizes')}, "
                f"but this sampler has seed {self.seed} and sizes {self.sizes}; resuming would not be exact"
            )
        pos = int(state["position"])
        if pos % self.batch_size or state.get("batch_size", self.batch_size) != self.batch_size:
            logger.warning(
                "resuming with %d samples per forward (saved: %s): the grouped batches after the resume "
                "differ from the uninterrupted run's",
                self.batch_size,
                state.get("batch_size"),
            )
            pos = -(-pos // self.batch_size) * self.batch_size
        self.start = pos
