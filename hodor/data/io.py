"""Image and mask reading with errors that name the file and the problem.

Frames are decoded with PIL to RGB uint8 ``[H, W, 3]``; masks are single-channel index maps
(palette PNGs give their palette indices, greyscale PNGs their grey values). An RGB mask is
refused: silently converting colours to ids would produce wrong objects.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageFile

from ..utils.errors import UserError

# A truncated file must raise, never decode to a half-grey image.
ImageFile.LOAD_TRUNCATED_IMAGES = False

# Image formats whose compression alters pixel values: never valid for index masks.
LOSSY_FORMATS = ("JPEG", "MPO", "JPEG2000")

__all__ = ["DataError", "read_image", "read_index_mask", "image_size"]


class DataError(UserError, RuntimeError):
    """Bad input data (missing/corrupt file, inconsistent annotation). The message names the file."""

    def __init__(self, path: str, problem: str | None = None) -> None:
        # one-argument form: DataLoader workers re-raise exceptions as ``type(message)``
        super().__init__(f"{path}: {problem}" if problem is not None else path)
        self.path = path
        self.problem = problem


def _open(path: str) -> Image.Image:
    if not os.path.isfile(path):
        raise DataError(path, "file not found")
    try:
        img = Image.open(path)
        img.load()  # decode now so truncation/corruption is detected here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(path, f"cannot decode image ({type(e).__name__}: {e})") from e
    return img


# 16-bit greyscale modes: PIL's convert("RGB") clips them (every value > 255 becomes white)
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
# 8-bit layouts PIL converts to RGB faithfully
_CONVERTIBLE_MODES = ("1", "L", "LA", "P", "PA", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "La", "RGBa")


def read_image(path: str) -> np.ndarray:
    """Read a frame as RGB uint8 ``[H, W, 3]``.

    Greyscale, palette, RGBA, CMYK... are converted; 16-bit greyscale is scaled to 8 bits
    (``round(v / 257)``, so 65535 -> 255); 32-bit integer or float images have no defined
    8-bit range and are refused.
    """
    img = _open(path)
    if img.mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(img).astype(np.float64)
        eight = np.clip(np.rint(grey / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(eight[..., None], 3, axis=2)
    if img.mode != "RGB":
        if img.mode not in _CONVERTIBLE_MODES:
            raise DataError(
                path,
                f"frame has pixel mode {img.mode!r} (32-bit integer or float) with no defined 8-bit range; "
                "save it as an 8-bit (or 16-bit) RGB or greyscale image",
            )
        img = img.convert("RGB")
    return np.array(img, dtype=np.uint8)  # a writable copy (torch.from_numpy needs one)


def read_index_mask(path: str) -> np.ndarray:
    """Read an index mask as uint8 ``[H, W]``: palette indices or grey values; 255 = void.

    RGB(A) masks are an error because their colours are not object ids.
    """
    img = _open(path)
    if img.format in LOSSY_FORMATS:
        raise DataError(
            path,
            f"mask is a lossy {img.format} file: compression changes pixel values near object edges, so one "
            "object would become many ids. Save masks as PNG (palette or greyscale index image)",
        )
    if img.mode in ("P", "L"):
        return np.array(img, dtype=np.uint8)
    if img.mode in ("I;16", "I"):
        arr = np.asarray(img)
        if arr.max(initial=0) > 255:
            raise DataError(path, f"mask has ids > 255 (mode {img.mode}); expected an 8-bit index PNG")
        return arr.astype(np.uint8)
    if img.mode == "1":
        return np.asarray(img, dtype=np.uint8)
    raise DataError(
        path, f"mask PNG has mode {img.mode!r}; expected a palette ('P') or greyscale ('L') index image, not colours"
    )


def image_size(path: str) -> tuple[int, int]:
    """``(height, width)`` from the file header without decoding the pixels."""
    if not os.path.isfile(path):
        raise DataError(path, "file not found")
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(path, f"cannot read image header ({type(e).__name__}: {e})") from e
    return h, w
