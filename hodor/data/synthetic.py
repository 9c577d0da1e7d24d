"""Synthetic datasets written in the official on-disk layouts of COCO, DAVIS 2017 and YouTube-VOS.

They let the real dataset readers run end to end in tests, and let a newcomer train the
static-image regime and evaluate J&F on CPU without downloading anything::

    python datasets/make_synthetic.py --out datasets/synthetic --preset quickstart --seed 0
    python -m hodor.data.synthetic --out /tmp/syn --preset tiny

Everything is deterministic for a given seed: each image/video draws from its own RNG seeded by
(seed, layout, split, index), so asking for more items never changes the first ones. Objects in
the images and in the videos come from the same sampler (``synthetic_render.sample_object``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from hodor.utils.logger import get_logger

from ..utils.palette import save_index_png
from .synthetic_render import SHAPE_KINDS
from .synthetic_scenes import first_mask_iou, render_video, sample_image_scene, sample_video_scene

__all__ = ["PRESETS", "make_coco", "make_davis", "make_youtube_vos", "make_all", "main"]

logger = get_logger(__name__)

GENERATOR_VERSION = 2  # bump when the same seed starts producing different data
JPEG_QUALITY = 92
YTVOS_ANNOTATION_STRIDE = 5  # YouTube-VOS annotates every 5th frame
CATEGORIES = [{"id": i + 1, "name": k, "supercategory": "shape"} for i, k in enumerate(SHAPE_KINDS)]
_CAT_ID = {c["name"]: c["id"] for c in CATEGORIES}

PRESETS: dict[str, dict[str, dict]] = {
    # unit tests: a handful of tiny items, well under a second
    "tiny": {
        "coco": {"num_images": 6, "image_size": [64, 96], "max_objects": 6},
        "davis": {"splits": {"train": 1, "val": 2}, "num_frames": 6, "image_size": [64, 96], "max_objects": 2},
        "ytvos_train": {"num_videos": 2, "num_frames": 11, "image_size": [64, 96], "max_objects": 3},
        "ytvos_valid": {"num_videos": 1, "num_frames": 11, "image_size": [64, 96], "max_objects": 3},
    },
    # CPU quick start: train on coco (static images), evaluate J&F on DAVIS val
    "quickstart": {
        "coco": {"num_images": 400, "image_size": [160, 224], "max_objects": 6},
        "davis": {"splits": {"train": 4, "val": 10}, "num_frames": 16, "image_size": [160, 224], "max_objects": 3},
        "ytvos_train": {"num_videos": 30, "num_frames": 20, "image_size": [160, 224], "max_objects": 3},
        "ytvos_valid": {"num_videos": 4, "num_frames": 20, "image_size": [160, 224], "max_objects": 3},
    },
}
_LAYOUT_CODE = {"coco": 1, "davis": 2, "ytvos": 3}


def _rng(seed: int, layout: str, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, _LAYOUT_CODE[layout], zlib.crc32(split.encode()), index])


def _check_free(path: str, overwrite: bool) -> None:
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True (--overwrite) to write over it")


def _size(image_size: Sequence[int], max_objects: int, num_frames: int = 1) -> tuple[int, int]:
    """Validate the common arguments; returns (H, W)."""
    if len(image_size) != 2 or min(int(v) for v in image_size) < 32:
        raise ValueError(f"image_size must be [H, W] with both >= 32 pixels, got {list(image_size)}")
    if not 1 <= max_objects <= 250:
        raise ValueError(f"max_objects must be in 1..250 (uint8 label maps), got {max_objects}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    return int(image_size[0]), int(image_size[1])


def _save_jpg(path: str, image: np.ndarray) -> None:
    Image.fromarray(image).save(path, quality=JPEG_QUALITY)


def _write_json(path: str, obj: object) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, separators=(",", ":"))


# ------------------------------------------------------------------------------------- COCO
ORIENTATIONS = ("landscape", "portrait", "square")


def _oriented(h: int, w: int, orientation: str) -> tuple[int, int]:
    """(H, W) of a landscape / portrait / square image of about the area of ``h x w``."""
    lo, hi = sorted((h, w))
    if orientation == "landscape":
        return lo, hi
    if orientation == "portrait":
        return hi, lo
    if orientation == "square":
        s = max(32, int(round((h * w) ** 0.5 / 8)) * 8)
        return s, s
    raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO uncompressed RLE (as used for iscrowd=1): column-major run lengths, zeros first."""
    flat = mask.ravel(order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return {"counts": counts, "size": list(mask.shape)}


def _polygons(mask: np.ndarray) -> list[list[float]] | None:
    """Polygons that pycocotools rasterises back to exactly ``mask``, or None (holes, mismatch).

    Contours are traced on a 2x nearest-upsampled mask and mapped back with (k + 0.5) / 2: the
    vertices then sit a quarter pixel inside the pixel edges, which pycocotools' polygon
    rasteriser turns into exactly the original pixels (checked on every instance below).
    """
    up = cv2.resize(mask.astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None or (hierarchy[0][:, 3] >= 0).any():  # a contour with a parent = a hole
        return None
    polys = [((c.reshape(-1, 2) + 0.5) / 2.0).reshape(-1).tolist() for c in contours if len(c) >= 3]
    if not polys:
        return None
    h, w = mask.shape
    decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polys, h, w)))
    return polys if np.array_equal(decoded.astype(bool), mask) else None


