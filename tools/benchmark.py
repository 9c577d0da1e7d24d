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


def _train_breakdown(intervals: list, steps: int) -> dict[str, float]:
    """Mean seconds per step: forward per model component (inclusive of their parts), the rest of
    the forward (regime glue and losses), backward, optimizer step."""
    from hodor.utils.component_timer import totals

    acc = totals(intervals)
    n = max(steps, 1)
    out = {"forward": acc.get("forward", 0.0)}
    for name in COMPONENTS:
        if name in acc:
            out[f"forward.{name}"] = acc[name]
    out["forward.glue+loss"] = out["forward"] - sum(acc.get(k, 0.0) for k in TOP_LEVEL)
    for k in ("backward", "optimizer", "step"):
        out[k] = acc.get(k, 0.0)
    return {k: round(v / n, 4) for k, v in out.items()}


def _add_output_args(p: argparse.ArgumentParser) -> None:
    """The options every subcommand shares: timing clock, JSON output, config overrides."""
    p.add_argument(
        "--clock",
        default="wall",
        choices=["wall", "cpu"],
        help="CPU timing: wall seconds, or process CPU seconds (steadier on a shared machine; use with --threads 1)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")


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
    _add_output_args(p)


def run_train(args: argparse.Namespace) -> dict:
    from hodor.config import load_config
    from hodor.modeling import build_model
    from hodor.modeling.parameter_count import count_parameters
    from hodor.solver import build_optimizer
    from hodor.training.modes import build_regime
    from hodor.training.regimes import TrainingModule
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
    times, kept = [], []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    timer = _MultiTimer(_component_modules(model, False), device, args.clock)
    clock = timer.main
    with timer:
        for i in range(args.warmup + args.iters):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            clock.begin("step")
            opt.zero_grad(set_to_none=True)
            clock.begin("forward")
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                out = module(batch, i)
            loss = out.total_loss
            clock.end("forward")
            clock.begin("backward")
            (scaler.scale(loss) if scaler else loss).backward()
            clock.end("backward")
            clock.begin("optimizer")
            if scaler:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            clock.end("optimizer")
            loss_value = float(loss.detach())
            del out, loss  # do not keep this step's outputs (and their graph) alive into the next
            clock.end("step")
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            intervals = timer.resolve()
            if i >= args.warmup:
                times.append(next(iv.seconds for iv in intervals if iv.name == "step"))
                kept.extend(intervals)
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
        "clock": "cuda events" if device.type == "cuda" else args.clock,
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
        "breakdown_s": _train_breakdown(kept, len(times)),
        "loss": round(loss_value, 5),
    }


# ---------------------------------------------------------------------------------------- infer


