"""Synthetic videos in the on-disk layouts of VOST, MOSE and SA-V (see datasets/README.md).

Same scenes as the DAVIS/YouTube-VOS generators (``synthetic_scenes``), written so that the
readers and evaluators of these benchmarks run end to end on real files in the tests.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Sequence

import numpy as np
from PIL import Image

from ..utils.palette import save_index_png
from .synthetic import _save_jpg, _size
from .synthetic_scenes import render_video, sample_video_scene

__all__ = ["make_vost", "make_mose", "make_sav", "make_lvos"]

SAV_ANNOTATION_STRIDE = 4  # 24 fps frames, 6 fps annotations
_CODE = {"vost": 4, "mose1": 5, "sav": 6, "mose2": 7, "lvos": 8}  # continues synthetic._LAYOUT_CODE


def _videos(layout: str, split: str, n: int, num_frames: int, image_size: Sequence[int], max_objects: int, seed: int):
    h, w = _size(image_size, max_objects, num_frames)
    for i in range(n):
        rng = np.random.default_rng([seed, _CODE[layout], zlib.crc32(split.encode()), i])
        frames, labels = render_video(sample_video_scene(rng, h, w, num_frames, max_objects), rng)
        yield f"synth-{layout}-{split}-{i:03d}", frames, labels


def _write_davis_like(img_root: str, ann_root: str, name: str, frames: np.ndarray, labels: np.ndarray, ann_stride=1):
    for t in range(len(frames)):
        _save_jpg(os.path.join(img_root, name, f"{t:05d}.jpg"), frames[t])
        if t % ann_stride == 0:
            save_index_png(os.path.join(ann_root, name, f"{t:05d}.png"), labels[t])


def make_vost(
    root: str,
    splits: dict[str, int] | None = None,
    num_frames: int = 8,
    image_size=(64, 96),
    max_objects: int = 2,
    seed: int = 0,
) -> list[str]:
    """``root/{JPEGImages,Annotations}/<video>/%05d.{jpg,png}``, ``root/ImageSets/<split>.txt``."""
    names = []
    for split, n in (splits or {"val": 2}).items():
        os.makedirs(os.path.join(root, "ImageSets"), exist_ok=True)
        vids = []
        for name, frames, labels in _videos("vost", split, n, num_frames, image_size, max_objects, seed):
            os.makedirs(os.path.join(root, "JPEGImages", name), exist_ok=True)
            os.makedirs(os.path.join(root, "Annotations", name), exist_ok=True)
            _write_davis_like(os.path.join(root, "JPEGImages"), os.path.join(root, "Annotations"), name, frames, labels)
            vids.append(name)
        with open(os.path.join(root, "ImageSets", f"{split}.txt"), "w", encoding="utf-8") as f:
            f.write("".join(v + "\n" for v in vids))
        names += vids
    return names


def make_mose(
    root: str,
    num_videos: int = 2,
    num_frames: int = 8,
    image_size=(64, 96),
    max_objects: int = 2,
    seed: int = 0,
    version: int = 1,
) -> list[str]:
    """``root/train/{JPEGImages,Annotations}/<video>/`` (every frame annotated) and
    ``root/valid/...`` (first-frame masks only): the MOSEv1 layout; ``version=2`` adds each split's
    ``meta.json`` (``{"videos": {vid: {"length", "height", "width", "objects": {"1": {}, ...}}}}``)."""
    names = []
    for split in ("train", "valid"):
        base = os.path.join(root, split)
        meta: dict = {"videos": {}}
        for name, frames, labels in _videos(
            f"mose{version}", split, num_videos, num_frames, image_size, max_objects, seed
        ):
            for kind in ("JPEGImages", "Annotations"):
                os.makedirs(os.path.join(base, kind, name), exist_ok=True)
            stride = 1 if split == "train" else len(frames)
            _write_davis_like(
                os.path.join(base, "JPEGImages"), os.path.join(base, "Annotations"), name, frames, labels, stride
            )
            ids = sorted(int(k) for k in np.unique(labels) if k not in (0, 255))
            meta["videos"][name] = {
                "length": len(frames) if split == "train" else 1,
                "height": int(frames.shape[1]),
                "width": int(frames.shape[2]),
                "objects": {str(k): {} for k in ids},
            }
            names.append(name)
        if version == 2:
            with open(os.path.join(base, "meta.json"), "w", encoding="utf-8") as f:
                json.dump(meta, f, indent=1)
    return names


def make_sav(
    root: str,
    split: str = "val",
    num_videos: int = 2,
    num_frames: int = 13,
    image_size=(64, 96),
    max_objects: int = 2,
    seed: int = 0,
) -> list[str]:
    """``root/JPEGImages_24fps/<video>/%05d.jpg`` (all frames), ``root/Annotations_6fps/<video>/
    <object:03d>/%05d.png`` (0/255 binary masks on every 4th frame), ``root/sav_<split>.txt``."""
    vids = []
    for name, frames, labels in _videos("sav", split, num_videos, num_frames, image_size, max_objects, seed):
        os.makedirs(os.path.join(root, "JPEGImages_24fps", name), exist_ok=True)
        for t in range(len(frames)):
            _save_jpg(os.path.join(root, "JPEGImages_24fps", name, f"{t:05d}.jpg"), frames[t])
        ids = sorted(int(k) for k in np.unique(labels[0]) if k not in (0, 255))
        for k in ids:
            odir = os.path.join(root, "Annotations_6fps", name, f"{k:03d}")
            os.makedirs(odir, exist_ok=True)
            for t in range(0, len(frames), SAV_ANNOTATION_STRIDE):
                Image.fromarray(((labels[t] == k) * 255).astype(np.uint8), mode="L").save(
                    os.path.join(odir, f"{t:05d}.png")
                )
        vids.append(name)
    with open(os.path.join(root, f"sav_{split}.txt"), "w", encoding="utf-8") as f:
        f.write("".join(v + "\n" for v in vids))
    return vids


def make_lvos(
    root: str,
    split: str = "valid",
    num_videos: int = 2,
    num_frames: int = 21,
    image_size=(64, 96),
    max_objects: int = 2,
    seed: int = 0,
    unseen: Sequence[str] = (),
) -> list[str]:
    """``root/{JPEGImages,Annotations}/<video>/%08d.{jpg,png}`` (annotations on every 5th frame;
    objects may start late), ``root/<split>_meta.json`` with each object's frame_range (start: first
    annotated frame showing it, end: the last annotated frame), and ``unseen_videos.txt``."""
    from .synthetic_scenes import render_video, sample_video_scene

    h, w = _size(image_size, max_objects, num_frames)
    meta: dict = {"videos": {}}
    vids = []
    annotated = list(range(0, num_frames, 5))
    for i in range(num_videos):
        rng = np.random.default_rng([seed, _CODE["lvos"], zlib.crc32(split.encode()), i])
        name = f"synth-lvos-{split}-{i:03d}"
        scene = sample_video_scene(rng, h, w, num_frames, max_objects, late_start_stride=5)
        frames, labels = render_video(scene, rng)
        for kind in ("JPEGImages", "Annotations"):
            os.makedirs(os.path.join(root, kind, name), exist_ok=True)
        for t in range(num_frames):
            _save_jpg(os.path.join(root, "JPEGImages", name, f"{t:08d}.jpg"), frames[t])
        for t in annotated:
            save_index_png(os.path.join(root, "Annotations", name, f"{t:08d}.png"), labels[t])
        objects = {}
        for k in sorted(int(x) for x in np.unique(labels[annotated]) if x not in (0, 255)):
            shown = [t for t in annotated if (labels[t] == k).any()]
            start, end = shown[0], annotated[-1]
            objects[str(k)] = {"frame_range": {"start": start, "end": end, "frame_nums": (end - start) // 5 + 1}}
        meta["videos"][name] = {"objects": objects}
        vids.append(name)
    with open(os.path.join(root, f"{split}_meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    with open(os.path.join(root, "unseen_videos.txt"), "w", encoding="utf-8") as f:
        f.write("".join(v + "\n" for v in unseen))
    return vids
