"""Reading DAVIS-style index PNGs and writing the official evaluation CSVs.

A mask PNG is decoded to its *stored* values, like the official toolkit does: the palette index
for mode ``P`` (the palette itself is ignored) and the grey value for mode ``L``. Colour PNGs have
no object ids, so they are rejected instead of being guessed at.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image

# Modes whose stored values are object ids. "1" (bilevel) decodes to bool, mapped to 0/1.
_INDEX_MODES = ("P", "L", "1")


class MaskReadError(ValueError):
    """A mask file is missing, unreadable or not an index image."""


def read_index_png(path: str | os.PathLike) -> np.ndarray:
    """Decode an index PNG to ``uint8 [H, W]`` object ids (palette indices / grey values)."""
    p = os.fspath(path)
    try:
        with Image.open(p) as img:
            mode = img.mode
            if mode not in _INDEX_MODES:
                raise MaskReadError(
                    f"{p}: PNG mode {mode!r} is not an index mask; expected a palettised ('P') or "
                    f"greyscale ('L') PNG whose values are object ids"
                )
            arr = np.asarray(img)
    except FileNotFoundError as e:
        raise MaskReadError(f"{p}: file not found") from e
    except MaskReadError:
        raise
    except OSError as e:  # PIL.UnidentifiedImageError and truncated files
        raise MaskReadError(f"{p}: cannot decode image ({e})") from e
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if arr.ndim != 2:
        raise MaskReadError(f"{p}: expected a single-channel mask, got array shape {arr.shape}")
    return arr


def write_table_csv(path: str | os.PathLike, header: Sequence[str], rows: Sequence[Sequence], precision: int) -> None:
    """Write a CSV like the official toolkit: ``,``-separated, ``\\n`` line ends, ``%.<p>f`` numbers.

    The first cell of a row is written verbatim when it is a string (row key); every other cell
    is formatted with the given number of decimals.
    """
    fmt = f"%.{int(precision)}f"
    lines = [",".join(header)]
    for row in rows:
        cells = [c if isinstance(c, str) else fmt % float(c) for c in row]
        lines.append(",".join(cells))
    tmp = os.fspath(path) + ".tmp"
    with open(tmp, "w", newline="\n", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def write_global_and_object_csvs(
    out_dir: str,
    split: str,
    global_header: Sequence[str],
    global_row: Sequence,
    object_table: str,
    object_header: Sequence[str],
    object_rows: Sequence[Sequence],
    precision: int = 3,
) -> list[str]:
    """``global_results-<split>.csv`` (one row) and ``<object_table>-<split>.csv``; returns both paths."""
    os.makedirs(out_dir, exist_ok=True)
    gp = os.path.join(out_dir, f"global_results-{split}.csv")
    op = os.path.join(out_dir, f"{object_table}-{split}.csv")
    write_table_csv(gp, global_header, [list(global_row)], precision)
    write_table_csv(op, object_header, object_rows, precision)
    return [gp, op]
