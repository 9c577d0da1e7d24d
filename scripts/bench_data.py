#!/usr/bin/env python
"""Data pipeline benchmarks: pseudo-clips/s per worker at COCO size, and dataset start-up time on
YouTube-VOS-sized metadata.

    python scripts/bench_data.py [--images 16] [--samples 30] [--videos 3500] [--frames 94000]

1. Writes ``--images`` synthetic 480x640 COCO-layout images, builds the static_image loader with
   the default recipe (3 frames, 300k-pixel budget) and times ``--samples`` pseudo-clips in one
   process with one torch thread - what a single DataLoader worker does.
2. Writes a YouTube-VOS-layout tree with ``--videos`` videos and ``--frames`` frames in total
   (empty placeholder files; every frame annotated, as in the train split) plus its meta.json, and
   times ``load_dataset("youtube_vos_2019_train")`` (directory listings + meta.json; no decoding).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hodor.config import load_config  # noqa: E402
from hodor.data import load_dataset  # noqa: E402
from hodor.data.synthetic import make_coco  # noqa: E402
from hodor.training.modes import build_train_data  # noqa: E402


def bench_pseudo_clips(root: str, images: int, samples: int) -> dict:
    make_coco(os.path.join(root, "coco"), num_images=images, image_size=[480, 640], max_objects=4, seed=0)
    cfg = load_config(
        None,
        [
            "DATASETS.ROOT", root, "DATASETS.TRAIN", "['coco_2017_train']", "TRAINING.MODE", "static_image",
            "DATALOADER.NUM_WORKERS", "0", "SOLVER.MAX_SAMPLES_PER_GPU", "1",
            "TRAINING.MIN_REF_MASK_AREA", "500", "TRAINING.MIN_REF_MASK_DIM", "10",
        ],
    )  # fmt: skip
    torch.set_num_threads(1)
    it = iter(build_train_data(cfg))
    for _ in range(3):  # warm-up
        next(it)
    t0 = time.perf_counter()
    for _ in range(samples):
        b = next(it)
    dt = time.perf_counter() - t0
    return {
        "pseudo_clips_per_s_per_worker": samples / dt,
        "ms_per_clip": 1000 * dt / samples,
        "clip_shape": list(b.frames.shape),
    }


def write_ytvos_tree(root: str, videos: int, frames: int) -> None:
    split = os.path.join(root, "YouTube-VOS", "train")
    meta = {"videos": {}}
    per = [frames // videos + (1 if v < frames % videos else 0) for v in range(videos)]
    for v, n in enumerate(per):
        vid = f"{v:010x}"
        names = [f"{5 * i:05d}" for i in range(n)]
        for kind, ext in (("JPEGImages", ".jpg"), ("Annotations", ".png")):
            d = os.path.join(split, kind, vid)
            os.makedirs(d)
            for name in names:
                open(os.path.join(d, name + ext), "wb").close()
        meta["videos"][vid] = {
            "objects": {str(o + 1): {"category": f"cat{(v + o) % 65}", "frames": names[o:]} for o in range(1 + v % 3)}
        }
    with open(os.path.join(split, "meta.json"), "w") as fh:
        json.dump(meta, fh)


def bench_startup(root: str, videos: int, frames: int) -> dict:
    t0 = time.perf_counter()
    write_ytvos_tree(root, videos, frames)
    t_write = time.perf_counter() - t0
    meta_file = os.path.join(root, "YouTube-VOS", "train", "meta.json")
    t0 = time.perf_counter()
    with open(meta_file) as fh:
        json.load(fh)
    t_json = time.perf_counter() - t0
    t0 = time.perf_counter()
    recs = load_dataset("youtube_vos_2019_train", root)
    t_load = time.perf_counter() - t0
    return {
        "videos": len(recs),
        "frames": sum(len(r) for r in recs),
        "annotated_frames": sum(len(r.annotations) for r in recs),
        "meta_json_mb": os.path.getsize(meta_file) / 2**20,
        "meta_json_parse_s": t_json,
        "startup_s": t_load,
        "tree_write_s": t_write,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--samples", type=int, default=30)
    p.add_argument(
        "--frames",
        type=int,
        default=94000,
        help="total number of frames over all --videos videos (default 94000, about YouTube-VOS 2019 train)",
    )
    p.add_argument("--videos", type=int, default=3500, help="number of videos (default 3500)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        res = bench_pseudo_clips(os.path.join(tmp, "img"), args.images, args.samples)
        print(f"pseudo-clips (480x640 source, 3 frames -> {res['clip_shape']}): "
              f"{res['pseudo_clips_per_s_per_worker']:.2f} clips/s per worker ({res['ms_per_clip']:.0f} ms/clip)")  # fmt: skip
        st = bench_startup(os.path.join(tmp, "vid"), args.videos, args.frames)
        print(
            f"YouTube-VOS-sized start-up: {st['videos']} videos, {st['frames']} frames, "
            f"{st['annotated_frames']} annotated; meta.json {st['meta_json_mb']:.1f} MB parsed in "
            f"{st['meta_json_parse_s']:.2f}s; load_dataset {st['startup_s']:.2f}s "
            f"(tree written in {st['tree_write_s']:.1f}s)"
        )


if __name__ == "__main__":
    main()
