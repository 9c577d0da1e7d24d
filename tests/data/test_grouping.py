"""Grouped per-forward batches and object-count balanced sample lists (the original's recipe).

Rules under test come from the original code (Ali2500/HODOR @ 45da732): ``CustomBatchSampler``
(hodor/training/batch_sampler.py) - one object count per batch, aspect ratios h/w within 0.1 - and
``create_training_samples`` (hodor/data/images/image_dataset_base.py) - equal numbers of 1..N-object
samples, busier images sub-sampled to fill the lower bins.
"""

from __future__ import annotations

from collections import Counter
from itertools import islice

import numpy as np
import pytest
import torch

from hodor.data.balance import Candidate, PlannedSample, SamplePlan, balanced_samples, uniform_samples
from hodor.data.grouping import GroupedBatchSampler, group_batches
from hodor.training.modes import build_train_data


def _candidates(n: int = 300, seed: int = 0) -> list[Candidate]:
    """Images of three orientations (with jitter) and 1..8 objects, most of them busy (COCO-like)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = [(480, 640), (640, 480), (500, 500)][i % 3]
        w = int(w * rng.uniform(0.95, 1.05))
        k = int(rng.choice([1, 2, 3, 4, 6, 8], p=[0.1, 0.1, 0.1, 0.1, 0.3, 0.3]))
        out.append(Candidate(i, -1, tuple(range(10, 10 + k)), h, w))
    return out


def _plan(n=300):
    return SamplePlan([_candidates(n)], [n], max_objects=4, balanced=[True])


def test_balanced_list_has_equal_counts_and_fills_low_bins_from_busy_images():
    cands = _candidates(300)
    by_item = {c.item: c for c in cands}
    for length in (400, 402, 1001):
        for epoch in (0, 1, 5):
            lst = balanced_samples(cands, length, 4, epoch=epoch)
            assert len(lst) == length
            counts = Counter(s.num_objects for s in lst)
            assert set(counts) == {1, 2, 3, 4} and max(counts.values()) - min(counts.values()) <= 1
            for s in lst:
                objs = by_item[s.item].objects
                assert set(s.objects) <= set(objs) and len(set(s.objects)) == s.num_objects
                # bin n draws only from images with >= n objects; exact counts keep all objects
                assert len(objs) >= s.num_objects
                if len(objs) == s.num_objects:
                    assert s.objects == objs
    # busy images fill the lower bins: some 1-object samples come from 6/8-object images
    lst = balanced_samples(cands, 1000, 4)
    assert any(len(by_item[s.item].objects) >= 6 for s in lst if s.num_objects == 1)
    # same list in every process (fixed seed), a new subset draw per epoch
    assert balanced_samples(cands, 400, 4, epoch=2) == balanced_samples(cands, 400, 4, epoch=2)
    assert balanced_samples(cands, 400, 4, epoch=2) != balanced_samples(cands, 400, 4, epoch=3)


def test_uniform_list_visits_every_candidate_equally():
    cands = _candidates(30)
    lst = uniform_samples(cands, 90, 4) + uniform_samples(cands, 90, 4, epoch=1)
    assert Counter(s.item for s in lst) == {i: 6 for i in range(30)}
    assert all(s.num_objects == min(4, len(cands[s.item].objects)) for s in lst)


def _ar(cands, key):
    c = cands[key.index]
    return c.height / c.width


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
def test_grouping_rules_hold_for_every_batch_and_world_size(world_size):
    cands = _candidates(300)
    plan = SamplePlan([cands], [300], max_objects=4, balanced=[True])
    B = 2 if world_size > 2 else 4
    ranks = [GroupedBatchSampler(plan, B, [300], 0.1, seed=3, rank=r, world_size=world_size) for r in range(world_size)]
    n = 400 // world_size  # > 2 epochs in total
    shards = [list(islice(iter(s), n)) for s in ranks]
    for shard in shards:
        for keys in shard:
            assert len(keys) == B
            assert len({len(k.objects) for k in keys}) == 1  # one object count per forward
            ars = [_ar(cands, k) for k in keys]
            assert max(ars) - min(ars) <= 0.1 + 1e-9  # aspect-ratio spread within the limit
    # rank r holds global batches r, r+W, ...: the same global stream for every world size
    single = GroupedBatchSampler(plan, B, [300], 0.1, seed=3)
    for r, shard in enumerate(shards):
        for i, keys in enumerate(shard[:20]):
            assert keys == single.global_batch(r + i * world_size)
    # positions (which seed the augmentation) are unique and dense
    pos = sorted(k.position for sh in shards for keys in sh for k in keys)
    assert pos == list(range(len(pos)))


def test_group_batches_drops_and_refills_like_the_original():
    # two aspect ratios 0.5 apart and one object count: batches straddling the jump are dropped
    # and replaced by copies of kept batches; the count stays len // B
    samples = [PlannedSample(0, i, -1, (1,), 100, 100 if i % 3 else 200) for i in range(30)]
    batches = group_batches(samples, 4, 0.1, np.random.default_rng(0))
    assert len(batches) == 30 // 4
    for b in batches:
        assert len({samples[i].aspect_ratio for i in b}) == 1
    # a count group smaller than the batch is filled with repeats of its samples
    few = [PlannedSample(0, 0, -1, (1, 2), 100, 100)] + samples[:7]
    batches = group_batches(few, 4, 0.1, np.random.default_rng(1))
    assert len(batches) == 2 and all(len({few[i].num_objects for i in b}) == 1 for b in batches)
    with pytest.raises(ValueError, match="MAX_ASPECT_RATIO_DIFF"):  # 1.0 and 0.5: nothing to keep
        group_batches([samples[0], samples[1]], 2, 0.1, np.random.default_rng(0))


def test_resume_after_k_batches_continues_the_same_stream():
    plan = _plan()
    for world_size in (1, 3):
        for rank in range(world_size):
            ref = list(islice(iter(GroupedBatchSampler(plan, 2, [300], seed=9, rank=rank, world_size=world_size)), 250))
            for k in (0, 7, 149, 200):  # 149/150 batches: across an epoch boundary for W=1
                s = GroupedBatchSampler(plan, 2, [300], seed=9, rank=rank, world_size=world_size)
                s.load_state_dict({"position": k * 2 * world_size, "seed": 9, "sizes": [300], "batch_size": 2})
                assert list(islice(iter(s), 250 - k)) == ref[k:]
    with pytest.raises(ValueError, match="seed"):
        GroupedBatchSampler(plan, 2, [300], seed=9).load_state_dict({"position": 0, "seed": 8, "sizes": [300]})


def test_loader_batches_are_grouped_resumable_and_worker_independent(syn_root, small_cfg):
    cfg = small_cfg(syn_root, "static_image", ["coco_2017_train"], "TRAINING.NUM_INSTANCES", "4")
    loader = build_train_data(cfg, rank=0, world_size=1, samples_per_forward=2)
    it = iter(loader)
    head = [next(it) for _ in range(3)]
    state = loader.state_dict()
    tail = [next(it) for _ in range(3)]
    for b in head + tail:
        assert len(set(b.num_objects.tolist())) == 1
        ars = [h / w for h, w in b.image_sizes]
        assert max(ars) - min(ars) <= 0.1 + 0.02  # original sizes within 0.1; resize rounding adds < 0.02
    resumed = iter(build_train_data(cfg, rank=0, world_size=1, samples_per_forward=2, start=state))
    for b in tail:
        r = next(resumed)
        assert torch.equal(r.frames, b.frames) and torch.equal(r.masks, b.masks)
    # the trainer's path: a fresh loader, then load_state_dict (Trainer.resume), then iter
    fresh = build_train_data(cfg, rank=0, world_size=1, samples_per_forward=2)
    fresh.load_state_dict(state)
    for b, r in zip(tail, fresh):
        assert torch.equal(r.frames, b.frames) and torch.equal(r.masks, b.masks)
    # the same batches with two DataLoader workers
    cfg2 = small_cfg(syn_root, "static_image", ["coco_2017_train"], "TRAINING.NUM_INSTANCES", "4",
                     "DATALOADER.NUM_WORKERS", "2")  # fmt: skip
    for a, b in zip(islice(build_train_data(cfg2, rank=0, world_size=1, samples_per_forward=2), 3), head):
        assert torch.equal(a.frames, b.frames) and a.meta[0]["image_id"] == b.meta[0]["image_id"]


def test_balance_switch_off_keeps_busy_images_busy(syn_root, small_cfg):
    on = small_cfg(syn_root, "static_image", ["coco_2017_train"], "TRAINING.NUM_INSTANCES", "4")
    off = small_cfg(syn_root, "static_image", ["coco_2017_train"], "TRAINING.NUM_INSTANCES", "4",
                    "DATALOADER.BALANCE_OBJECT_COUNTS", "False")  # fmt: skip
    plans = {}
    for name, cfg in (("on", on), ("off", off)):
        loader = build_train_data(cfg, rank=0, world_size=1, samples_per_forward=2)
        plans[name] = Counter(s.num_objects for s in loader.index_sampler.plan(0))
    assert max(plans["on"].values()) - min(plans["on"].values()) <= 1
    assert plans["off"][4] > 2 * plans["off"][1]  # tiny COCO: 3 of 6 images have >= 4 objects


def test_dense_video_is_balanced_and_sparse_video_is_not(syn_root, small_cfg):
    """Dense video: (video, annotated reference frame) candidates balanced like COCO (the original's
    create_training_subsequences); sparse: one reference frame per video, each video equally often."""
    dense = small_cfg(syn_root, "dense_video", ["youtube_vos_2019_train"], "TRAINING.NUM_INSTANCES", "2")
    loader = build_train_data(dense, rank=0, world_size=1, samples_per_forward=2)
    plan = loader.index_sampler.plan(0)
    counts = Counter(s.num_objects for s in plan)
    assert set(counts) == {1, 2} and abs(counts[1] - counts[2]) <= 1
    assert all(s.ref >= 0 for s in plan) and len({s.item for s in plan}) == 2  # both tiny videos
    for b in islice(loader, 3):
        assert len(set(b.num_objects.tolist())) == 1
    sparse = small_cfg(syn_root, "sparse_video", ["youtube_vos_2019_train"], "TRAINING.NUM_INSTANCES", "4")
    plan = build_train_data(sparse, rank=0, world_size=1, samples_per_forward=2).index_sampler.plan(0)
    per_video = Counter(s.item for s in plan)
    assert max(per_video.values()) - min(per_video.values()) <= 1
    assert all(len({s.ref for s in plan if s.item == v}) == 1 for v in per_video)  # one reference frame each
