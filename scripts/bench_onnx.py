#!/usr/bin/env python3
"""s/frame of the streaming predictor with onnxruntime vs PyTorch fp32 on CPU, in the same run.

    python scripts/bench_onnx.py --onnx-dir export/ --weights model_final.pth [--height 480 --width 854]
        [--frames 6] [--rounds 3] [--threads 2] [--backend both|onnx|torch] [KEY VALUE ...]

Streams a synthetic video (moving discs, ``scripts/bench_predictor.py``) through
``VideoPredictor`` twice per round -- once with the export directory in onnxruntime, once with the
checkpoint it came from in PyTorch -- alternating, so that load on a shared machine hits both
alike. Reports the median s/frame of each (the first, annotated frame untimed), their ratio and
how many mask pixels agree. ``--min-dim 480`` (default) makes the network see 480p.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from bench_predictor import synthetic_frame  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=("both", "onnx", "torch"), default="both", help="both = alternate the two")
    p.add_argument("--onnx-dir", default="", help="hodor-export output (onnx backend)")
    p.add_argument("--weights", default="", help="checkpoint the export came from (torch backend)")
    p.add_argument("--config-file", default="", help="config of --weights (default: the checkpoint's)")
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=854)
    p.add_argument("--min-dim", type=int, default=480, help="INFERENCE.MIN_DIM for both (480: the network sees 480p)")
    p.add_argument("--objects", type=int, default=2)
    p.add_argument("--frames", type=int, default=6, help="frames per timed pass (the first, annotated one untimed)")
    p.add_argument("--rounds", type=int, default=3, help="passes per backend, alternating")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch and onnxruntime (0 = default)")
    p.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[])
    return p


def run(args: argparse.Namespace) -> dict:
    """s/frame of the streaming predictor with onnxruntime vs PyTorch fp32 (CPU), alternating passes."""
    import numpy as np

    from hodor.inference import VideoPredictor

    if args.threads:
        torch.set_num_threads(args.threads)
    want = ["onnx", "torch"] if args.backend == "both" else [args.backend]
    factories = {}
    if "onnx" in want:
        from hodor.export import onnx_video_predictor

        if not args.onnx_dir:
            raise SystemExit("infer --backend onnx/both needs --onnx-dir (run hodor-export first)")
        onnx_video_predictor(args.onnx_dir, num_threads=args.threads)  # fail early on a bad directory
        factories["onnx"] = lambda: onnx_video_predictor(
            args.onnx_dir, num_threads=args.threads, verify_hash=False, min_dim=args.min_dim
        )
    if "torch" in want:
        from hodor.checkpoint.loading import load_model_weights
        from hodor.export.cli import resolve_config
        from hodor.modeling import build_model

        if not args.weights:
            raise SystemExit("infer --backend torch/both needs --weights (the checkpoint that was exported)")
        cfg = resolve_config(args.weights, args.config_file, list(args.opts))
        model = build_model(cfg)
        load_model_weights(model, args.weights)
        model.eval()
        settings = dict(
            temporal_window=cfg.INFERENCE.TEMPORAL_WINDOW,
            max_dim=cfg.INFERENCE.MAX_DIM,
            pixel_mean=cfg.INPUT.PIXEL_MEAN,
            pixel_std=cfg.INPUT.PIXEL_STD,
            size_divisibility=cfg.INPUT.SIZE_DIVISIBILITY,
        )
        if "onnx" in want:  # same settings as the export (e.g. a window given at export time)
            from hodor.export import Manifest

            m = Manifest.read(args.onnx_dir)
            settings = dict(
                temporal_window=m.temporal_window,
                max_dim=m.max_dim,
                pixel_mean=m.pixel_mean,
                pixel_std=m.pixel_std,
                size_divisibility=m.size_divisibility,
            )
        factories["torch"] = lambda: VideoPredictor(model, min_dim=args.min_dim, device="cpu", **settings)
    h, w = args.height, args.width
    bg = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    video = [synthetic_frame(t, h, w, args.objects, bg) for t in range(args.frames + 1)]
    first = {k + 1: video[0][1] == k + 1 for k in range(args.objects)}
    times: dict[str, list[float]] = {b: [] for b in want}
    masks: dict[str, list[np.ndarray]] = {}
    for _ in range(args.rounds):
        for b in want:
            pred = factories[b]()
            with torch.inference_mode():
                pred.step(video[0][0], first)
                t0 = time.perf_counter()
                out = [pred.step(f) for f, _ in video[1:]]
            times[b].append((time.perf_counter() - t0) / args.frames)
            masks[b] = out
    res: dict = {
        "benchmark": "infer",
        "input": f"{h}x{w}, network min side {args.min_dim}",
        "objects": args.objects,
        "frames_per_pass": args.frames,
        "threads": args.threads or "default",
    }
    for b in want:
        res[f"{b}_s_per_frame_median"] = round(statistics.median(times[b]), 4)
        res[f"{b}_s_per_frame_all"] = [round(t, 4) for t in times[b]]
    if len(want) == 2:
        res["onnx_over_torch"] = round(res["onnx_s_per_frame_median"] / res["torch_s_per_frame_median"], 3)
        res["masks_equal_fraction"] = float(np.mean([np.mean(a == b) for a, b in zip(masks["onnx"], masks["torch"])]))
    return res


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>26s}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
