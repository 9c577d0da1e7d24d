"""Builders: config -> training loader of :class:`ClipBatch`, and name -> video records for inference.

Reproducibility contract: the sampler decides (dataset, item) from (SEED, position) alone and the
augmentation of the sample at position k is drawn from ``default_rng([SEED, k, attempt])``, so the
batches do not depend on DATALOADER.NUM_WORKERS, and :meth:`TrainLoader.state_dict` /
``build_train_loader(..., start=state)`` resume the exact sequence.
"""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Iterator
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from hodor.utils import comm
from hodor.utils.logger import get_logger

from ..structures.batch import ClipBatch, ClipSample, collate_clips
from .annotation_cost import dataset_annotation_cost, total_annotation_cost
from .balance import BALANCE_SEED, Candidate, SamplePlan, image_candidates, video_candidates
from .catalog import get_dataset_spec, load_dataset
from .clips import ClipMapper, EmptyClip
from .grouping import GroupedBatchSampler
from .io import DataError
from .records import ImageRecord, VideoRecord
from .sampler import MixtureSampler, SampleKey

__all__ = [
    "DATA_KINDS",
    "DataKind",
    "ClipDataset",
    "TrainLoader",
    "build_train_loader",
    "build_video_dataset",
    "worker_init_fn",
    "filter_image_records",
    "build_sample_plan",
    "build_annotation_cost",
]

logger = get_logger(__name__)

# A planned sample (balanced list) that comes out empty is re-augmented this many times in all
# before another random item of the dataset replaces it.
PLANNED_RETRIES = 3
# Smallest automatic epoch of a sample list: a few candidates (tests, tiny data sets) must still
# give every object-count bin enough samples to form batches of similar aspect ratio.
MIN_AUTO_EPOCH = 1024

# What a training mode trains on: the ``kind`` of registered datasets (hodor.data.catalog).
DataKind = Literal["image", "video"]
DATA_KINDS: tuple[str, ...] = get_args(DataKind)


def filter_image_records(records: list[ImageRecord], min_area: float, min_dim: float) -> list[ImageRecord]:
    """Keep images with at least one non-crowd instance whose annotated area/bbox pass the size filter
    (unknown area/bbox counts as passing; the mapper re-checks on the decoded masks)."""

    def ok(a) -> bool:
        if a.iscrowd:
            return False
        if a.area >= 0 and a.area < min_area:
            return False
        return not (a.bbox is not None and (a.bbox[2] < min_dim or a.bbox[3] < min_dim))

    return [r for r in records if any(ok(a) for a in r.instances)]


