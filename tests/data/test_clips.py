"""Pseudo-clips and video clips: shapes, ids, presence, image/mask agreement, determinism."""

from __future__ import annotations

from itertools import islice

import numpy as np
import pytest
import torch
from PIL import Image

from hodor.data import ClipBatch, ImageRecord, InstanceAnn, collate_clips
from hodor.data.augment import AugConfig
from hodor.data.clips import ClipParams, EmptyClip, PseudoClipMapper, VideoClipMapper
from hodor.data.records import VideoRecord
from hodor.training.modes import build_train_data

MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
PALETTE = np.array([[128, 128, 128], [255, 0, 0], [0, 200, 0], [0, 0, 255]], np.uint8)


def _check_batch(b: ClipBatch, B: int, T: int) -> None:
    assert len(b) == B and b.frames.shape[:3] == (B, T, 3) and b.frames.dtype == torch.float32
    H, W = b.frames.shape[-2:]
    assert H % 32 == 0 and W % 32 == 0 and b.masks.shape == (B, T, H, W) and b.masks.dtype == torch.int64
    assert b.mask_valid.shape == (B, T) and b.presence.shape[:2] == (B, T)
    for i in range(B):
        n = int(b.num_objects[i])
        h, w = b.image_sizes[i]
        assert n >= 1 and b.presence.shape[2] >= n and not b.presence[i, :, n:].any()
        assert b.masks[i].max() <= n and (b.masks[i, :, h:, :] == 0).all() and (b.frames[i, :, :, :, w:] == 0).all()
        ref_ids = set(torch.unique(b.masks[i, 0]).tolist()) - {0}
        assert ref_ids == set(range(1, n + 1)), "every object must be visible in the reference frame"
        assert b.presence[i, 0, :n].all()
        for t in range(T):
            if b.mask_valid[i, t]:
                vis = {j + 1 for j in range(n) if b.presence[i, t, j]}
                assert vis == set(torch.unique(b.masks[i, t]).tolist()) - {0}
            else:
                assert (b.masks[i, t] == 0).all() and b.presence[i, t, :n].all()
        assert len(b.meta[i]["object_ids"]) == n


@pytest.mark.parametrize(
    "mode,names",
    [
        ("static_image", ["coco_2017_train"]),
        ("dense_video", ["youtube_vos_2019_train", "davis_2017_train"]),
        ("sparse_video", ["youtube_vos_2019_train", "davis_2017_train"]),
    ],
)
def test_loader_batches(syn_root, small_cfg, mode, names):
    cfg = small_cfg(syn_root, mode, names, "TRAINING.NUM_INSTANCES", "2")
    for b in islice(build_train_data(cfg), 2):
        _check_batch(b, 2, 3)
        assert b.presence.shape[2] <= 2
        if mode == "sparse_video":
            assert b.mask_valid[:, 0].all() and not b.mask_valid[:, 1:].any()
        else:
            assert b.mask_valid.all()
        if mode != "static_image":
            for m in b.meta:
                f = m["frame_indices"]
                assert len(set(f)) == 3
                if mode == "dense_video":
                    assert f == sorted(f)


def _textured_record(tmp_path) -> ImageRecord:
    """An image whose colours encode its label map (objects overlap; later ones on top)."""
    h, w = 96, 128
    labels = np.zeros((h, w), np.uint8)
    labels[10:60, 15:70] = 1
    labels[30:90, 50:110] = 2
    labels[5:40, 90:125] = 3
    Image.fromarray(PALETTE[labels]).save(tmp_path / "tex.png")  # lossless
    insts = [InstanceAnn({"counts": None}, ann_id=i) for i in (1, 2, 3)]
    rec = ImageRecord("tex", 0, str(tmp_path / "tex.png"), h, w, insts)
    full = [(labels == 1) | (labels == 2) & False, labels == 2, labels == 3]
    full[0] = np.zeros_like(labels, bool)
    full[0][10:60, 15:70] = True  # object 1 is partly covered by object 2
    rec.load_masks = lambda instances=None: np.stack(full).astype(np.uint8)  # noqa: ARG005
    return rec


def test_pseudo_clip_image_and_mask_agree(tmp_path):
    """After the joint transform the colour of each labelled pixel still encodes its label."""
    rec = _textured_record(tmp_path)
    params = ClipParams(num_frames=3, max_objects=4, min_area=20, min_dim=3, max_image_area=96 * 128)
    mapper = PseudoClipMapper(params, AugConfig(color=False))
    recipes = set()
    for seed in range(8):
        s = mapper(rec, np.random.default_rng(seed))
        recipes.add(s.meta["recipe"])
        img = s.frames * torch.tensor(STD).view(1, 3, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1)
        ids = s.meta["object_ids"]
        for t in range(3):
            m = s.masks[t].clone()
            m[(s.frames[t] == 0).all(0)] = -2  # warped-in pixels (exactly the mean colour)
            # erode to skip interpolated borders between labels and next to warped-in pixels
            inner = m.clone()
            for dy in (-2, -1, 0, 1, 2):
                for dx in (-2, -1, 0, 1, 2):
                    inner[torch.roll(m, (dy, dx), (0, 1)) != m] = -1
            for new, orig in enumerate(ids, start=1):
                sel = inner == new
                if sel.sum() < 5:
                    continue
                col = img[t][:, sel].T
                err = (col - torch.tensor(PALETTE[orig], dtype=torch.float32)).abs().max(1).values
                assert (err < 40).float().mean() > 0.97, (seed, t, orig, s.meta)
            col = img[t][:, inner == 0].T
            assert ((col - 128).abs().max(1).values < 40).float().mean() > 0.97
    assert recipes == {"crop", "basic"}


