"""LVOS v1/v2 -> :class:`VideoRecord` list.

Layout (per split, e.g. ``LVOS/valid``)::

    <root>/JPEGImages/<video>/00000000.jpg ...     every frame, 8-digit names
    <root>/Annotations/<video>/00000000.png ...    index PNGs on every 5th frame
    <root>/<split>_meta.json                       {"videos": {vid: {"objects": {"1": {"frame_range":
                                                    {"start": s, "end": e, "frame_nums": n}}}}}}
    <root>/unseen_videos.txt                       optional: the videos of unseen categories
                                                    (from lvos-evaluation), for the seen/unseen split

Objects appear late, disappear and come back: each object is prompted at its ``start`` frame.
"""

from __future__ import annotations

import json
import os

from .davis import IMAGE_EXTS, index_annotations, list_files
from .io import DataError
from .records import VideoRecord

__all__ = ["load_lvos"]


def load_lvos(root: str, split: str = "valid", dataset_name: str = "lvos") -> list[VideoRecord]:
    """Read an LVOS split folder (the one holding ``<split>_meta.json``)."""
    meta_file = os.path.join(root, f"{split}_meta.json")
    if not os.path.isfile(meta_file):
        raise DataError(meta_file, "LVOS meta file not found")
    try:
        with open(meta_file, encoding="utf-8") as fh:
            videos = json.load(fh)["videos"]
    except (json.JSONDecodeError, KeyError, UnicodeDecodeError, TypeError) as e:
        raise DataError(meta_file, f"not a valid LVOS meta file ({type(e).__name__}: {e})") from e
    records = []
    for vid in sorted(videos):
        vdir = os.path.join(root, "JPEGImages", vid)
        frames = list_files(vdir, IMAGE_EXTS, missing_ok=True)
        if not frames:
            raise DataError(meta_file, f"video '{vid}' is listed but {vdir} has no frames")
        stems = {os.path.splitext(f)[0]: i for i, f in enumerate(frames)}
        first, declared = {}, {}
        for oid, obj in videos[vid].get("objects", {}).items():
            try:
                start = int(obj["frame_range"]["start"])
            except (KeyError, TypeError, ValueError) as e:
                raise DataError(meta_file, f"video '{vid}' object {oid}: no valid frame_range.start") from e
            stem = f"{start:08d}"
            if stem not in stems:
                raise DataError(meta_file, f"video '{vid}' object {oid}: start frame {stem} not in {vdir}")
            first[int(oid)] = stems[stem]
            declared[int(oid)] = 0
        adir = os.path.join(root, "Annotations", vid)
        records.append(
            VideoRecord(
                dataset=dataset_name,
                video_id=vid,
                frame_paths=[os.path.join(vdir, f) for f in frames],
                annotations=index_annotations(adir, stems, vdir),
                declared_objects=declared,
                first_frames=first,
                source=adir,
            )
        )
    return records
