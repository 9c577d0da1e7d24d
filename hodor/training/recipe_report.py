"""Statistics of the batches a training config produces: is the recipe the original's?

    python tools/recipe_report.py --config-file configs/quickstart/static_image_r18.yaml \
        --num-batches 50 --json DATASETS.ROOT datasets/synthetic
    hodor-recipe-report --config-file CFG --num-batches 50 [--world-size 4] [KEY VALUE ...]

Builds the configured training loader(s) - one per simulated process when ``--world-size`` > 1 -
and draws N global batches (SOLVER.IMS_PER_BATCH samples each, split into per-forward batches by
the same accumulation plan as training). The JSON object has:

* ``padding_fraction_mean`` / ``padding_fraction_max``: padded pixels / canvas pixels per sample;
  ``padding_fraction_rounding_max``: the part no grouping can remove (rounding a lone sample up to
  INPUT.SIZE_DIVISIBILITY);
* ``aspect_ratio_spread_max``: max over per-forward batches of max - min h/w (unresized sizes,
  what the grouping limits; ``..._resized`` after resizing);
* ``objects_per_sample``: histogram, keys "1".."N"; ``mixed_object_counts_in_a_forward``: number of
  per-forward batches holding more than one object count;
* ``frames_per_clip`` and the resized image size (mean / min / max height, width, pixels);
* ``sample_list_objects_per_sample``: with a planned sample list, the histogram of its first
  epoch (the drawn batches are a sample of it).

It only uses the data builders' public interface, so it also runs against older checkouts (where
``meta`` lacks the unresized size it falls back to the resized one).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..utils.errors import run_cli

__all__ = ["batch_stats", "collect", "main"]


def _pad_frac(h: int, w: int, H: int, W: int) -> float:
    return 1.0 - (h * w) / float(H * W)


def batch_stats(batches: Sequence[Any], size_divisibility: int = 32) -> dict:
    """The report's fields over per-forward ``ClipBatch`` objects (see the module docstring)."""
    pads, round_pads, spreads, spreads_resized = [], [], [], []
    counts: Counter = Counter()
    mixed = 0
    frames: Counter = Counter()
    hs, ws = [], []
    for b in batches:
        H, W = int(b.frames.shape[-2]), int(b.frames.shape[-1])
        frames[int(b.frames.shape[1])] += 1
        n = [int(v) for v in b.num_objects.tolist()]
        counts.update(n)
        mixed += len(set(n)) > 1
        ar_resized, ar_orig = [], []
        for (h, w), meta in zip(b.image_sizes, b.meta, strict=True):
            pads.append(_pad_frac(h, w, H, W))
            d = size_divisibility
            round_pads.append(_pad_frac(h, w, math.ceil(h / d) * d, math.ceil(w / d) * d))
            hs.append(h)
            ws.append(w)
            ar_resized.append(h / w)
            oh, ow = meta.get("orig_size", (h, w))
            ar_orig.append(oh / ow)
        spreads.append(max(ar_orig) - min(ar_orig))
        spreads_resized.append(max(ar_resized) - min(ar_resized))
    if not pads:
        raise ValueError("no batches to report on")
    n_max = max(counts)
    px = [h * w for h, w in zip(hs, ws, strict=True)]
    return {
        "per_forward_batches": len(batches),
        "samples": len(pads),
        "padding_fraction_mean": sum(pads) / len(pads),
        "padding_fraction_max": max(pads),
        "padding_fraction_rounding_max": max(round_pads),
        "aspect_ratio_spread_max": max(spreads),
        "aspect_ratio_spread_max_resized": max(spreads_resized),
        "objects_per_sample": {str(k): counts.get(k, 0) for k in range(1, n_max + 1)},
        "mixed_object_counts_in_a_forward": mixed,
        "frames_per_clip": {str(k): v for k, v in sorted(frames.items())},
        "resized_height": {"mean": sum(hs) / len(hs), "min": min(hs), "max": max(hs)},
        "resized_width": {"mean": sum(ws) / len(ws), "min": min(ws), "max": max(ws)},
        "resized_pixels": {"mean": sum(px) / len(px), "min": min(px), "max": max(px)},
    }


def collect(cfg, num_batches: int, world_size: int = 1) -> tuple[list[Any], dict]:
    """Per-forward batches of ``num_batches`` global batches and the plan used to draw them."""
    from hodor.engine.trainer import accumulation_plan
    from hodor.training.modes import build_train_data

    per_forward, accum = accumulation_plan(cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.MAX_SAMPLES_PER_GPU, world_size)
    loaders = [
        build_train_data(cfg, rank=r, world_size=world_size, samples_per_forward=per_forward) for r in range(world_size)
    ]
    iters = [iter(ld) for ld in loaders]
    batches = []
    for _ in range(num_batches):
        for it in iters:
            batches.extend(next(it) for _ in range(accum))
    plan: dict[str, Any] = {"world_size": world_size, "samples_per_forward": per_forward, "forwards_per_step": accum}
    sample_list = getattr(getattr(loaders[0], "index_sampler", None), "plan", None)
    if callable(sample_list):  # a planned sample list: its epoch-0 histogram (no image decoded)
        epoch0 = Counter(s.num_objects for s in sample_list(0))
        plan["sample_list_objects_per_sample"] = {str(k): epoch0[k] for k in range(1, max(epoch0) + 1)}
    return batches, plan


def _table(report: dict) -> str:
    rows = []
    for k, v in report.items():
        if isinstance(v, dict):
            v = ", ".join(f"{a}: {b:.4g}" if isinstance(b, float) else f"{a}: {b}" for a, b in v.items())
        elif isinstance(v, float):
            v = f"{v:.4f}"
        rows.append((k, str(v)))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _main(argv: Sequence[str] | None) -> int:
    p = argparse.ArgumentParser(description="Statistics of the training batches a config produces.")
    p.add_argument("--config-file", default="", metavar="FILE")
    p.add_argument("--num-batches", type=int, default=50, help="global batches (SOLVER.IMS_PER_BATCH samples) to draw")
    p.add_argument("--world-size", type=int, default=1, help="simulate this many processes (rank-sharded loaders)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = p.parse_args(argv)
    if args.num_batches <= 0 or args.world_size <= 0:
        p.error("--num-batches and --world-size must be positive")
    import torch

    from hodor.config import load_config

    torch.set_num_threads(1)  # per-sample ops are tiny; the report must be quick on a busy machine
    cfg = load_config(args.config_file or None, list(args.opts) + ["DATALOADER.NUM_WORKERS", "0"])
    t0 = time.perf_counter()
    batches, plan = collect(cfg, args.num_batches, args.world_size)
    report = {
        "config": args.config_file,
        "global_batches": args.num_batches,
        **plan,
        **batch_stats(batches, cfg.INPUT.SIZE_DIVISIBILITY),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    print(json.dumps(report, indent=None if args.json else 2) if args.json else _table(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: a config, dataset or folder mistake is one ``error:`` line (exit status 2)."""
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
