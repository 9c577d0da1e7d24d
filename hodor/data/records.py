"""Light, lazy dataset records: paths and metadata at start-up, pixels only when asked.

Two record types cover every dataset hodor reads:

* :class:`ImageRecord` - one static image with instance annotations (COCO, HODOR image JSON).
  ``instances`` hold the *encoded* segmentations (polygons or RLE); nothing is decoded until
  :meth:`ImageRecord.load_masks` is called by a mapper.
* :class:`VideoRecord` - one video: ordered frame paths plus the frames that carry an index-mask
  annotation (DAVIS/YouTube-VOS PNGs or HODOR-JSON RLEs). :meth:`VideoRecord.load_mask` decodes one
  frame's index map (0 = background, 255 = void, other values = object ids) and checks its size and
  ids against the frame and the metadata.

Keeping records this small is what makes YouTube-VOS-sized metadata load in about a second.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from ..utils.labels import VOID_ID, object_ids
from .io import DataError, image_size, read_image, read_index_mask

__all__ = ["InstanceAnn", "ImageRecord", "PseudoLabel", "VideoRecord", "VOID_ID", "decode_segmentation"]


def check_polygons(seg: list, height: int, width: int, source: str) -> None:
    """Refuse polygons pycocotools would mis-handle: it segfaults on huge coordinates and
    silently misreads strings. Coordinates must be finite numbers, in x/y pairs, within one image
    size of the image (COCO polygons may overshoot the border slightly; pycocotools clips them).
    """
    for k, poly in enumerate(seg):
        if not isinstance(poly, (list, tuple)):
            raise DataError(source, f"polygon {k} is a {type(poly).__name__}, expected a list of x, y numbers")
        if len(poly) % 2:
            raise DataError(source, f"polygon {k} has an odd number of coordinates ({len(poly)}); expected x, y pairs")
        for j, v in enumerate(poly):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise DataError(source, f"polygon {k} coordinate {j} is {v!r}, not a number")
            limit = width if j % 2 == 0 else height
            if not (math.isfinite(v) and -limit <= v <= 2 * limit):
                raise DataError(
                    source,
                    f"polygon {k} coordinate {j} = {v!r} is outside the {width}x{height} image "
                    f"(allowed {-limit}..{2 * limit})",
                )


def decode_segmentation(seg: Any, height: int, width: int, source: str) -> np.ndarray:
    """Decode a COCO polygon list, uncompressed RLE or compressed RLE (dict or string) to uint8 ``[H, W]``."""
    try:
        if isinstance(seg, list):  # polygons
            check_polygons(seg, height, width, source)
            polys = [p for p in seg if len(p) >= 6]
            if not polys:
                return np.zeros((height, width), np.uint8)
            rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
        elif isinstance(seg, str):  # HODOR JSON: compressed counts as a UTF-8 string
            rle = {"size": [height, width], "counts": seg.encode("utf-8")}
        elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):  # uncompressed RLE
            rle = mask_utils.frPyObjects(seg, *seg["size"])
        elif isinstance(seg, dict):
            counts = seg["counts"]
            rle = {"size": list(seg["size"]), "counts": counts.encode("utf-8") if isinstance(counts, str) else counts}
        else:
            raise TypeError(f"unsupported segmentation type {type(seg).__name__}")
        with warnings.catch_warnings():  # pycocotools + numpy 2: harmless __array__(copy=...) notice
            warnings.simplefilter("ignore", DeprecationWarning)
            m = mask_utils.decode(rle)
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as e:
        raise DataError(source, f"cannot decode segmentation ({type(e).__name__}: {e})") from e
    if m.shape[:2] != (height, width):
        raise DataError(source, f"segmentation size {m.shape[:2]} differs from the image size {(height, width)}")
    return m.astype(np.uint8)


@dataclass
class InstanceAnn:
    """One annotated instance of an image (segmentation stays encoded)."""

    segmentation: Any  # polygons (list), RLE dict or compressed RLE string
    category_id: int = 0
    area: float = -1.0  # pixels at original resolution; -1 = unknown (computed on decode)
    bbox: list[float] | None = None  # [x, y, w, h]
    iscrowd: bool = False
    ann_id: int | str | None = None


@dataclass
class ImageRecord:
    """A static image with its instances.

    Crowd instances (``iscrowd``) are never objects: :meth:`load_masks` drops them, so their pixels
    become background. (The batch format has no ignore label; see datasets/README.md.)
    """

    dataset: str
    image_id: int | str
    file_name: str  # absolute path
    height: int
    width: int
    instances: list[InstanceAnn] = field(default_factory=list)
    annotation_file: str = ""  # for error messages

    def load_image(self) -> np.ndarray:
        """RGB uint8 ``[H, W, 3]``; an image whose size differs from the annotation is an error."""
        img = read_image(self.file_name)
        if img.shape[:2] != (self.height, self.width):
            raise DataError(
                self.file_name,
                f"image is {img.shape[0]}x{img.shape[1]} but {self.annotation_file or 'the annotation'} says "
                f"{self.height}x{self.width}",
            )
        return img

    def load_masks(self, instances: list[InstanceAnn] | None = None) -> np.ndarray:
        """Binary masks ``[N, H, W]`` uint8 of the given (default: all non-crowd) instances."""
        insts = [i for i in self.instances if not i.iscrowd] if instances is None else instances
        src = f"{self.annotation_file or self.dataset} (image {self.image_id})"
        if not insts:
            return np.zeros((0, self.height, self.width), np.uint8)
        return np.stack([decode_segmentation(i.segmentation, self.height, self.width, src) for i in insts])


@dataclass(frozen=True)
class PseudoLabel:
    """A model-predicted mask of one frame (written by ``hodor-pseudo-label``, read by
    ``hodor.data.pseudo_labels``): an index PNG with the same object ids as the ground truth,
    and the confidence of each object in that frame (0..1; objects absent from the PNG may
    still be listed, with the confidence that they are absent)."""

    path: str  # index PNG, 0 = background, object ids as in the video's ground truth
    confidence: dict[int, float]  # object id -> confidence in [0, 1]


@dataclass
class VideoRecord:
    """One video: frame paths and the frames that carry a mask annotation.

    Attributes:
        frame_paths: every frame of the video in temporal order (absolute paths).
        annotations: ``frame index -> PNG path`` or ``frame index -> {object id: RLE}``; only
            annotated frames appear (YouTube-VOS train: every 5th frame; valid: first appearances).
        declared_objects: ``object id -> category`` from the metadata (meta.json, HODOR JSON),
            or None when the format declares none (DAVIS: objects are what the masks contain).
        first_frames: ``object id -> first frame index`` from the metadata when known.
        eval_frames: frame indices whose predictions are submitted (YouTube-VOS valid), None = all.
        pseudo_labels: ``frame index -> PseudoLabel`` for frames without ground truth that a
            pseudo-label dataset (``pseudo:<dir>``) covers; None for ordinary datasets.
    """

    dataset: str
    video_id: str
    frame_paths: list[str]
    annotations: dict[int, Any]
    declared_objects: dict[int, int] | None = None
    first_frames: dict[int, int] | None = None
    height: int | None = None
    width: int | None = None
    eval_frames: list[int] | None = None
    source: str = ""  # annotation file / folder, for error messages
    pseudo_labels: dict[int, PseudoLabel] | None = None
    _first_cache: dict[int, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.frame_paths)

    @property
    def frame_names(self) -> list[str]:
        """File stems (``00000``), used by submission writers."""
        return [os.path.splitext(os.path.basename(p))[0] for p in self.frame_paths]

    @property
    def annotated_frames(self) -> list[int]:
        """Sorted indices of frames that have a mask annotation."""
        return sorted(self.annotations)

    def load_frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as RGB uint8 ``[H, W, 3]``."""
        return read_image(self.frame_paths[i])

    def frame_size(self, i: int = 0) -> tuple[int, int]:
        if self.height is not None and self.width is not None:
            return self.height, self.width
        return image_size(self.frame_paths[i])

    def load_mask(self, i: int) -> np.ndarray:
        """Index map of annotated frame ``i``, int64 ``[H, W]``: 0 = bg, 255 = void, else object ids.

        Raises DataError when the frame has no annotation, the mask size differs from the
        frame, or the mask holds ids the metadata does not declare.
        """
        if i not in self.annotations:
            raise DataError(self.source or self.video_id, f"video {self.video_id}: frame {i} has no annotation")
        ann = self.annotations[i]
        if isinstance(ann, str):
            where = ann
            m = read_index_mask(ann).astype(np.int64)
            h, w = image_size(self.frame_paths[i])
            if m.shape != (h, w):
                raise DataError(ann, f"mask is {m.shape[0]}x{m.shape[1]} but frame {self.frame_paths[i]} is {h}x{w}")
        else:
            where = f"{self.source} (video {self.video_id}, frame {i})"
            h, w = self.frame_size(i)
            m = np.zeros((h, w), np.int64)
            for obj_id in sorted(ann, key=int):
                m[decode_segmentation(ann[obj_id], h, w, where) > 0] = int(obj_id)
        if self.declared_objects is not None:
            ids = set(object_ids(m))
            unknown = sorted(ids - set(self.declared_objects))
            if unknown:
                raise DataError(
                    where,
                    f"mask contains object ids {unknown} not declared in the metadata for video {self.video_id} "
                    f"(declared: {sorted(self.declared_objects)})",
                )
        return m

    def load_pseudo_mask(self, i: int) -> np.ndarray:
        """Pseudo-label index map of frame ``i``, int64 ``[H, W]`` (0 = bg, object ids as the GT).

        Raises DataError when frame ``i`` has no pseudo-label or its PNG differs in size from
        the frame.
        """
        if not self.pseudo_labels or i not in self.pseudo_labels:
            raise DataError(self.source or self.video_id, f"video {self.video_id}: frame {i} has no pseudo-label")
        path = self.pseudo_labels[i].path
        m = read_index_mask(path).astype(np.int64)
        h, w = self.frame_size(i)
        if m.shape != (h, w):
            raise DataError(
                path, f"pseudo-label is {m.shape[0]}x{m.shape[1]} but frame {self.frame_paths[i]} is {h}x{w}"
            )
        return m

    @property
    def object_first_frames(self) -> dict[int, int]:
        """``object id -> index of the first annotated frame showing it`` (lazy for DAVIS: scans masks)."""
        if self.first_frames is not None:
            return dict(self.first_frames)
        if self._first_cache is None:
            first: dict[int, int] = {}
            for i in self.annotated_frames:
                ann = self.annotations[i]
                ids = {int(k) for k in ann} if isinstance(ann, dict) else set(object_ids(self.load_mask(i)))
                for obj in ids:
                    first.setdefault(obj, i)
                if isinstance(ann, str) and self.declared_objects is None and first:
                    break  # DAVIS protocol: the objects are those of the first annotated frame
            self._first_cache = first
        return dict(self._first_cache)
