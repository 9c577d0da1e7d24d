"""Reader for the original HODOR JSON annotation files (hodor-reference.md section 3).

Three flavours, told apart by their top-level keys:

* image JSON: ``{"meta": ..., "images": [{id?, height, width, image_path, categories, segmentations,
  areas?, bboxes?, iscrowd?, ignore?}]}`` -> :class:`ImageRecord`.
* video JSON: ``{"meta": ..., "sequences": [{id, height, width, image_paths, categories, tracks}]}``
  where ``tracks`` is a per-frame dict ``{"<track id>": {"seg": RLE string, ...}}`` -> :class:`VideoRecord`.
* inference JSON: sequences with ``segmentations: {"<frame>": {"<object id>": RLE}}`` (first
  appearances) and optional ``eval_files`` -> :class:`VideoRecord` with ``eval_frames``.

Masks are COCO compressed RLE strings; they stay encoded until a mask is requested.
"""

from __future__ import annotations

import json
import os

from .io import DataError
from .paths import confined_join
from .records import ImageRecord, InstanceAnn, VideoRecord

__all__ = ["load_hodor_json"]


def _load(json_file: str) -> dict:
    if not os.path.isfile(json_file):
        raise DataError(json_file, "HODOR JSON annotation file not found")
    try:
        with open(json_file, encoding="utf-8") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(json_file, f"invalid JSON ({e})") from e


def load_hodor_json(
    json_file: str, image_root: str, dataset_name: str = "hodor"
) -> list[ImageRecord] | list[VideoRecord]:
    """Read an image, video or inference HODOR JSON; paths are relative to ``image_root``."""
    data = _load(json_file)
    try:
        if "images" in data:
            return _images(data["images"], json_file, image_root, dataset_name)
        if "sequences" in data:
            return _sequences(data["sequences"], json_file, image_root, dataset_name)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(json_file, f"malformed HODOR annotation ({type(e).__name__}: {e})") from e
    raise DataError(json_file, "expected a top-level 'images' or 'sequences' list")


def _images(images: list, json_file: str, image_root: str, name: str) -> list[ImageRecord]:
    out = []
    for k, im in enumerate(images):
        segs = im["segmentations"]
        n = len(segs)
        cats = im.get("categories", [0] * n)
        areas = im.get("areas", [-1.0] * n)
        bboxes = im.get("bboxes", [None] * n)
        crowd = im.get("iscrowd", [0] * n)
        ignore = im.get("ignore", [0] * n)
        insts = [
            InstanceAnn(segs[i], int(cats[i]), float(areas[i]), bboxes[i], bool(crowd[i]) or bool(ignore[i]), i)
            for i in range(n)
        ]
        out.append(
            ImageRecord(
                name,
                im.get("id", k),
                confined_join(image_root, im["image_path"], json_file, "image_path"),
                int(im["height"]),
                int(im["width"]),
                insts,
                annotation_file=json_file,
            )
        )
    return out


def _sequences(seqs: list, json_file: str, image_root: str, name: str) -> list[VideoRecord]:
    out = []
    for seq in seqs:
        paths = [confined_join(image_root, p, json_file, "image path") for p in seq["image_paths"]]
        h, w = seq.get("height"), seq.get("width")
        if "tracks" in seq:
            if len(seq["tracks"]) != len(paths):
                raise DataError(
                    json_file, f"sequence {seq['id']}: {len(seq['tracks'])} track entries for {len(paths)} frames"
                )
            anns = {
                t: {int(oid): v["seg"] for oid, v in frame.items()} for t, frame in enumerate(seq["tracks"]) if frame
            }
            declared = {int(k): int(v) for k, v in seq.get("categories", {}).items()} or None
            first = None
        else:
            anns = {int(t): {int(oid): rle for oid, rle in objs.items()} for t, objs in seq["segmentations"].items()}
            declared, first = None, {}
            for t in sorted(anns):
                for oid in anns[t]:
                    first.setdefault(oid, t)
        for t in anns:
            if not 0 <= t < len(paths):
                raise DataError(
                    json_file, f"sequence {seq['id']}: annotation for frame {t} but only {len(paths)} frames"
                )
        eval_frames = None
        if "eval_files" in seq:
            index = {os.path.basename(p): i for i, p in enumerate(seq["image_paths"])}
            stems = {os.path.splitext(k)[0]: v for k, v in index.items()}
            eval_frames = [index.get(f, stems.get(os.path.splitext(f)[0], -1)) for f in seq["eval_files"]]
            if -1 in eval_frames:
                raise DataError(json_file, f"sequence {seq['id']}: eval_files name frames not in image_paths")
        out.append(
            VideoRecord(
                dataset=name,
                video_id=str(seq["id"]),
                frame_paths=paths,
                annotations=anns,
                declared_objects=declared,
                first_frames=first,
                height=int(h) if h is not None else None,
                width=int(w) if w is not None else None,
                eval_frames=eval_frames,
                source=json_file,
            )
        )
    return out