def _rss_mib() -> float:
    """Current resident set size (VmRSS) in MiB (NaN where /proc is missing)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def synthetic_video(h: int, w: int, objects: int, seed: int = 0):
    """Endless synthetic video: ``objects`` coloured discs moving over a fixed noisy background.

    Yields (frame uint8 [H,W,3], index map uint8 [H,W]) for t = 0, 1, ...
    """
    import numpy as np

    bg = np.random.default_rng(seed).integers(0, 120, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    t = 0
    while True:
        frame, index = bg.copy(), np.zeros((h, w), np.uint8)
        for k in range(objects):
            cy = h * (0.3 + 0.4 * k / max(objects - 1, 1)) + 0.04 * h * np.sin(0.1 * t + k)
            cx = w * (0.2 + 0.6 * ((0.01 * t + 0.3 * k) % 1.0))
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 < (h / 8) ** 2
            frame[disc] = ((70 * (k + 1)) % 256, (150 + 40 * k) % 256, 200 - 50 * k)
            index[disc] = k + 1
        yield frame, index
        t += 1


# Hooked submodules of a HODOR model: name -> attribute path. Top-level names partition the model
# calls; dotted names are parts of them (inclusive times, reported indented).
COMPONENTS = {
    "backbone": "backbone",
    "backbone.trunk": "backbone.trunk",
    "backbone.fpn": "backbone.fpn",
    "encoder": "encoder",
    "encoder.layers": "encoder.attn_layers.*",
    "decoder": "decoder",
    "decoder.deform_conv": "decoder.attn_layers.*.self_attn_conv_substitute.0",
    "decoder.layers": "decoder.attn_layers.*",
}
TOP_LEVEL = ("backbone", "encoder", "decoder")


def _component_modules(model, compiled: bool) -> list[tuple[str, object]]:
    """(name, module) pairs to hook; under torch.compile only the compiled top-level wrappers."""
    out = []
    for name, path in COMPONENTS.items():
        if compiled and "." in name:
            continue
        parts, mods = path.split("."), [model]
        for p in parts:
            nxt = []
            for m in mods:
                if p == "*":
                    nxt.extend(m.children())
                elif hasattr(m, p):
                    nxt.append(getattr(m, p))
            mods = nxt
        out.extend((name, m) for m in mods)
    return out


class _MultiTimer:
    """ComponentTimer over (name, module) pairs where one name may cover several modules."""

    def __init__(self, pairs, device, clock: str = "wall"):
        from hodor.utils.component_timer import ComponentTimer

        self.timers = [ComponentTimer({name: m}, device, clock) for name, m in pairs]
        self.main = ComponentTimer({}, device, clock)
        for t in self.timers:
            t._origin = self.main._origin  # one clock for every interval

    def __enter__(self):
        for t in self.timers:
            t.attach()
        return self

    def __exit__(self, *exc):
        for t in self.timers:
            t.detach()

    def resolve(self):
        out = self.main.resolve()
        for t in self.timers:
            out.extend(t.resolve())
        return out


def _breakdown(steps: list, intervals: list) -> dict[str, float]:
    """Mean seconds per step of every component, plus pre-/post-processing (predictor time
    outside the model calls, before / after the backbone)."""
    from hodor.utils.component_timer import uncovered

    acc: dict[str, float] = {}
    for step in steps:
        inside = [iv for iv in intervals if iv.start >= step.start and iv.end <= step.end and iv.name != "step"]
        top = [iv for iv in inside if iv.name in TOP_LEVEL]
        for iv in inside:
            acc[iv.name] = acc.get(iv.name, 0.0) + iv.seconds
        bb = [iv.start for iv in top if iv.name == "backbone"]
        first_bb = min(bb) if bb else step.end
        pre = uncovered(step, top, before=first_bb)
        acc["pre-processing"] = acc.get("pre-processing", 0.0) + pre
        acc["post-processing"] = acc.get("post-processing", 0.0) + uncovered(step, top) - pre
        acc["step"] = acc.get("step", 0.0) + step.seconds
    n = max(len(steps), 1)
    order = ["pre-processing", *COMPONENTS, "post-processing", "step"]
    return {k: round(acc[k] / n, 4) for k in order if k in acc}


def add_infer_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config-file", default="", help="hodor config (default: the built-in defaults, Swin-T)")
    p.add_argument("--weights", default="", help="model checkpoint (default: random init, seed 0)")
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=854)
    p.add_argument("--frames", type=int, default=12, help="video length (frame 0 carries the given masks)")
    p.add_argument("--warmup", type=int, default=3, help="frames after frame 0 not timed")
    p.add_argument("--objects", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    p.add_argument("--compile", action="store_true", help="torch.compile backbone, encoder and decoder")
    p.add_argument("--rss-at", default="", help="comma-separated frame counts at which to print RSS, e.g. 50,400")
    p.add_argument("--save-masks", default="", help="write the predicted index maps to this .npz")
    p.add_argument("--compare", default="", help="pixel agreement of this run's masks with a --save-masks file")
    _add_output_args(p)


def run_infer(args: argparse.Namespace) -> dict:
    import numpy as np

    from hodor.config import load_config
    from hodor.inference import VideoPredictor
    from hodor.modeling import build_model

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config_file or None, ["INFERENCE.PRECISION", args.precision, *args.opts])
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_model(cfg)
    if args.weights:
        from hodor.checkpoint import load_model_weights

        load_model_weights(model, args.weights)
    model = model.to(device).eval()
    warmup_s = 0.0
    if args.compile:
        for name in TOP_LEVEL:
            setattr(model, name, torch.compile(getattr(model, name)))
    predictor = VideoPredictor.from_config(model, cfg, device=device)
    rss_at = sorted({int(x) for x in args.rss_at.split(",") if x.strip()})
    n_frames = max([args.frames, *rss_at])
    video = synthetic_video(args.height, args.width, args.objects)
    timer = _MultiTimer(_component_modules(model, args.compile), device, args.clock)
    masks, step_times, steps, kept, rss = [], [], [], [], {}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rss_start = _rss_mib()
    with timer:
        for t in range(n_frames):
            frame, index = next(video)
            given = {k: index == k for k in range(1, args.objects + 1)} if t == 0 else None
            timer.main.begin("step")
            out = predictor.step(frame, given)
            timer.main.end("step")
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            intervals = timer.resolve()
            dt = next(iv.seconds for iv in intervals if iv.name == "step")
            if t > args.warmup:
                step_times.append(dt)
                steps.extend(iv for iv in intervals if iv.name == "step")
                kept.extend(iv for iv in intervals if iv.name != "step")
            elif t > 0:
                warmup_s += dt
            if args.save_masks or args.compare:
                masks.append(np.asarray(out))
            if t + 1 in rss_at:
                rss[t + 1] = round(_rss_mib(), 1)
    s_per_frame = statistics.mean(step_times) if step_times else float("nan")
    result = {
        "benchmark": "infer",
        "config": args.config_file or "(defaults)",
        "backbone": cfg.MODEL.BACKBONE.NAME,
        "weights": args.weights or "random (seed 0)",
        "device": str(device),
        "precision": args.precision,
        "threads": torch.get_num_threads(),
        "clock": "cuda events" if device.type == "cuda" else args.clock,
        "compiled": bool(args.compile),
        "video": f"{n_frames} frames {args.height}x{args.width}, {args.objects} objects",
        "network_input": "x".join(map(str, predictor.pad_hw or ())),
        "window": cfg.INFERENCE.TEMPORAL_WINDOW,
        "timed_frames": len(step_times),
        "s_per_frame": round(s_per_frame, 4),
        "s_per_frame_median": round(statistics.median(step_times), 4) if step_times else None,
        "warmup_s": round(warmup_s, 3),
        "breakdown_s": _breakdown(steps, kept),
        "rss_start_mib": round(rss_start, 1),
        "rss_at_frames_mib": rss,
        "peak_rss_mib": round(_peak_rss_gb() * 1024, 1),
    }
    if device.type == "cuda":
        result["cuda_peak_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    if rss_at and len(rss) >= 2:
        first, last = rss[rss_at[0]], rss[rss_at[-1]]
        result["rss_growth_pct"] = round(100.0 * (last - first) / first, 2)
    if masks:
        stack = np.stack(masks)
        if args.save_masks:
            np.savez_compressed(args.save_masks, masks=stack)
            result["saved_masks"] = args.save_masks
        if args.compare:
            result.update(mask_agreement(stack, args.compare))
    return result


def mask_agreement(masks, path: str) -> dict:
    """Pixel agreement of ``masks`` [T,H,W] with the masks saved in ``path`` (frames 1.., i.e. without
    the annotated first frame, over the frames both have)."""
    import numpy as np

    with np.load(path) as f:
        ref = f["masks"]
    if ref.shape[1:] != masks.shape[1:]:
        raise ValueError(f"{path}: masks are {ref.shape[1:]}, this run's are {masks.shape[1:]}")
    n = min(len(ref), len(masks))
    if n < 2:
        raise ValueError(f"{path}: need at least 2 frames in both runs to compare")
    eq = ref[1:n] == masks[1:n]
    per_frame = eq.reshape(n - 1, -1).mean(axis=1)
    return {
        "compared_with": path,
        "compared_frames": n - 1,
        "pixel_agreement_pct": round(100.0 * float(eq.mean()), 4),
        "worst_frame_agreement_pct": round(100.0 * float(per_frame.min()), 4),
    }


SUBCOMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], dict]]] = {
    "train": (add_train_args, run_train),
    "infer": (add_infer_args, run_infer),
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
            if isinstance(v, dict) and k.startswith("breakdown"):
                print(f"{k:>18s}:")
                for name, sec in v.items():
                    indent = "    " if "." in name else ""
                    print(f"{'':>20s}{indent}{name:<24s}{sec:9.4f}")
            else:
                print(f"{k:>18s}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