def _coco_annotation(mask: np.ndarray, is_crowd: bool, use_rle: bool) -> dict:
    """segmentation/area/bbox/iscrowd for one instance; area and bbox are those of ``mask``."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    if is_crowd:
        seg: object = _uncompressed_rle(mask)
    else:
        seg = None if use_rle else _polygons(mask)
        if seg is None:
            seg = {"counts": rle["counts"].decode("ascii"), "size": list(mask.shape)}
    return {
        "segmentation": seg,
        "area": float(mask.sum()),
        "bbox": [float(v) for v in mask_utils.toBbox(rle)],
        "iscrowd": int(is_crowd),
    }


def make_coco(
    root: str,
    num_images: int = 400,
    image_size: Sequence[int] = (160, 224),
    max_objects: int = 4,
    seed: int = 0,
    split: str = "train2017",
    rle_fraction: float = 0.1,
    crowd_prob: float = 0.2,
    overwrite: bool = False,
    orientations: Sequence[str] = ORIENTATIONS,
) -> dict:
    """Write ``root/annotations/instances_<split>.json`` and ``root/<split>/*.jpg``.

    Image i is landscape (``image_size``), portrait (transposed) or square (same area), cycling
    through ``orientations``, and asks for ``1 + i % max_objects`` objects (fewer when they do not
    fit), so batch grouping and object-count balancing have something to do.

    Segmentations are polygons for most instances (several polygons when occlusion splits an
    object), compressed RLE for instances with holes and for ``rle_fraction`` of the others, and
    uncompressed RLE for the iscrowd=1 crowd regions, so that readers must handle all three.

    Returns: stats dict (counts, seconds).
    """
    t0 = time.perf_counter()
    h, w = _size(image_size, max_objects)
    ann_file = os.path.join(root, "annotations", f"instances_{split}.json")
    _check_free(ann_file, overwrite)
    os.makedirs(os.path.dirname(ann_file), exist_ok=True)
    os.makedirs(os.path.join(root, split), exist_ok=True)
    images, annotations = [], []
    kinds = {"polygon": 0, "rle": 0, "crowd_rle": 0}
    for i in range(num_images):
        rng = _rng(seed, "coco", split, i)
        hi, wi = _oriented(h, w, orientations[i % len(orientations)])
        scene = sample_image_scene(rng, hi, wi, max_objects, crowd_prob=crowd_prob, num_objects=1 + i % max_objects)
        image_id = i + 1
        file_name = f"{image_id:012d}.jpg"
        _save_jpg(os.path.join(root, split, file_name), scene.image)
        images.append({"id": image_id, "file_name": file_name, "height": hi, "width": wi})
        for label, category, is_crowd in scene.objects:
            ann = _coco_annotation(scene.labels == label, is_crowd, use_rle=rng.random() < rle_fraction)
            ann.update(id=len(annotations) + 1, image_id=image_id, category_id=_CAT_ID[category])
            annotations.append(ann)
            seg = ann["segmentation"]
            kinds["crowd_rle" if is_crowd else "polygon" if isinstance(seg, list) else "rle"] += 1
    info = {"description": "hodor synthetic COCO-layout images", "version": str(GENERATOR_VERSION), "seed": seed}
    _write_json(
        ann_file, {"info": info, "licenses": [], "images": images, "annotations": annotations, "categories": CATEGORIES}
    )
    stats = {"images": num_images, "annotations": len(annotations), **kinds, "seconds": time.perf_counter() - t0}
    logger.info("COCO layout -> %s: %s", root, stats)
    return stats


# ------------------------------------------------------------------------------------ videos


def _video_stats(ious: list[float], t0: float, **counts: int) -> dict:
    return {
        **counts,
        "first_mask_iou_mean": float(np.mean(ious)) if ious else None,
        "first_mask_iou_max": float(np.max(ious)) if ious else None,
        "seconds": time.perf_counter() - t0,
    }


def make_davis(
    root: str,
    num_videos: int = 10,
    num_frames: int = 16,
    image_size: Sequence[int] = (160, 224),
    max_objects: int = 3,
    seed: int = 0,
    split_name: str = "val",
    resolution: str = "480p",
    splits: dict[str, int] | None = None,
    overwrite: bool = False,
) -> dict:
    """Write a DAVIS 2017 layout: ``JPEGImages/<res>/<seq>/%05d.jpg``, ``Annotations/<res>/<seq>/
    %05d.png`` (palette PNG, index = object id, every frame annotated), ``ImageSets/2017/<split>.txt``.

    ``splits`` (e.g. ``{"train": 4, "val": 10}``) writes several splits at once and overrides
    ``num_videos``/``split_name``. Sequence names embed the split, so splits never overlap.

    Returns: stats dict, including the mean IoU between each object's first mask and its later
    masks (what copying the first mask would score as J; low means the videos are not trivial).
    """
    t0 = time.perf_counter()
    h, w = _size(image_size, max_objects, num_frames)
    splits = dict(splits) if splits else {split_name: num_videos}
    for split in splits:
        _check_free(os.path.join(root, "ImageSets", "2017", f"{split}.txt"), overwrite)
    os.makedirs(os.path.join(root, "ImageSets", "2017"), exist_ok=True)
    ious: list[float] = []
    n_obj = 0
    for split, count in splits.items():
        names = []
        for i in range(count):
            rng = _rng(seed, "davis", split, i)
            name = f"synth-{split}-{i:03d}"
            frames, labels = render_video(sample_video_scene(rng, h, w, num_frames, max_objects), rng)
            img_dir = os.path.join(root, "JPEGImages", resolution, name)
            ann_dir = os.path.join(root, "Annotations", resolution, name)
            os.makedirs(img_dir, exist_ok=True)
            os.makedirs(ann_dir, exist_ok=True)
            for t in range(num_frames):
                _save_jpg(os.path.join(img_dir, f"{t:05d}.jpg"), frames[t])
                save_index_png(os.path.join(ann_dir, f"{t:05d}.png"), labels[t])
            per_obj = first_mask_iou(labels)
            ious += list(per_obj.values())
            n_obj += len(per_obj)
            names.append(name)
        with open(os.path.join(root, "ImageSets", "2017", f"{split}.txt"), "w", encoding="utf-8") as fh:
            fh.write("".join(n + "\n" for n in names))
    stats = _video_stats(ious, t0, videos=sum(splits.values()), frames=num_frames, objects=n_obj)
    logger.info("DAVIS layout -> %s %s: %s", root, splits, stats)
    return stats


def make_youtube_vos(
    root: str,
    num_videos: int = 30,
    num_frames: int = 20,
    image_size: Sequence[int] = (160, 224),
    max_objects: int = 3,
    seed: int = 0,
    split: str = "train",
    overwrite: bool = False,
) -> dict:
    """Write a YouTube-VOS 2019 layout under ``root/<split>``: ``JPEGImages/<vid>/%05d.jpg`` (all
    frames), ``Annotations/<vid>/%05d.png`` and ``meta.json``.

    Some objects start at a later annotated frame. ``split="train"``: every 5th frame annotated
    with all objects; meta ``frames`` = annotated frames where the object is visible.
    ``split="valid"`` (or any other name): only each object's first-appearance frame is
    annotated, containing only the objects that appear there (as in the real valid set); meta
    ``frames`` = every 5th frame from the first appearance on (the frames that would be scored).
    """
    t0 = time.perf_counter()
    h, w = _size(image_size, max_objects, num_frames)
    split_root = os.path.join(root, split)
    _check_free(os.path.join(split_root, "meta.json"), overwrite)
    stride = YTVOS_ANNOTATION_STRIDE
    annotated = list(range(0, num_frames, stride))
    meta: dict[str, dict] = {"videos": {}}
    ious: list[float] = []
    n_late = 0
    for i in range(num_videos):
        rng = _rng(seed, "ytvos", split, i)
        vid = f"{zlib.crc32(f'{seed}-{split}-{i}'.encode()):08x}{i % 100:02d}"  # 10 hex chars, like real ids
        scene = sample_video_scene(rng, h, w, num_frames, max_objects, late_start_stride=stride)
        frames, labels = render_video(scene, rng)
        img_dir, ann_dir = os.path.join(split_root, "JPEGImages", vid), os.path.join(split_root, "Annotations", vid)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for t in range(num_frames):
            _save_jpg(os.path.join(img_dir, f"{t:05d}.jpg"), frames[t])
        objects = {}
        for k, (spec, start) in enumerate(zip(scene.specs, scene.starts)):
            obj = k + 1
            if split == "train":
                fr = [t for t in annotated if (labels[t] == obj).any()]
            else:
                fr = [t for t in annotated if t >= start]
            objects[str(obj)] = {"category": spec.kind, "frames": [f"{t:05d}" for t in fr]}
            n_late += start > 0
        meta["videos"][vid] = {"objects": objects}
        if split == "train":
            for t in annotated:
                save_index_png(os.path.join(ann_dir, f"{t:05d}.png"), labels[t])
        else:
            for t in sorted(set(scene.starts)):
                firsts = [k + 1 for k, s in enumerate(scene.starts) if s == t]
                save_index_png(
                    os.path.join(ann_dir, f"{t:05d}.png"), np.where(np.isin(labels[t], firsts), labels[t], 0)
                )
        ious += list(first_mask_iou(labels).values())
    _write_json(os.path.join(split_root, "meta.json"), meta)
    stats = _video_stats(ious, t0, videos=num_videos, frames=num_frames, late_objects=n_late)
    logger.info("YouTube-VOS layout -> %s: %s", split_root, stats)
    return stats


# ----------------------------------------------------------------------------------- presets


def make_all(
    root: str,
    preset: str = "quickstart",
    seed: int = 0,
    layouts: Sequence[str] = ("coco", "davis", "ytvos"),
    overrides: dict[str, dict] | None = None,
    overwrite: bool = False,
) -> dict:
    """Write ``root/coco``, ``root/DAVIS``, ``root/YouTube-VOS`` for a preset, and
    ``root/SYNTHETIC.json`` describing what was written (preset, seed, parameters, stats).

    Args:
        preset: a key of :data:`PRESETS` ("tiny" for unit tests, "quickstart" for the CPU demo).
        layouts: subset of "coco", "davis", "ytvos".
        overrides: per-part parameter overrides, e.g. ``{"coco": {"num_images": 50}}``; parts
            are "coco", "davis", "ytvos_train", "ytvos_valid".
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown synthetic preset {preset!r}; choose one of {sorted(PRESETS)}")
    unknown = set(layouts) - set(_LAYOUT_CODE)
    if unknown:
        raise ValueError(f"unknown layouts {sorted(unknown)}; choose from {sorted(_LAYOUT_CODE)}")
    params = {part: dict(p) for part, p in PRESETS[preset].items()}
    for part, extra in (overrides or {}).items():
        if part not in params:
            raise ValueError(f"unknown preset part {part!r} in overrides; expected one of {sorted(params)}")
        params[part].update(extra)
    stats: dict[str, dict] = {}
    if "coco" in layouts:
        stats["coco"] = make_coco(os.path.join(root, "coco"), seed=seed, overwrite=overwrite, **params["coco"])
    if "davis" in layouts:
        stats["davis"] = make_davis(os.path.join(root, "DAVIS"), seed=seed, overwrite=overwrite, **params["davis"])
    if "ytvos" in layouts:
        for split in ("train", "valid"):
            stats[f"ytvos_{split}"] = make_youtube_vos(
                os.path.join(root, "YouTube-VOS"),
                seed=seed,
                split=split,
                overwrite=overwrite,
                **params[f"ytvos_{split}"],
            )
    used = {part: p for part, p in params.items() if part.split("_")[0] in layouts}
    desc = {"generator": "hodor.data.synthetic", "version": GENERATOR_VERSION, "preset": preset, "seed": seed}
    with open(os.path.join(root, "SYNTHETIC.json"), "w", encoding="utf-8") as fh:
        # timings are left out so that the same seed gives a byte-identical file
        kept = {part: {k: v for k, v in st.items() if k != "seconds"} for part, st in stats.items()}
        json.dump({**desc, "params": used, "stats": kept}, fh, indent=2)
    return stats


def _int_at_least(minimum: int):
    """argparse type: an integer >= ``minimum`` (argparse prints the message and exits 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", required=True, help="root folder; coco/, DAVIS/, YouTube-VOS/ are written inside")
    p.add_argument("--preset", default="quickstart", choices=sorted(PRESETS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layouts", nargs="+", default=["coco", "davis", "ytvos"], choices=sorted(_LAYOUT_CODE))
    p.add_argument("--overwrite", action="store_true", help="write over an existing synthetic dataset")
    p.add_argument(
        "--image-size", type=_int_at_least(32), nargs=2, metavar=("H", "W"), help="frame size for every layout"
    )
    p.add_argument("--max-objects", type=_int_at_least(1), help="maximum objects per image/video")
    p.add_argument("--coco-images", type=_int_at_least(1))
    p.add_argument("--davis-train", type=_int_at_least(0), help="number of DAVIS train videos (0: no train split)")
    p.add_argument("--davis-val", type=_int_at_least(0), help="number of DAVIS val videos (0: no val split)")
    p.add_argument("--davis-frames", type=_int_at_least(2))
    p.add_argument("--ytvos-train", type=_int_at_least(1), help="number of YouTube-VOS train videos")
    p.add_argument("--ytvos-valid", type=_int_at_least(1), help="number of YouTube-VOS valid videos")
    p.add_argument("--ytvos-frames", type=_int_at_least(2))
    return p


def _overrides(args: argparse.Namespace) -> dict[str, dict]:
    o: dict[str, dict] = {"coco": {}, "davis": {}, "ytvos_train": {}, "ytvos_valid": {}}
    for part in o:
        if args.image_size:
            o[part]["image_size"] = list(args.image_size)
        if args.max_objects is not None:
            o[part]["max_objects"] = args.max_objects
    if args.coco_images is not None:
        o["coco"]["num_images"] = args.coco_images
    if args.davis_train is not None or args.davis_val is not None:
        base = PRESETS[args.preset]["davis"]["splits"]
        train = base["train"] if args.davis_train is None else args.davis_train
        val = base["val"] if args.davis_val is None else args.davis_val
        o["davis"]["splits"] = {k: v for k, v in (("train", train), ("val", val)) if v > 0}
    if args.davis_frames is not None:
        o["davis"]["num_frames"] = args.davis_frames
    for split in ("train", "valid"):
        n = getattr(args, f"ytvos_{split}")
        if n is not None:
            o[f"ytvos_{split}"]["num_videos"] = n
        if args.ytvos_frames is not None:
            o[f"ytvos_{split}"]["num_frames"] = args.ytvos_frames
    return o


def main(argv: Sequence[str] | None = None) -> dict:
    """Generate from command-line arguments; returns the stats. Raises ``FileExistsError`` for an
    existing dataset without ``--overwrite`` (``cli``, the script and ``python -m`` turn it into
    one ``error:`` line and exit status 2)."""
    from hodor.utils.logger import setup_logger

    args = _parser().parse_args(argv)
    setup_logger()
    stats = make_all(args.out, args.preset, args.seed, args.layouts, _overrides(args), args.overwrite)
    for part, s in stats.items():
        print(f"{part}: " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in s.items()))
    return stats


def cli(argv: Sequence[str] | None = None) -> int:
    """Console script ``hodor-synthetic``: like ``main`` but returns an exit status (2: bad arguments)."""
    from hodor.utils.errors import run_cli

    return run_cli(lambda args: (main(args), 0)[1], argv, also=(ValueError,))


if __name__ == "__main__":
    if status := cli():  # exit only on failure: runpy-based callers keep running after success
        sys.exit(status)
