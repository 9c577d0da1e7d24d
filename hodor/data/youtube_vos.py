"""YouTube-VOS 2019 -> :class:`VideoRecord` list.

Layout::

    <root>/{train,valid}/JPEGImages/<video>/<frame>.jpg
    <root>/{train,valid}/Annotations/<video>/<frame>.png
    <root>/{train,valid}/meta.json   {"videos": {vid: {"objects": {"1": {"category": c, "frames": [...]}}}}}

Objects may start at later frames (``first_frames`` from meta.json); train annotations are sparse
(every 5th frame); valid annotations exist only where an object first appears. Object ids found in a
mask but missing from meta.json are an error when the mask is loaded.
"""

from __future__ import annotations

import json
import os

from .davis import IMAGE_EXTS, index_annotations, list_files
from .io import DataError
from .paths import check_plain_name, numbering_gaps
from .records import VideoRecord

__all__ = ["load_youtube_vos"]


def load_youtube_vos(split_root: str, dataset_name: str = "youtube_vos") -> list[VideoRecord]:
    """Read ``<root>/<split>`` (the folder holding meta.json, JPEGImages/, Annotations/)."""
    meta_file = os.path.join(split_root, "meta.json")
    if not os.path.isfile(meta_file):
        raise DataError(meta_file, "YouTube-VOS meta.json not found")
    try:
        with open(meta_file, encoding="utf-8") as fh:
            videos = json.load(fh)["videos"]
    except (json.JSONDecodeError, KeyError, UnicodeDecodeError) as e:
        raise DataError(meta_file, f"not a valid YouTube-VOS meta.json ({type(e).__name__}: {e})") from e
    if not videos:
        raise DataError(meta_file, "meta.json lists no videos")
    categories = sorted({str(o.get("category", "")) for v in videos.values() for o in v.get("objects", {}).values()})
    cat_index = {c: i + 1 for i, c in enumerate(categories)}
    img_root = os.path.join(split_root, "JPEGImages")
    ann_root = os.path.join(split_root, "Annotations")
    records = []
    for vid in sorted(videos):
        check_plain_name(vid, meta_file, "video")
        vdir = os.path.join(img_root, vid)
        frames = list_files(vdir, IMAGE_EXTS, missing_ok=True)
        if not frames:
            raise DataError(meta_file, f"video '{vid}' is listed but {vdir} has no frames")
        stems = {os.path.splitext(f)[0]: i for i, f in enumerate(frames)}
        gaps = numbering_gaps(list(stems))
        if gaps:
            a, b = gaps[0]
            raise DataError(
                vdir,
                f"frames are missing inside the video (numbers {a}..{b}"
                + (f" and {len(gaps) - 1} more gap(s)" if len(gaps) > 1 else "")
                + "): the clip's time steps would be wrong; restore the frames or remove the video from meta.json",
            )
        objects = videos[vid].get("objects", {})
        declared, first = {}, {}
        for oid, obj in objects.items():
            declared[int(oid)] = cat_index[str(obj.get("category", ""))]
            obj_frames = obj.get("frames", [])
            known = [stems[f] for f in obj_frames if f in stems]
            if obj_frames and not known:
                raise DataError(meta_file, f"video '{vid}' object {oid}: none of its frames exist in {vdir}")
            missing = [f for f in obj_frames if f not in stems]
            if missing:  # a frame missing inside the video would silently shift the clip's time steps
                shown = ", ".join(str(f) for f in missing[:5]) + (", ..." if len(missing) > 5 else "")
                raise DataError(
                    vdir, f"frame(s) {shown} listed in {meta_file} for object {oid} are missing from the video folder"
                )
            if known:
                first[int(oid)] = min(known)
        adir = os.path.join(ann_root, vid)
        annotations = index_annotations(adir, stems, vdir)
        records.append(
            VideoRecord(
                dataset=dataset_name,
                video_id=vid,
                frame_paths=[os.path.join(vdir, f) for f in frames],
                annotations=annotations,
                declared_objects=declared,
                first_frames=first,
                source=adir,
            )
        )
    return records
