#!/usr/bin/env python
"""Benchmarks of hodor's main workloads; one subcommand each.

    python tools/benchmark.py train --config-file configs/static_image/coco_swin_t.yaml
    python tools/benchmark.py train --config-file configs/video/sparse_swin_t.yaml --height 576 --width 1024
    python tools/benchmark.py train --device cuda --precision bf16 --samples 2

``train`` times full training steps (forward through the regime's cycles, loss, backward and
AdamW step) of the configured model on random clips of the given size, and reports the median
step time, throughput and peak memory (CUDA: max allocated; CPU: peak resident set size of the
process). Trailing KEY VALUE pairs override config keys. New subcommands register themselves in
``SUBCOMMANDS`` with an argument-adding function and a runner.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux reports KiB


def random_clip(samples: int, frames: int, height: int, width: int, objects: int, div: int, seed: int = 0):
    """A ClipBatch of noise frames with ``objects`` moving rectangles, padded to a multiple of ``div``."""
    from hodor.structures.batch import ClipBatch

    g = torch.Generator().manual_seed(seed)
    H, W = -(-height // div) * div, -(-width // div) * div
    x = torch.zeros(samples, frames, 3, H, W)
    x[..., :height, :width] = torch.randn(samples, frames, 3, height, width, generator=g)
    masks = torch.zeros(samples, frames, H, W, dtype=torch.int64)
    for i in range(objects):
        for t in range(frames):
            y0 = int(torch.randint(0, height // 2, (1,), generator=g))
            x0 = int(torch.randint(0, width // 2, (1,), generator=g))
            masks[:, t, y0 : y0 + height // 3, x0 : x0 + width // 3] = i + 1
    presence = (masks[:, :, None] == torch.arange(1, objects + 1)[None, None, :, None, None]).flatten(3).any(-1)
    return ClipBatch(
        x,
        masks,
        torch.ones(samples, frames, dtype=torch.bool),
        presence,
        torch.full((samples,), objects, dtype=torch.int64),
        [(height, width)] * samples,
        [{}] * samples,
    )


def add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config-file", default=os.path.join(REPO, "configs", "static_image", "coco_swin_t.yaml"))
    p.add_argument("--height", type=int, default=474, help="unpadded frame height (static recipe: 474)")
    p.add_argument("--width", type=int, default=632, help="unpadded frame width (static recipe: 632)")
    p.add_argument("--samples", type=int, default=1, help="samples per forward")
    p.add_argument("--objects", type=int, default=2)
    p.add_argument("--iters", type=int, default=3, help="timed steps")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="", help="fp32 | bf16 | fp16 (default: the config's)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    p.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[])


def run_train(args: argparse.Namespace) -> dict:
    from hodor.config import load_config
    from hodor.modeling import build_model
    from hodor.modeling.parameter_count import count_parameters
    from hodor.solver import build_optimizer
    from hodor.training.regimes import TrainingModule, build_regime
    from hodor.utils.device import PRECISION_DTYPES, resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    opts = list(args.opts) + ["DEVICE", args.device] + (["SOLVER.PRECISION", args.precision] if args.precision else [])
    cfg = load_config(args.config_file, opts)
    device = resolve_device(cfg.DEVICE)
    torch.manual_seed(0)
    model = build_model(cfg).to(device).train()
    module = TrainingModule(model, build_regime(cfg))
    opt = build_optimizer(cfg, model)
    frames = 1 + cfg.TRAINING.NUM_OTHER_FRAMES
    batch = random_clip(args.samples, frames, args.height, args.width, args.objects, cfg.INPUT.SIZE_DIVISIBILITY).to(
        device
    )
    dtype = PRECISION_DTYPES[cfg.SOLVER.PRECISION]
    scaler = torch.amp.GradScaler(device.type) if cfg.SOLVER.PRECISION == "fp16" else None
    times = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for i in range(args.warmup + args.iters):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out = module(batch, i)
        loss = out.total_loss
        (scaler.scale(loss) if scaler else loss).backward()
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    H, W = batch.frames.shape[-2:]
    return {
        "benchmark": "train",
        "config": os.path.relpath(args.config_file, REPO),
        "mode": cfg.TRAINING.MODE,
        "backbone": cfg.MODEL.BACKBONE.NAME,
        "device": str(device),
        "precision": cfg.SOLVER.PRECISION,
        "threads": torch.get_num_threads(),
        "input": f"{args.samples}x{frames}x3x{args.height}x{args.width} (padded {H}x{W})",
        "objects": args.objects,
        "params_m": round(count_parameters(model) / 1e6, 3),  # see hodor.modeling.parameter_count
        "step_s_median": round(step, 3),
        "step_s_all": [round(t, 3) for t in times],
        "samples_per_s": round(args.samples / step, 4),
        "peak_memory_gb": round(
            torch.cuda.max_memory_allocated(device) / 1024**3 if device.type == "cuda" else _peak_rss_gb(), 3
        ),
        "peak_memory_kind": "cuda max allocated" if device.type == "cuda" else "process peak RSS",
        "loss": round(float(loss.detach()), 5),
    }


SUBCOMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], dict]]] = {
    "train": (add_train_args, run_train),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_args, _) in SUBCOMMANDS.items():
        add_args(sub.add_parser(name, help=f"{name} benchmark"))
    args = parser.parse_args(argv)
    result = SUBCOMMANDS[args.command][1](args)
    if getattr(args, "json", False):
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>18s}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