def _assert_colours_encode_labels(s, tag) -> None:
    img = s.frames * torch.tensor(STD).view(1, 3, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1)
    for t in range(s.frames.shape[0]):
        m = s.masks[t].clone()
        m[(s.frames[t] == 0).all(0)] = -2
        inner = m.clone()
        for dy in (-2, -1, 0, 1, 2):
            for dx in (-2, -1, 0, 1, 2):
                inner[torch.roll(m, (dy, dx), (0, 1)) != m] = -1
        for new, orig in enumerate([0, *s.meta["object_ids"]]):
            sel = inner == new
            if sel.sum() >= 5:
                err = (img[t][:, sel].T - torch.tensor(PALETTE[orig], dtype=torch.float32)).abs().max(1).values
                assert (err < 40).float().mean() > 0.97, (tag, t, orig, s.meta)


def test_video_clip_image_and_mask_agree(tmp_path):
    """Dense video clips: one geometric transform for all frames keeps pixels and labels together."""
    from hodor.data.davis import load_davis_folder

    vdir, adir = tmp_path / "JPEGImages" / "v", tmp_path / "Annotations" / "v"
    vdir.mkdir(parents=True)
    adir.mkdir(parents=True)
    for f in range(4):
        lab = np.zeros((64, 96), np.uint8)
        lab[10 + 3 * f : 40 + 3 * f, 10:50] = 1
        lab[30:60, 50 + 4 * f : 85] = 2
        Image.fromarray(PALETTE[lab]).save(vdir / f"{f:05d}.png")
        Image.fromarray(lab, mode="L").save(adir / f"{f:05d}.png")
    rec = load_davis_folder(str(tmp_path))[0]
    params = ClipParams(min_area=20, min_dim=3, max_delta=3, resize_min_dim=64, resize_max_dim=128)
    kinds = set()
    for seed in range(8):
        s = VideoClipMapper(params, AugConfig(color=False), sparse=False)(rec, np.random.default_rng(seed))
        kinds.add(s.meta["geometric"])
        _assert_colours_encode_labels(s, seed)
    assert {"crop", "affine"} <= kinds


def test_invalid_pixels_are_mean_colour(tmp_path):
    rec = _textured_record(tmp_path)
    aug = AugConfig(color=False, crop_view_prob=0.0, basic_translate=0.25, basic_rotate=20.0)
    params = ClipParams(num_frames=3, min_area=20, min_dim=3, max_image_area=96 * 128)
    found = False
    for seed in range(6):
        s = PseudoClipMapper(params, aug)(rec, np.random.default_rng(seed))
        zero = (s.frames[1:] == 0).all(1)  # exactly 0 after normalisation = warped-in pixels
        found |= bool(zero.any())
        assert (s.masks[1:][zero] == 0).all()
        assert not (s.frames[0] == 0).all(0).any()  # the reference is the original image
    assert found


def test_determinism_and_worker_independence(syn_root, small_cfg):
    cfg = small_cfg(syn_root, "static_image", ["coco_2017_train"])
    a = list(islice(build_train_data(cfg), 2))
    b = list(islice(build_train_data(cfg), 2))
    cfg2 = small_cfg(syn_root, "static_image", ["coco_2017_train"], "DATALOADER.NUM_WORKERS", "2")
    c = list(islice(build_train_data(cfg2), 2))
    for x, y, z in zip(a, b, c, strict=True):
        assert torch.equal(x.frames, y.frames) and torch.equal(x.masks, y.masks)
        assert torch.equal(x.frames, z.frames) and torch.equal(x.masks, z.masks)
    cfg3 = small_cfg(syn_root, "static_image", ["coco_2017_train"], "SEED", "7")
    d = next(iter(build_train_data(cfg3)))
    assert not (d.frames.shape == a[0].frames.shape and torch.equal(d.frames, a[0].frames))


