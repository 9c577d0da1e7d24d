#!/usr/bin/env python3
"""Benchmark soft-masked attention (fused SDPA vs explicit softmax) and a whole-model forward.

    python scripts/bench_attention.py [--device cpu|cuda] [--repeats 5] [--skip-model]

* encoder direction: B=2, 8 heads, 13 descriptors (4 objects + 9 background) attending over
  60x80 = 4800 pixels, C=256, forward+backward;
* decoder direction: 4800 pixel queries attending over 13*T descriptors (T=7 source frames);
* whole model (Swin-T, random init, no grad) at 480x864: backbone + encoder (2 objects) + decoder.

Each measurement runs in a fresh subprocess so that peak memory (CPU: peak RSS growth over the
measured step, from getrusage; CUDA: torch.cuda.max_memory_allocated) belongs to it alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

B, HEADS, C, NDESC, H8, W8, T = 2, 8, 256, 13, 60, 80, 7


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _measure(step, device: str, repeats: int) -> dict:
    import torch

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    rss0 = _rss_mb()
    step()  # first call: peak memory (and warm-up)
    sync()
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if device.startswith("cuda") else _rss_mb() - rss0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return {"ms": 1000 * times[len(times) // 2], "peak_mb": peak}


def worker(name: str, device: str, repeats: int) -> dict:
    import torch

    torch.manual_seed(0)
    if name.startswith("enc_"):
        from hodor.modeling.soft_masked_attention import SoftMaskedAttention

        attn = SoftMaskedAttention(C, HEADS, 0.0, fused=name == "enc_fused").to(device)
        q = torch.randn(B, NDESC, C, device=device, requires_grad=True)
        kv = torch.randn(B, H8 * W8, C, device=device, requires_grad=True)
        mask = torch.rand(B, NDESC, H8 * W8, device=device)

        def step():
            attn(q, kv, kv, mask).sum().backward()

    elif name.startswith("dec_"):
        from hodor.modeling.decoder import DescriptorCrossAttention

        attn = DescriptorCrossAttention(C, HEADS, 0.0).to(device)
        q = torch.randn(B, H8 * W8, C, device=device, requires_grad=True)
        k = torch.randn(B, NDESC * T, C, device=device, requires_grad=True)
        v = torch.randn(B, NDESC * T, C, device=device, requires_grad=True)
        invalid = torch.zeros(B, NDESC * T, dtype=torch.bool, device=device)
        invalid[:, :4] = True

        def reference(q, k, v):
            hd = C // HEADS
            qh = attn.q_proj(q).view(B, -1, HEADS, hd).transpose(1, 2)
            kh, vh = (x.view(B, -1, HEADS, hd).transpose(1, 2) for x in (k, v))
            logits = (qh @ kh.transpose(-1, -2)) / math.sqrt(hd)
            logits = logits.masked_fill(invalid[:, None, None], float("-inf"))
            return (logits.softmax(-1) @ vh).transpose(1, 2).reshape(B, -1, C)

        fn = (lambda q, k, v: attn(q, k, v, invalid)) if name == "dec_fused" else reference

        def step():
            fn(q, k, v).sum().backward()

    elif name == "model":
        from hodor.config import get_cfg
        from hodor.modeling import build_model, encoder_masks_from_index

        model = build_model(get_cfg()).to(device).eval()
        images = torch.randn(1, 3, 480, 864, device=device)
        index = torch.zeros(1, 480, 864, dtype=torch.long, device=device)
        index[0, 100:300, 200:500] = 1
        index[0, 250:450, 450:800] = 2
        fg_m, bg_m = encoder_masks_from_index(index, 2, 9)

        @torch.no_grad()
        def step():
            feats = model.extract_features(images)
            fg, bg = model.encode(feats[8], fg_m, bg_m)
            model.decode(fg[:, :, None], bg[:, :, None], feats[4], feats[8])

        repeats = max(1, min(repeats, 2))
    else:
        raise ValueError(name)
    return _measure(step, device, repeats)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--skip-model", action="store_true")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.device, args.repeats)))
        return 0

    def run(name):
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            name,
            "--device",
            args.device,
            "--repeats",
            str(args.repeats),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        return json.loads(out)

    import torch

    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    res = {}
    for name in ("enc_fused", "enc_reference", "dec_fused", "dec_reference"):
        res[name] = r = run(name)
        print(f"{name:<14s} fwd+bwd {r['ms']:8.1f} ms   peak +{r['peak_mb']:7.1f} MiB")
    for d in ("enc", "dec"):
        f, r = res[f"{d}_fused"], res[f"{d}_reference"]
        pm = r["peak_mb"] / f["peak_mb"] if f["peak_mb"] > 0 else float("nan")
        print(f"{d}: reference/fused time {r['ms'] / f['ms']:.2f}x, memory {pm:.2f}x")
    if not args.skip_model:
        r = run("model")
        print(
            f"whole model 480x864 (Swin-T, I=2, T=1, no grad): {r['ms'] / 1000:.2f} s, peak RSS growth {r['peak_mb']:.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
