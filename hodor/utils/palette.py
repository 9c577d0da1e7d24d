"""The DAVIS / PASCAL VOC colour palette and indexed-PNG writing.

DAVIS and YouTube-VOS masks are 8-bit palettised PNGs whose *indices* are the object ids; the
palette only makes them viewable. Evaluators and the YouTube-VOS server read the indices, so any
palette works, but writing the standard one keeps our outputs visually identical to the datasets'.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from PIL import Image


@lru_cache(maxsize=1)
def _palette_cached() -> np.ndarray:
    idx = np.arange(256, dtype=np.int64)
    pal = np.zeros((256, 3), dtype=np.int64)
    # Bit-pattern palette: bits 0/1/2 of each successive 3-bit group of the index go into the
    # R/G/B channels, filling the channel bytes from the most significant bit downwards.
    for shift in range(8):
        group = idx >> (3 * shift)
        for ch in range(3):
            pal[:, ch] |= ((group >> ch) & 1) << (7 - shift)
    out = pal.astype(np.uint8)
    out.setflags(write=False)
    return out


def davis_palette() -> np.ndarray:
    """The standard PASCAL VOC / DAVIS palette, ``uint8 [256, 3]`` (index 1 = (128, 0, 0))."""
    return _palette_cached().copy()


def save_index_png(path: str | os.PathLike, index_map: np.ndarray, palette: np.ndarray | None = None) -> None:
    """Write an object-id map ``[H, W]`` (integers 0..255) as a palettised PNG.

    Values outside 0..255 cannot be stored in an 8-bit PNG and would silently wrap, so they are
    an error. Parent directories are created.
    """
    arr = np.asarray(index_map)
    if arr.ndim != 2:
        raise ValueError(f"{os.fspath(path)}: index map must be 2-D [H, W], got shape {arr.shape}")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{os.fspath(path)}: index map must hold integers, got dtype {arr.dtype}")
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 255):
        raise ValueError(
            f"{os.fspath(path)}: object ids must lie in 0..255 for an 8-bit PNG, got range "
            f"{int(arr.min())}..{int(arr.max())}"
        )
    pal = davis_palette() if palette is None else np.asarray(palette, dtype=np.uint8)
    if pal.shape != (256, 3):
        raise ValueError(f"palette must have shape [256, 3], got {pal.shape}")
    img = Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8), mode="P")
    img.putpalette(pal.reshape(-1).tolist())
    parent = os.path.dirname(os.fspath(path))
    if parent:
        os.makedirs(parent, exist_ok=True)
    img.save(path, format="PNG")
