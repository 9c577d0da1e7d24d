#!/usr/bin/env python
"""Write augmented training clips as image grids with mask overlays, to check the pipeline by eye.

    python tools/visualize_data.py --config-file configs/quick_schedules/static_image_tiny.yaml \
        --num 8 --out vis/ DATASETS.ROOT datasets/synthetic

One PNG per sample: a row of the T frames (de-normalised), each with the object masks blended
in their DAVIS palette colours, pixels that came from outside the warped image shown hatched, and
the frame's presence / GT flags in the file name and title strip.
"""

from __future__ import annotations

import argparse
import os
import sys
from itertools import islice

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hodor.config import load_config  # noqa: E402
from hodor.data import build_train_loader  # noqa: E402
from hodor.utils.palette import davis_palette  # noqa: E402


def render_sample(
    frames: np.ndarray, masks: np.ndarray, valid: list[bool], title: str, alpha: float = 0.5
) -> Image.Image:
    """frames [T,H,W,3] uint8, masks [T,H,W] int -> one grid image with a title strip."""
    pal = davis_palette()
    tiles = []
    for t in range(frames.shape[0]):
        img = frames[t].astype(np.float32)
        m = masks[t]
        over = pal[np.clip(m, 0, 255)].astype(np.float32)
        fg = m > 0
        img[fg] = (1 - alpha) * img[fg] + alpha * over[fg]
        tile = Image.fromarray(img.clip(0, 255).astype(np.uint8))
        ImageDraw.Draw(tile).text((3, 3), f"t={t} {'GT' if valid[t] else 'no GT'}", fill=(255, 255, 0))
        tiles.append(tile)
    w, h = tiles[0].size
    grid = Image.new("RGB", (w * len(tiles) + 4 * (len(tiles) - 1), h + 16), (0, 0, 0))
    ImageDraw.Draw(grid).text((3, 2), title, fill=(255, 255, 255))
    for i, tile in enumerate(tiles):
        grid.paste(tile, (i * (w + 4), 16))
    return grid


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config-file", default="", metavar="FILE")
    p.add_argument("--num", type=int, default=8, help="number of samples to write")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = p.parse_args(argv)
    cfg = load_config(args.config_file or None, list(args.opts) + ["DATALOADER.NUM_WORKERS", "0"])
    os.makedirs(args.out, exist_ok=True)
    mean = np.asarray(cfg.INPUT.PIXEL_MEAN, np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(cfg.INPUT.PIXEL_STD, np.float32).reshape(1, 3, 1, 1)
    written = 0
    loader = build_train_loader(cfg)
    for batch in islice(loader, -(-args.num // len(cfg.DATASETS.TRAIN) or 1)):
        for i in range(len(batch)):
            if written >= args.num:
                break
            h, w = batch.image_sizes[i]
            x = batch.frames[i, :, :, :h, :w].numpy()
            invalid = (x == 0).all(1)
            img = (x * std + mean).clip(0, 255).transpose(0, 2, 3, 1).copy()
            img[invalid] = np.where((np.indices((h, w)).sum(0) // 4) % 2 == 0, 0, 255)[None, ..., None].repeat(
                img.shape[0], 0
            )[invalid]
            m = batch.meta[i]
            name = m.get("video_id", m.get("image_id"))
            title = (
                f"{m['dataset']} {name} objs={m['object_ids']} "
                f"{m.get('recipe', m.get('geometric', ''))} flip={m.get('flipped')} frames={m.get('frame_indices', '')}"
            )
            grid = render_sample(
                img.astype(np.uint8), batch.masks[i, :, :h, :w].numpy(), batch.mask_valid[i].tolist(), title
            )
            grid.save(os.path.join(args.out, f"sample_{written:04d}.png"))
            written += 1
        if written >= args.num:
            break
    print(f"wrote {written} clips to {args.out}; {loader.report()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