def test_resume_reproduces_uninterrupted_batches(syn_root, small_cfg):
    cfg = small_cfg(syn_root, "sparse_video", ["youtube_vos_2019_train", "davis_2017_train"])
    full = list(islice(build_train_data(cfg), 4))
    first = build_train_data(cfg)
    consumed = list(islice(first, 2))
    assert len(consumed) == 2
    state = first.state_dict()
    resumed = list(islice(build_train_data(cfg, start=state), 2))
    by_iter = list(islice(build_train_data(cfg, start=2), 2))
    trainer_style = build_train_data(cfg)  # what a trainer does: loader.load_state_dict, then iter()
    trainer_style.load_state_dict(state)
    via_sampler = list(islice(trainer_style, 1))
    via_sampler += list(islice(trainer_style, 1))  # a new iterator continues after the consumed batch
    for x, y, z, u in zip(full[2:], resumed, by_iter, via_sampler, strict=True):
        assert [m["position"] for m in x.meta] == [m["position"] for m in y.meta]
        assert torch.equal(x.frames, y.frames) and torch.equal(x.masks, y.masks) and torch.equal(x.frames, z.frames)
        assert torch.equal(x.frames, u.frames)


def _fake_video(n: int, annotated: list[int]) -> VideoRecord:
    return VideoRecord("fake", "v", [f"{i:05d}.jpg" for i in range(n)], {i: {} for i in annotated})


@pytest.mark.parametrize("how,expect", [("middle", 10), ("end", 20), ("first", 0)])
def test_sparse_reference_frame_choice(how, expect):
    mapper = VideoClipMapper(ClipParams(sparse_ref=how), AugConfig(), sparse=True)
    rec = _fake_video(21, [0, 5, 10, 15, 20])
    assert mapper._ref_order(rec, np.random.default_rng(0))[0] == expect
    others = mapper._others(rec, expect, 1.0, np.random.default_rng(0))
    assert len(others) == 2 and expect not in others
    assert all(1 <= abs(o - expect) <= 10 for o in others)
    assert abs(others[0] - expect) <= abs(others[1] - expect)
    assert len({o > expect for o in others}) == 1  # one side of the reference


def test_dense_other_frames_within_delta():
    mapper = VideoClipMapper(ClipParams(max_delta=3), AugConfig(), sparse=False)
    rec = _fake_video(40, list(range(0, 40, 5)))
    for seed in range(10):
        rng = np.random.default_rng(seed)
        ref = mapper._ref_order(rec, rng)[0]
        o = mapper._others(rec, ref, 1.0, rng)
        ann = rec.annotated_frames
        assert o == sorted(o) and all(0 < ann.index(x) - ann.index(ref) < 3 for x in o)
    with pytest.raises(EmptyClip):
        mapper._others(_fake_video(10, [0, 5]), 0, 1.0, np.random.default_rng(0))


def test_objects_lost_in_augmentation_are_dropped_and_recorded(tmp_path):
    rec = _textured_record(tmp_path)
    tiny = np.zeros((3, 96, 128), np.uint8)
    tiny[0, 10:60, 15:70] = 1
    tiny[1, 0:2, 0:2] = 1  # vanishes when resized to a small pixel budget
    tiny[2, 50:90, 80:120] = 1
    rec.load_masks = lambda instances=None: tiny  # noqa: ARG005
    params = ClipParams(num_frames=3, min_area=1, min_dim=1, max_image_area=24 * 32)
    s = PseudoClipMapper(params, AugConfig(color=False, crop_view_prob=0.0, flip_prob=0.0))(
        rec, np.random.default_rng(0)
    )
    assert s.meta["dropped_objects"] == [2] and s.meta["object_ids"] == [1, 3] and s.num_objects == 2
    tiny[0] = tiny[2] = 0
    with pytest.raises(EmptyClip):
        PseudoClipMapper(params, AugConfig(color=False, crop_view_prob=0.0))(rec, np.random.default_rng(0))


def test_collate_pads_objects_and_size():
    def sample(h, w, n):
        from hodor.data import ClipSample

        masks = torch.zeros(3, h, w, dtype=torch.int64)
        for j in range(n):
            masks[:, j, j] = j + 1
        return ClipSample(
            torch.ones(3, 3, h, w), masks, torch.ones(3, dtype=torch.bool), torch.ones(3, n, dtype=torch.bool), {}
        )

    b = collate_clips([sample(40, 70, 1), sample(33, 20, 3)])
    assert b.frames.shape == (2, 3, 3, 64, 96) and b.presence.shape == (2, 3, 3)
    assert b.num_objects.tolist() == [1, 3] and b.image_sizes == [(40, 70), (33, 20)]
    assert b.frames[0, :, :, 40:].abs().sum() == 0 and not b.presence[0, :, 1:].any()
    assert b.to("cpu").frames.data_ptr() == b.frames.data_ptr() or torch.equal(b.to("cpu").frames, b.frames)


def test_dataclass_defaults_equal_config_defaults():
    """AugConfig/ClipParams defaults (used by tests and library callers) must track defaults.py."""
    from hodor.config import get_cfg

    cfg = get_cfg()
    assert AugConfig.from_config(cfg) == AugConfig()
    assert ClipParams.from_config(cfg) == ClipParams()