class ClipDataset(Dataset):
    """Map-style dataset indexed by :class:`SampleKey`; handles re-draws and bad samples.

    A clip without usable objects (:class:`EmptyClip`) is re-drawn from another item of the same
    dataset, up to ``max_resamples`` times. A :class:`DataError` (corrupt/missing file, bad
    annotation) either propagates (``on_bad_sample="error"``) or is recorded in the sample's
    ``meta["bad_samples"]`` and another item is drawn (``"skip"``); the loader counts them.
    """

    def __init__(
        self,
        datasets: list[list[Any]],
        names: list[str],
        mapper,
        seed: int,
        delta_scales: list[float] | None = None,
        on_bad_sample: str = "error",
        max_resamples: int = 10,
        max_bad_per_sample: int = 20,
    ) -> None:
        if on_bad_sample not in ("error", "skip"):
            raise ValueError(f"DATALOADER.ON_BAD_SAMPLE must be 'error' or 'skip', got {on_bad_sample!r}")
        self.datasets, self.names, self.mapper, self.seed = datasets, names, mapper, int(seed)
        self.delta_scales = delta_scales or [1.0] * len(datasets)
        self.on_bad_sample, self.max_resamples, self.max_bad_per_sample = (
            on_bad_sample,
            max_resamples,
            max_bad_per_sample,
        )

    def __len__(self) -> int:  # nominal; the sampler is infinite
        return sum(len(d) for d in self.datasets)

    def _map(
        self,
        d: int,
        record: ImageRecord | VideoRecord,
        rng: np.random.Generator,
        ref: int = -1,
        objects: tuple[int, ...] | None = None,
    ) -> ClipSample:
        # one signature for both mappers
        return self.mapper(record, rng, self.delta_scales[d], ref=ref, objects=objects)

    def __getitem__(self, key: SampleKey) -> ClipSample:
        if torch.utils.data.get_worker_info() is not None:
            return self._get(key)  # DataLoader workers already run torch single-threaded
        # In the main process (NUM_WORKERS = 0) small per-sample ops are much slower with
        # several intra-op threads (thread wake-ups dominate); run them on one thread.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._get(key)
        finally:
            torch.set_num_threads(threads)

    def _get(self, key: SampleKey) -> ClipSample:
        position, d, idx = key.position, key.dataset, key.index
        ref, objects = key.ref, key.objects  # a planned sample: keep its frame and objects while re-trying it
        bad: list[str] = []
        redraws: list[str] = []
        attempt = 0
        while True:
            rng = np.random.default_rng([self.seed, position, attempt])
            record = self.datasets[d][idx]
            try:
                try:
                    sample = self._map(d, record, rng, ref, objects)
                except (EmptyClip, DataError):
                    raise
                except (ValueError, TypeError, KeyError, IndexError, OSError) as e:
                    # an annotation the readers did not anticipate: name the sample, not a traceback
                    raise DataError(_record_source(record), f"cannot use this sample ({type(e).__name__}: {e})") from e
                sample.meta.update(position=position, bad_samples=bad, resampled=len(redraws), redraw_reasons=redraws)
                return sample
            except EmptyClip as e:
                empty = True
                redraws.append(str(e))
                if len(redraws) > self.max_resamples:
                    raise DataError(
                        self.names[d], f"no usable clip after {self.max_resamples} re-draws; last: {e}"
                    ) from e
            except DataError as e:
                if self.on_bad_sample == "error":
                    raise
                empty = False  # a broken file: never retry the same item
                bad.append(str(e))
                if len(bad) > self.max_bad_per_sample:
                    raise DataError(self.names[d], f"{len(bad)} bad samples in a row; last: {e}") from e
            attempt += 1
            if empty and objects is not None and attempt < PLANNED_RETRIES:
                continue  # same planned sample, another augmentation (keeps its object count)
            ref, objects = -1, None
            idx = int(rng.integers(len(self.datasets[d])))


def _record_source(record: Any) -> str:
    """The file(s) an error in ``record`` should name (image/annotation file or video folder)."""
    parts = [getattr(record, a, "") for a in ("file_name", "annotation_file", "source")]
    named = ", ".join(str(p) for p in parts if p)
    vid = getattr(record, "video_id", None)
    return named or (f"video {vid}" if vid is not None else repr(record)[:200])


def worker_init_fn(worker_id: int, base_seed: int = 0, rank: int = 0) -> None:
    """Seed python/numpy/torch in a worker from (base seed, rank, worker id).

    The augmentation itself uses per-sample generators (so results do not depend on the worker
    count); this only makes any other randomness in a worker reproducible and distinct.
    """
    s = int(np.random.SeedSequence([base_seed, rank, worker_id]).generate_state(1)[0])
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


