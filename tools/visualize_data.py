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
from hodor.training.modes import build_train_data  # noqa: E402
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
    width = w * len(tiles) + 4 * (len(tiles) - 1)
    lines = _wrap(title, width - 6, ImageDraw.Draw(Image.new("RGB", (1, 1))))
    top = 14 * len(lines) + 4
    grid = Image.new("RGB", (width, h + top), (0, 0, 0))
    for k, line in enumerate(lines):  # the header wraps instead of being cut on small images
        ImageDraw.Draw(grid).text((3, 2 + 14 * k), line, fill=(255, 255, 255))
    for i, tile in enumerate(tiles):
        grid.paste(tile, (i * (w + 4), top))
    return grid


def _wrap(text: str, width: int, draw: ImageDraw.ImageDraw) -> list[str]:
    """Split ``text`` at spaces into lines no wider than ``width`` pixels (a long word keeps its own line)."""
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def sample_title(meta: dict) -> str:
    """One header line from a sample's meta; fields a dataset does not record are left out."""
    name = meta.get("video_id", meta.get("image_id"))
    parts = [str(meta.get("dataset", "")), str(name), f"objs={meta.get('object_ids')}"]
    recipe = meta.get("recipe", meta.get("geometric"))
    if recipe:
        parts.append(str(recipe))
    if meta.get("flipped") is not None:
        parts.append(f"flip={meta['flipped']}")
    if meta.get("frame_indices"):
        parts.append(f"frames={meta['frame_indices']}")
    return " ".join(p for p in parts if p)


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
    loader = build_train_data(cfg)
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
            title = sample_title(batch.meta[i])
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
