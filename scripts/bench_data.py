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
3. ``--plan-videos``/``--plan-frames``: writes a YouTube-VOS-layout tree of real 720x1280 frames
   and index-mask PNGs (1-3 objects per video, every frame annotated) and times the dense-video
   sample plan's start-up (``video_candidates``: every annotated mask decoded once and its
   objects size-filtered), with a per-frame breakdown (PNG decode, ``load_mask`` checks, object
   ids + size filter) and the peak resident memory. The script uses only functions that older
   commits have too, so the same file measures them (``PYTHONPATH`` is not needed: copy it into
   the other checkout's scripts/ and run it there).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc

import numpy as np
import torch
from PIL import Image

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


def write_dense_tree(root: str, videos: int, frames: int, size: tuple[int, int] = (720, 1280)) -> None:
    """YouTube-VOS train layout with real JPEG frames and palette PNG masks (moving ellipses)."""
    split = os.path.join(root, "YouTube-VOS", "train")
    h, w = size
    os.makedirs(root, exist_ok=True)
    jpg = os.path.join(root, "frame.jpg")
    Image.fromarray(np.full((h, w, 3), 100, np.uint8)).save(jpg, quality=80)
    yy, xx = np.mgrid[:h, :w]
    meta = {"videos": {}}
    for v in range(videos):
        vid = f"{v:010x}"
        names = [f"{5 * i:05d}" for i in range(frames)]
        n_obj = 1 + v % 3
        for kind in ("JPEGImages", "Annotations"):
            os.makedirs(os.path.join(split, kind, vid))
        for t, name in enumerate(names):
            shutil.copyfile(jpg, os.path.join(split, "JPEGImages", vid, name + ".jpg"))
            m = np.zeros((h, w), np.uint8)
            for o in range(n_obj):
                cy, cx = h * (0.3 + 0.2 * o), w * (0.2 + 0.25 * o) + 4 * t
                m[((yy - cy) / (0.15 * h)) ** 2 + ((xx - cx) / (0.1 * w)) ** 2 <= 1] = o + 1
            png = Image.fromarray(m, "P")
            png.putpalette([0, 0, 0, 236, 95, 103, 249, 145, 87, 250, 200, 99] + [0] * (256 * 3 - 12))
            png.save(os.path.join(split, "Annotations", vid, name + ".png"))
        meta["videos"][vid] = {"objects": {str(o + 1): {"category": "cat", "frames": names} for o in range(n_obj)}}
    with open(os.path.join(split, "meta.json"), "w") as fh:
        json.dump(meta, fh)


def bench_dense_plan(root: str, videos: int, frames: int) -> dict:
    from hodor.data.balance import video_candidates
    from hodor.data.io import read_index_mask
    from hodor.training.modes import get_mode

    t0 = time.perf_counter()
    write_dense_tree(root, videos, frames)
    t_write = time.perf_counter() - t0
    cfg = load_config(None, ["DATASETS.ROOT", root, "TRAINING.MODE", "dense_video"])
    records = load_dataset("youtube_vos_2019_train", root)
    mapper = get_mode("dense_video").build_mapper(cfg)
    tracemalloc.start()
    t0 = time.perf_counter()
    cands = video_candidates(records, mapper, sparse=False)
    t_plan = time.perf_counter() - t0
    peak_plan = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # breakdown over every annotated frame: each step timed on its own
    parts = {"png_decode": 0.0, "load_mask_checks": 0.0, "ids_and_size_filter": 0.0}
    n = 0
    for r in records:
        for t in r.annotated_frames:
            a = time.perf_counter()
            read_index_mask(r.annotations[t])
            b = time.perf_counter()
            r.load_mask(t)
            c = time.perf_counter()
            mapper.qualifying_objects(r, t)
            d = time.perf_counter()
            parts["png_decode"] += b - a
            parts["load_mask_checks"] += (c - b) - (b - a)  # size and declared-id checks
            parts["ids_and_size_filter"] += (d - c) - (c - b)  # qualifying_objects loads the mask itself
            n += 1
    return {
        "videos": len(records),
        "annotated_frames": n,
        "candidates": len(cands),
        "plan_s": t_plan,
        "ms_per_frame": 1000 * t_plan / max(n, 1),
        "breakdown_ms_per_frame": {k: 1000 * v / max(n, 1) for k, v in parts.items()},
        "tree_write_s": t_write,
        "plan_peak_traced_mb": peak_plan / 2**20,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
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
    p.add_argument("--plan-videos", type=int, default=0, help="dense-video sample plan benchmark: videos (0 = skip)")
    p.add_argument("--plan-frames", type=int, default=30, help="annotated 720x1280 frames per video (default 30)")
    p.add_argument("--plan-only", action="store_true", help="run only the dense-video sample plan benchmark")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.plan_only:
        args.plan_videos = args.plan_videos or 20
    with tempfile.TemporaryDirectory() as tmp:
        if args.plan_videos:
            pl = bench_dense_plan(os.path.join(tmp, "plan"), args.plan_videos, args.plan_frames)
            br = ", ".join(f"{k} {v:.2f}" for k, v in pl["breakdown_ms_per_frame"].items())
            print(
                f"dense-video sample plan: {pl['videos']} videos, {pl['annotated_frames']} annotated 720x1280 "
                f"frames -> {pl['candidates']} candidates in {pl['plan_s']:.2f}s ({pl['ms_per_frame']:.2f} ms/frame; "
                f"per frame, ms: {br}); plan peak allocations {pl['plan_peak_traced_mb']:.1f} MB, "
                f"process peak RSS {pl['peak_rss_mb']:.0f} MB (tree written in {pl['tree_write_s']:.1f}s)"
            )
            if args.plan_only:
                return
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
