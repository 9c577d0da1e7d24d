"""How a user's annotation becomes ``{object id: bool mask}`` for the predictor.

The rules are shared by the command line (``hodor-infer-video --mask``) and the Python API
(:func:`hodor.load_predictor` -> ``propagate``), so a mask means the same thing everywhere:

* an index map holds object ids; 0 is background, 255 is *void* ("ignore these pixels", the
  DAVIS 2017 convention) and never an object;
* except for **binary masks**: a map whose only values are 0 and 255 (DAVIS 2016 style, or any
  black/white PNG) is read as object 1, with an info line, because "only void" would mean the user
  annotated nothing. ``void_255=True`` keeps the DAVIS 2017 meaning (and then such a map is an
  error that explains what 255 means);
* a mask a few pixels off the frame size is refused unless ``resize="nearest"`` is asked for,
  which resizes it with nearest-neighbour (never interpolating ids) and warns with both sizes.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..data.io import DataError
from ..utils.labels import VOID_ID
from ..utils.logger import get_logger

logger = get_logger(__name__)

RESIZE_CHOICES = ("nearest",)


def fit_mask_size(
    index_map: np.ndarray, frame_hw: tuple[int, int], source: str, resize: str | None = None
) -> np.ndarray:
    """Return ``index_map`` [H,W] at ``frame_hw``; resize with nearest neighbour only if asked.

    Raises:
        DataError: sizes differ and ``resize`` is None (the message names the option).
    """
    h, w = index_map.shape[:2]
    fh, fw = int(frame_hw[0]), int(frame_hw[1])
    if (h, w) == (fh, fw):
        return index_map
    if resize is None:
        raise DataError(
            source,
            f"mask is {h}x{w} (HxW) but the frames are {fh}x{fw}; pass --mask-resize nearest "
            "(Python: mask_resize='nearest') to resize it with nearest-neighbour",
        )
    if resize not in RESIZE_CHOICES:
        raise ValueError(f"mask resize must be one of {list(RESIZE_CHOICES)} or None, got {resize!r}")
    logger.warning("%s: mask is %dx%d (HxW), frames are %dx%d: resized with nearest-neighbour", source, h, w, fh, fw)
    # cv2 has no int32 nearest resize for every dtype; ids here are < 2**16
    dtype = index_map.dtype
    src = index_map.astype(np.uint16) if dtype != np.uint8 else index_map
    out = cv2.resize(src, (fw, fh), interpolation=cv2.INTER_NEAREST)
    return out.astype(dtype)


def objects_from_index_map(
    index_map: np.ndarray, source: str = "mask", void_255: bool = False
) -> dict[int, np.ndarray]:
    """Index map [H,W] (integer ids) -> ``{object id: bool mask [H,W]}``, ascending ids.

    Args:
        index_map: integer array; 0 background, 255 void (but see ``void_255``).
        source: file name or description, used in messages.
        void_255: keep 255 as void even when it is the only non-zero value (DAVIS 2017 meaning).

    Raises:
        DataError: no object in the map (the message explains 0 and 255).
    """
    arr = np.asarray(index_map)
    values = {int(v) for v in np.unique(arr)}
    if values == {0, VOID_ID} and not void_255:
        logger.info(
            "%s: binary mask (only values 0 and 255): reading 255 as object 1 "
            "(--mask-255-void / void_255=True keeps the DAVIS 2017 meaning of 255 = void)",
            source,
        )
        return {1: arr == VOID_ID}
    ids = sorted(v for v in values if v not in (0, VOID_ID))
    if not ids:
        if VOID_ID in values:
            raise DataError(
                source,
                "mask contains no object: its only non-zero value is 255, which means void ('ignore these "
                "pixels', DAVIS 2017 convention), not an object. Give objects as ids 1, 2, ...; a binary 0/255 "
                "mask is read as object 1 unless --mask-255-void / void_255=True is set",
            )
        raise DataError(source, "mask contains no object: every pixel is 0 (background)")
    return {i: arr == i for i in ids}