class TrainLoader:
    """Iterator of :class:`ClipBatch` (``samples_per_batch`` samples each) with exact resume
    (implements :class:`hodor.structures.ResumableLoader`, which the trainer checkpoints).

    ``state_dict()`` counts *consumed* batches (DataLoader prefetching does not matter), and is
    the same on every rank: global position = start + batches * samples_per_batch * world_size.
    """

    def __init__(
        self,
        dataset: ClipDataset,
        sampler: MixtureSampler | GroupedBatchSampler,
        samples_per_batch: int,
        num_workers: int = 0,
        size_divisibility: int = 32,
        max_bad_samples: int = 100,
        multiprocessing_context: str = "",
    ) -> None:
        self.dataset, self.index_sampler, self.samples_per_batch = dataset, sampler, int(samples_per_batch)
        self.max_bad_samples = int(max_bad_samples)
        self.start_position = sampler.start
        self.batches_consumed = 0
        self.bad_samples: list[str] = []
        self.resampled = 0
        # labels this run can use (hodor.data.annotation_cost); set by build_train_loader
        self.annotation_cost: dict[str, Any] | None = None
        if isinstance(sampler, GroupedBatchSampler):  # the sampler forms the batches
            if sampler.batch_size != self.samples_per_batch:
                raise ValueError(f"sampler batches {sampler.batch_size} samples, loader {self.samples_per_batch}")
            how: dict[str, Any] = {"batch_sampler": sampler}
        else:
            how = {"batch_size": self.samples_per_batch, "sampler": sampler}
        self.loader = DataLoader(
            dataset,
            **how,
            num_workers=num_workers,
            collate_fn=functools.partial(collate_clips, size_divisibility=size_divisibility),
            worker_init_fn=functools.partial(worker_init_fn, base_seed=sampler.seed, rank=sampler.rank),
            multiprocessing_context=multiprocessing_context or None,
            persistent_workers=False,
        )

    @property
    def position(self) -> int:
        """Global sample position after the last consumed batch (same on every rank)."""
        return self.start_position + self.batches_consumed * self.samples_per_batch * self.index_sampler.world_size

    def state_dict(self) -> dict:
        state = {
            "position": self.position,
            "seed": self.index_sampler.seed,
            "sizes": list(self.index_sampler.sizes),
            "bad_samples": len(self.bad_samples),
        }
        if isinstance(self.index_sampler, GroupedBatchSampler):
            state["batch_size"] = self.samples_per_batch
        return state

    def load_state_dict(self, state: dict) -> None:
        """Resume: the next ``iter(self)`` continues exactly after the saved position."""
        self.index_sampler.load_state_dict(state)
        self.start_position, self.batches_consumed = self.index_sampler.start, 0

    def __iter__(self) -> Iterator[ClipBatch]:
        # a new iterator continues from what was consumed so far (prefetched batches are redone)
        self.index_sampler.load_state_dict(self.state_dict())
        self.start_position, self.batches_consumed = self.index_sampler.start, 0
        for batch in self.loader:
            self.batches_consumed += 1
            for m in batch.meta:
                self.resampled += int(m.get("resampled", 0))
                for msg in m.get("bad_samples", []):
                    self.bad_samples.append(msg)
                    logger.warning("skipped bad sample (%d so far): %s", len(self.bad_samples), msg)
            if len(self.bad_samples) > self.max_bad_samples:
                raise DataError(
                    "DATALOADER.MAX_BAD_SAMPLES",
                    f"{len(self.bad_samples)} bad samples exceed the limit of {self.max_bad_samples}; "
                    f"first: {self.bad_samples[0]}",
                )
            yield batch

    def report(self) -> str:
        """One line for the end of training: bad samples skipped and clips re-drawn."""
        return f"data: {len(self.bad_samples)} bad samples skipped, {self.resampled} clips re-drawn"


def _seed(cfg) -> int:
    if cfg.SEED >= 0:
        return int(cfg.SEED)
    s = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    logger.info("SEED < 0: data seed drawn as %d", s)
    return s


