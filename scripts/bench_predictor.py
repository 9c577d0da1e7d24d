#!/usr/bin/env python3
"""Speed and memory of the streaming VideoPredictor on a synthetic 480p video.

    python scripts/bench_predictor.py [--frames 50 200] [--objects 2] [--device cpu] [--precision fp32]
        [KEY VALUE ...]

(KEY VALUE overrides must follow an option other than --frames, whose list would swallow them,
e.g. ``--frames 20 --objects 2 MODEL.DECODER.DEFORM_CONV_IMPL torchvision``.)

Builds the model from the defaults (Swin-T, random init; overrides as KEY VALUE), streams a
synthetic 480x854 video with moving objects through the predictor and reports seconds per
frame (after the first, annotated frame) and resident memory. Memory is printed every 10 frames:
with the streaming predictor it stays flat as the video gets longer (only the descriptors of the
last W+1 frames are kept), whereas the original kept every frame's features (~40 MB/frame).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def rss_mb() -> float:
    """Current resident set size (VmRSS) in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_frame(t: int, h: int, w: int, num_objects: int, rng_bg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame t (RGB uint8) and its index map: num_objects discs moving over a fixed noisy background."""
    frame = rng_bg.copy()
    index = np.zeros((h, w), np.uint8)
    yy, xx = np.mgrid[:h, :w]
    for k in range(num_objects):
        cy = h * (0.3 + 0.4 * k / max(num_objects - 1, 1)) + 20 * np.sin(0.1 * t + k)
        cx = w * (0.2 + 0.6 * ((0.01 * t + 0.3 * k) % 1.0))
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 < (h / 8) ** 2
        frame[disc] = ((70 * (k + 1)) % 256, (150 + 40 * k) % 256, 200 - 50 * k)
        index[disc] = k + 1
    return frame, index


def run(model, cfg, num_frames: int, num_objects: int, device: torch.device, h: int, w: int) -> dict:
    from hodor.inference import VideoPredictor

    pred = VideoPredictor.from_config(model, cfg, device=device)
    bg = np.random.default_rng(0).integers(0, 120, (h, w, 3), dtype=np.uint8)
    times, mem = [], []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for t in range(num_frames):
        frame, index = synthetic_frame(t, h, w, num_objects, bg)
        given = {k: index == k for k in range(1, num_objects + 1)} if t == 0 else None
        t0 = time.perf_counter()
        pred.step(frame, given)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
        if (t + 1) % 10 == 0 or t + 1 == num_frames:
            gpu = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
            mem.append((t + 1, rss_mb(), peak_rss_mb(), gpu, pred.num_stored_frames()))
            print(
                f"  frame {t + 1:4d}: {np.mean(times[1:]) if len(times) > 1 else times[0]:.3f} s/frame so far, "
                f"RSS {mem[-1][1]:.0f} MiB (peak {mem[-1][2]:.0f}), GPU peak {gpu:.0f} MiB, "
                f"stored frames {mem[-1][4]}",
                flush=True,
            )
    return {"frames": num_frames, "s_per_frame": float(np.mean(times[1:])), "mem": mem}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--frames", type=int, nargs="+", default=[50, 200], help="video lengths to run (default 50 200)")
    p.add_argument("--objects", type=int, default=2)
    p.add_argument(
        "--height",
        type=int,
        default=480,
        help="height of the input frames (default 480); the network runs at the size INFERENCE.MIN_DIM / "
        "MAX_DIM give for it (printed), so set INFERENCE.MIN_DIM to benchmark another network size",
    )
    p.add_argument("--width", type=int, default=854, help="width of the input frames (default 854); see --height")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = p.parse_args(argv)

    from hodor.config import load_config
    from hodor.modeling import build_model

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(None, ["INFERENCE.PRECISION", args.precision, *args.opts])
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_model(cfg).to(device).eval()
    from hodor.inference.preprocess import resized_hw
    from hodor.modeling.parameter_count import describe_parameters

    net_h, net_w = resized_hw(args.height, args.width, cfg.INFERENCE.MIN_DIM, cfg.INFERENCE.MAX_DIM)
    print(
        f"model {cfg.MODEL.BACKBONE.NAME} ({describe_parameters(model)}, random init), device {device}, "
        f"{torch.get_num_threads()} threads, {args.precision}, {args.objects} objects, input frames "
        f"{args.height}x{args.width} -> network {net_h}x{net_w} (INFERENCE.MIN_DIM {cfg.INFERENCE.MIN_DIM} "
        f"MAX_DIM {cfg.INFERENCE.MAX_DIM}), window {cfg.INFERENCE.TEMPORAL_WINDOW}"
    )
    print(f"RSS after building the model: {rss_mb():.0f} MiB")
    summary = []
    for n in args.frames:
        print(f"video of {n} frames:")
        res = run(model, cfg, n, args.objects, device, args.height, args.width)
        summary.append(res)
    print("\nsummary:")
    for res in summary:
        last = res["mem"][-1]
        print(
            f"  {res['frames']:4d} frames: {res['s_per_frame']:.3f} s/frame, RSS at end {last[1]:.0f} MiB, "
            f"process peak RSS {last[2]:.0f} MiB" + (f", GPU peak {last[3]:.0f} MiB" if device.type == "cuda" else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
