#!/usr/bin/env python3
"""Benchmark the decoder's deformable conv: torchvision's kernel vs the grid_sample formulation.

    python scripts/bench_deform_conv.py [--device cpu|cuda] [--repeats 5]

Shapes [B,C,H,W] (3x3 kernel, C->C channels, offsets ~N(0, 2) pixels):
  * quick-start training step: [3,64,12,20] and [1,64,12,20] (stride-8 maps of ~96x160 crops);
  * quick-start inference: [1,64,28,40];
  * full-size HODOR (C=256) on a 480x640 frame: [1,256,60,80] and a batch of 4.
For each it prints forward+backward and forward-only (no grad) time, peak memory (CPU: peak
RSS growth; CUDA: max_memory_allocated), the torchvision/grid_sample time ratios, and the
largest relative difference of outputs and gradients. Each measurement runs in its own
subprocess so peak memory belongs to it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SHAPES = [(3, 64, 12, 20), (1, 64, 12, 20), (1, 64, 28, 40), (1, 256, 60, 80), (4, 256, 60, 80)]


def _inputs(shape, device):
    import torch

    torch.manual_seed(0)
    b, c, h, w = shape
    x = torch.randn(shape, device=device, requires_grad=True)
    off = (2 * torch.randn(b, 18, h, w, device=device)).requires_grad_()
    weight = (0.05 * torch.randn(c, c, 3, 3, device=device)).requires_grad_()
    bias = torch.randn(c, device=device, requires_grad=True)
    return x, off, weight, bias


def worker(impl: str, mode: str, shape, device: str, repeats: int) -> dict:
    import torch
    from bench_attention import _measure

    from hodor.modeling.deform_conv import deform_conv2d

    x, off, weight, bias = _inputs(shape, device)

    def fwd():
        return deform_conv2d(x, off, weight, bias, padding=1, impl=impl)

    if mode == "train":

        def step():
            fwd().sum().backward()
    else:

        @torch.no_grad()
        def step():
            fwd()

    return _measure(step, device, repeats)


def max_rel_diff(shape, device: str) -> float:
    """Largest relative difference (max |a-b| / max |a|) over the output and the four gradients."""
    import torch

    from hodor.modeling.deform_conv import deform_conv2d

    x, off, weight, bias = _inputs(shape, device)
    results = []
    for impl in ("torchvision", "grid_sample"):
        out = deform_conv2d(x, off, weight, bias, padding=1, impl=impl)
        grads = torch.autograd.grad(out, (x, off, weight, bias), torch.ones_like(out))
        results.append((out, *grads))
    return max(((a - b).abs().max() / a.abs().max()).item() for a, b in zip(*results))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--worker", nargs=3, metavar=("IMPL", "MODE", "SHAPE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        impl, mode, shape = args.worker
        print(json.dumps(worker(impl, mode, tuple(map(int, shape.split("x"))), args.device, args.repeats)))
        return 0

    def run(impl, mode, shape):
        cmd = [sys.executable, os.path.abspath(__file__), "--device", args.device, "--repeats", str(args.repeats)]
        cmd += ["--worker", impl, mode, "x".join(map(str, shape))]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        return json.loads(out)

    import torch

    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    print(
        f"{'shape':<18s} {'mode':<6s} {'torchvision ms':>15s} {'grid_sample ms':>15s} {'ratio':>6s} {'peak MiB tv/gs':>16s}"
    )
    for shape in SHAPES:
        for mode in ("train", "infer"):
            tv, gs = run("torchvision", mode, shape), run("grid_sample", mode, shape)
            print(
                f"{'x'.join(map(str, shape)):<18s} {mode:<6s} {tv['ms']:15.1f} {gs['ms']:15.1f} "
                f"{tv['ms'] / gs['ms']:5.1f}x {tv['peak_mb']:7.1f}/{gs['peak_mb']:<7.1f}"
            )
        print(f"{'':<18s} max relative difference (output, grads): {max_rel_diff(shape, args.device):.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
