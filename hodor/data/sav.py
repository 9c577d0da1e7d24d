"""SA-V (Segment Anything Video) val/test -> :class:`VideoRecord` list.

Layout (as released by facebookresearch/sam2 ``sav_dataset``)::

    <root>/sav_<split>.txt                               one video name per line
    <root>/JPEGImages_24fps/<video>/00000.jpg ...        every frame (24 fps)
    <root>/Annotations_6fps/<video>/<object>/00000.png   one binary mask per object and annotated frame
                                                         (every 4th frame, 6 fps); objects may overlap

Each object is prompted at its first non-empty annotated mask (read here, stored as RLE; only the
PNGs up to that frame are decoded). Prompts are merged into one id map (object folder ``"003"`` is
id 3), so where prompt masks overlap the higher id wins; scoring keeps the per-object masks
(``hodor.evaluation.sav``).
"""

from __future__ import annotations

import os

import numpy as np
from pycocotools import mask as mask_utils

from .davis import IMAGE_EXTS, list_files, read_split_file
from .io import DataError, read_index_mask
from .records import VideoRecord

__all__ = ["load_sav"]

JPEG_DIR = "JPEGImages_24fps"
ANN_DIR = "Annotations_6fps"


def _rle(mask: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(r["size"]), "counts": r["counts"].decode("ascii")}


def load_sav(root: str, split: str = "val", dataset_name: str = "sav") -> list[VideoRecord]:
    """Read an SA-V split folder (the one holding ``sav_<split>.txt``)."""
    videos = read_split_file(os.path.join(root, f"sav_{split}.txt"))
    records = []
    for vid in videos:
        vdir = os.path.join(root, JPEG_DIR, vid)
        frames = list_files(vdir, IMAGE_EXTS, missing_ok=True)
        if not frames:
            raise DataError(vdir, f"video '{vid}' is listed but has no frames")
        stems = {os.path.splitext(f)[0]: i for i, f in enumerate(frames)}
        adir = os.path.join(root, ANN_DIR, vid)
        if not os.path.isdir(adir):
            raise DataError(adir, f"video '{vid}': annotation folder not found")
        objs = sorted(d for d in os.listdir(adir) if os.path.isdir(os.path.join(adir, d)))
        if not objs:
            raise DataError(adir, "no object folders (expected <object>/<frame>.png)")
        annotations: dict[int, dict[int, dict]] = {}
        first: dict[int, int] = {}
        for o in objs:
            if not o.isdigit() or int(o) in (0, 255):
                raise DataError(os.path.join(adir, o), "object folders must be numbers other than 0 and 255")
            for f in list_files(os.path.join(adir, o), (".png",)):
                stem = os.path.splitext(f)[0]
                if stem not in stems:
                    raise DataError(os.path.join(adir, o, f), f"annotation has no matching frame in {vdir}")
                m = read_index_mask(os.path.join(adir, o, f)) > 0
                if m.any():
                    annotations.setdefault(stems[stem], {})[int(o)] = _rle(m)
                    first[int(o)] = stems[stem]
                    break
            else:
                raise DataError(os.path.join(adir, o), f"video '{vid}': object {o} is empty in every annotated frame")
        records.append(
            VideoRecord(
                dataset=dataset_name,
                video_id=vid,
                frame_paths=[os.path.join(vdir, f) for f in frames],
                annotations=annotations,
                declared_objects={int(o): 0 for o in objs},
                first_frames=first,
                source=adir,
            )
        )
    return records
