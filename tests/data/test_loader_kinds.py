"""``build_train_loader`` takes the mapper and the data kind from its caller (the training mode)."""

from __future__ import annotations

from itertools import islice

import pytest

from hodor.data import build_train_loader
from hodor.data.augment import AugConfig
from hodor.data.clips import ClipParams, PseudoClipMapper, VideoClipMapper


def _mapper(cfg, sparse: bool | None):
    p, a = ClipParams.from_config(cfg), AugConfig.from_config(cfg)
    return PseudoClipMapper(p, a) if sparse is None else VideoClipMapper(p, a, sparse=sparse)


def test_datasets_of_the_wrong_kind_are_refused(syn_root, small_cfg):
    cfg = small_cfg(syn_root, "static_image", ["coco_2017_train"])
    with pytest.raises(
        ValueError, match="dataset coco_2017_train holds images but TRAINING.MODE=static_image needs videos"
    ):
        build_train_loader(cfg, _mapper(cfg, False), "video")
    cfg = small_cfg(syn_root, "dense_video", ["davis_2017_train"])
    with pytest.raises(
        ValueError, match="dataset davis_2017_train holds videos but TRAINING.MODE=dense_video needs images"
    ):
        build_train_loader(cfg, _mapper(cfg, None), "image")


def test_unknown_data_kind_is_refused(syn_root, small_cfg):
    cfg = small_cfg(syn_root, "static_image", ["coco_2017_train"])
    with pytest.raises(ValueError, match=r"data kind must be one of \('image', 'video'\), got 'images'"):
        build_train_loader(cfg, _mapper(cfg, None), "images")


def test_the_mapper_given_decides_dense_or_sparse_clips(syn_root, small_cfg):
    # the config's TRAINING.MODE is not looked at for the clips: the caller's mapper decides
    cfg = small_cfg(syn_root, "dense_video", ["davis_2017_train"], "TRAINING.NUM_INSTANCES", "2")
    for sparse in (False, True):
        loader = build_train_loader(cfg, _mapper(cfg, sparse), "video", samples_per_forward=2)
        for batch in islice(loader, 2):
            valid = batch.mask_valid.tolist()
            assert all(v == [True, not sparse, not sparse] for v in valid)