def build_train_loader(
    cfg,
    mapper: ClipMapper,
    kind: DataKind,
    rank: int | None = None,
    world_size: int | None = None,
    start: int | dict = 0,
    samples_per_forward: int | None = None,
) -> TrainLoader:
    """Training loader over DATASETS.TRAIN mixed by DATASETS.TRAIN_RATIOS.

    The training mode is the caller's (``hodor.training.modes.build_train_data`` looks up
    TRAINING.MODE): data sits below training and only receives what the mode decides.

    Args:
        mapper: record -> ClipSample (its ``sparse`` flag picks the sample-list rule).
        kind: ``"image"`` or ``"video"``: every dataset of DATASETS.TRAIN must hold this kind.
        rank, world_size: this process's shard (default: from torch.distributed, else 0 / 1).
        start: number of batches this rank already consumed (int), or a
            :meth:`TrainLoader.state_dict` to resume exactly.
        samples_per_forward: samples per ClipBatch (default SOLVER.MAX_SAMPLES_PER_GPU).
    """
    rank = comm.get_rank() if rank is None else rank
    world_size = comm.get_world_size() if world_size is None else world_size
    names = list(cfg.DATASETS.TRAIN)
    if not names:
        raise ValueError("DATASETS.TRAIN is empty: name at least one registered dataset")
    ratios = list(cfg.DATASETS.TRAIN_RATIOS) or [1.0] * len(names)
    if len(ratios) != len(names):
        raise ValueError(f"DATASETS.TRAIN_RATIOS {ratios} must have one entry per DATASETS.TRAIN name {names}")
    if kind not in DATA_KINDS:
        raise ValueError(f"data kind must be one of {DATA_KINDS}, got {kind!r}")
    mode = cfg.TRAINING.MODE
    datasets, scales = [], []
    for name in names:
        spec = get_dataset_spec(name)
        if spec.kind != kind:
            raise ValueError(f"dataset {name} holds {spec.kind}s but TRAINING.MODE={mode} needs {kind}s")
        records = load_dataset(name, cfg.DATASETS.ROOT)
        if spec.kind == "image":
            n0 = len(records)
            records = filter_image_records(records, cfg.TRAINING.MIN_REF_MASK_AREA, cfg.TRAINING.MIN_REF_MASK_DIM)
            logger.info("dataset %s: %d of %d images have an instance passing the size filter", name, len(records), n0)
        else:
            records = [r for r in records if r.annotated_frames]
        if not records:
            raise DataError(name, "no usable training records (empty dataset or every item filtered out)")
        datasets.append(records)
        scales.append(spec.clip_delta_scale)
    seed = _seed(cfg)
    B = int(samples_per_forward or cfg.SOLVER.MAX_SAMPLES_PER_GPU)
    sampler: MixtureSampler | GroupedBatchSampler
    plan = None
    if cfg.DATALOADER.GROUP_BATCHES:
        plan = build_sample_plan(cfg, datasets, names, mapper, kind, ratios, B)
        sampler = GroupedBatchSampler(
            plan,
            B,
            [len(d) for d in datasets],
            max_ar_diff=cfg.DATALOADER.MAX_ASPECT_RATIO_DIFF,
            seed=seed,
            rank=rank,
            world_size=world_size,
        )
    else:
        sampler = MixtureSampler([len(d) for d in datasets], ratios, seed=seed, rank=rank, world_size=world_size)
    if isinstance(start, dict):
        sampler.load_state_dict(start)
    else:
        state = {"position": int(start) * B * world_size, "seed": seed, "sizes": sampler.sizes, "batch_size": B}
        sampler.load_state_dict(state)
    dataset = ClipDataset(
        datasets,
        names,
        mapper,
        seed,
        scales,
        on_bad_sample=cfg.DATALOADER.ON_BAD_SAMPLE,
        max_resamples=cfg.DATALOADER.MAX_RESAMPLES,
    )
    loader = TrainLoader(
        dataset,
        sampler,
        B,
        num_workers=cfg.DATALOADER.NUM_WORKERS,
        size_divisibility=cfg.INPUT.SIZE_DIVISIBILITY,
        max_bad_samples=cfg.DATALOADER.MAX_BAD_SAMPLES,
        multiprocessing_context=cfg.DATALOADER.MP_CONTEXT,
    )
    loader.annotation_cost = build_annotation_cost(cfg, datasets, names, mapper, kind, ratios, scales, plan)
    return loader


def build_annotation_cost(
    cfg,
    datasets: list[list[Any]],
    names: list[str],
    mapper: ClipMapper,
    kind: DataKind,
    ratios: list[float],
    scales: list[float],
    plan: SamplePlan | None,
) -> dict[str, Any]:
    """The run's annotation cost (hodor.data.annotation_cost) from its records and sample plan.

    With DATALOADER.GROUP_BATCHES the plan's candidates are used as they are. Without a plan,
    images are filtered from their annotations alone; for video, frame masks would have to be
    decoded to apply the size filter, so every reference frame of the configured rule counts
    (``"size_filter_checked": false`` in the entry: an upper bound, pseudo-labelled frames too).
    """
    mode = cfg.TRAINING.MODE
    t = cfg.TRAINING
    per: dict[str, dict[str, int]] = {}
    for d, (name, records) in enumerate(zip(names, datasets, strict=True)):
        if plan is not None:
            cands = plan.candidates[d]
            drawn = plan.lengths[d] > 0
        else:
            drawn = ratios[d] > 0
            if kind == "image":
                cands = image_candidates(records, t.MIN_REF_MASK_AREA, t.MIN_REF_MASK_DIM)
            else:
                cands = _unfiltered_video_candidates(records, mapper, mapper.sparse, t.SPARSE_REF_FRAME)
        per[name] = dataset_annotation_cost(
            kind, records, cands, mapper, scales[d], drawn=drawn, objects_known=plan is not None
        )
    cost = total_annotation_cost(mode, per)
    cost["size_filter_checked"] = plan is not None or kind == "image"
    return cost


