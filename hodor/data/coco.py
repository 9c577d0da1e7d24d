"""COCO instance annotations (``instances_*.json``) -> :class:`ImageRecord` list, via pycocotools.

Polygons and RLE segmentations are kept encoded in the records. Crowd annotations are kept but
flagged (``iscrowd``): they are never training objects and their pixels end up as background.
"""

from __future__ import annotations

import contextlib
import io
import json
import os

from pycocotools.coco import COCO

from .io import DataError
from .paths import confined_join
from .records import ImageRecord, InstanceAnn

__all__ = ["load_coco_json"]


def load_coco_json(json_file: str, image_dir: str, dataset_name: str = "coco") -> list[ImageRecord]:
    """Read a COCO instances file; images without any annotation are kept (with no instances)."""
    if not os.path.isfile(json_file):
        raise DataError(json_file, "COCO annotation file not found")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            coco = COCO(json_file)
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise DataError(json_file, f"not a valid COCO instances file ({type(e).__name__}: {e})") from e
    records: list[ImageRecord] = []
    for img_id in sorted(coco.imgs):
        info = coco.imgs[img_id]
        try:
            h, w, fname = int(info["height"]), int(info["width"]), info["file_name"]
        except KeyError as e:
            raise DataError(json_file, f"image entry {img_id} lacks key {e}") from e
        insts = [
            InstanceAnn(
                segmentation=a["segmentation"],
                category_id=int(a.get("category_id", 0)),
                area=float(a.get("area", -1.0)),
                bbox=list(a["bbox"]) if "bbox" in a else None,
                iscrowd=bool(a.get("iscrowd", 0)),
                ann_id=a.get("id"),
            )
            for a in coco.imgToAnns.get(img_id, [])
            if "segmentation" in a
        ]
        records.append(
            ImageRecord(
                dataset_name,
                img_id,
                confined_join(image_dir, fname, json_file, f"image {img_id} file_name"),
                h,
                w,
                insts,
                annotation_file=json_file,
            )
        )
    return records