def _unfiltered_video_candidates(records: list[Any], mapper, sparse: bool, sparse_ref: str) -> list[Candidate]:
    """Reference frames a planless loader can draw, without decoding masks (no size filter):
    dense, every usable reference; sparse, the rule's first frame (every annotated frame for
    "random", which the mapper draws anew for each sample)."""
    out = []
    for i, r in enumerate(records):
        refs = mapper.reference_candidates(r, np.random.default_rng([BALANCE_SEED, i]))
        if sparse and sparse_ref != "random":
            refs = refs[:1]
        out.extend(Candidate(i, int(ref), (1,), 0, 0) for ref in refs)
    return out


def shared_video_candidates(records: list[Any], mapper: ClipMapper, name: str) -> list[Candidate]:
    """``video_candidates`` of one dataset, computed once per job: under torch.distributed each
    rank decodes the masks of every ``world``-th video and the shares are gathered, so N ranks
    pay 1/N of the start-up (dense video decodes every annotated mask: ~9 min per process for
    YouTube-VOS 2019 train) instead of each decoding everything. Identical to the single-process
    list (candidates are per video and merged back in video order). A rank's bad-data error is
    raised on every rank, so none waits forever in the gather.
    """
    world = comm.get_world_size()
    if world <= 1:
        return video_candidates(records, mapper, sparse=mapper.sparse)
    rank = comm.get_rank()
    cands: list[Candidate] = []
    error: Exception | None = None
    try:
        cands = video_candidates(records, mapper, sparse=mapper.sparse, indices=range(rank, len(records), world))
    except Exception as e:  # noqa: BLE001 - every rank must reach the gather, then all raise
        error = e
    shares = comm.all_gather_object((cands, None if error is None else f"{type(error).__name__}: {error}"))
    if error is not None:
        raise error
    for r, (_, msg) in enumerate(shares):
        if msg is not None:
            raise DataError(name, f"rank {r} could not read its share of the videos: {msg}")
    merged = [c for share, _ in shares for c in share]
    merged.sort(key=lambda c: c.item)  # stable: a video's candidates keep their order
    return merged


def build_sample_plan(
    cfg,
    datasets: list[list[Any]],
    names: list[str],
    mapper: ClipMapper,
    kind: DataKind,
    ratios: list[float],
    batch_size: int,
) -> SamplePlan:
    """The per-epoch sample lists of DATASETS.TRAIN (hodor.data.balance).

    Epoch length: DATALOADER.SAMPLES_PER_EPOCH, or (0) the number of candidates of all datasets
    (images; (video, reference frame) pairs for dense video; videos for sparse video), at least
    MIN_AUTO_EPOCH, split by DATASETS.TRAIN_RATIOS. Static images and dense video are balanced over object counts unless
    DATALOADER.BALANCE_OBJECT_COUNTS is false; sparse video never is (as the original), nor is
    self-training (a sparse mapper: one reference per video, the sparse run's sample list).
    """
    t = cfg.TRAINING
    candidates = []
    for name, records in zip(names, datasets, strict=True):
        if kind == "image":
            cands = image_candidates(records, t.MIN_REF_MASK_AREA, t.MIN_REF_MASK_DIM)
        else:
            cands = shared_video_candidates(records, mapper, name)
        if not any(c.objects for c in cands):
            raise DataError(name, "no training candidate with an object passing the size filter")
        candidates.append(cands)
    total = int(cfg.DATALOADER.SAMPLES_PER_EPOCH) or max(sum(len(c) for c in candidates), MIN_AUTO_EPOCH)
    total = max(total, batch_size)
    lengths = [int(np.ceil(total * r / float(sum(ratios)))) for r in ratios]
    balance = bool(cfg.DATALOADER.BALANCE_OBJECT_COUNTS) and not mapper.sparse
    logger.info(
        "sample plan: %s samples per epoch from %s (%s)",
        lengths,
        names,
        f"balanced over 1..{t.NUM_INSTANCES} objects" if balance else "each candidate equally often",
    )
    return SamplePlan(candidates, lengths, t.NUM_INSTANCES, [balance] * len(names))


def build_video_dataset(cfg_or_root: Any, name: str) -> list[VideoRecord]:
    """Video records (frames + first-appearance masks) of a registered name, for inference.

    ``cfg_or_root`` is a config (DATASETS.ROOT is used) or a root directory string.
    """
    root = cfg_or_root.DATASETS.ROOT if hasattr(cfg_or_root, "DATASETS") else str(cfg_or_root or "")
    spec = get_dataset_spec(name)
    if spec.kind != "video":
        raise ValueError(f"dataset {name} holds images, not videos")
    return load_dataset(name, root)
