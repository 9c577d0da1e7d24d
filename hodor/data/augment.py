"""Joint image/mask augmentation for pseudo-clips (hodor-reference.md 2.5) and video clips (2.6).

Everything is built on ``torchvision.transforms.v2``: an image is a ``tv_tensors.Image``, its index
mask a ``tv_tensors.Mask`` and its "valid pixel" map (ones warped with the same transform) another
``tv_tensors.Mask``; passing them together to one transform call applies one sampled transform to
all three, so pixels and labels cannot drift apart. torchvision draws its random parameters from
torch's global RNG, so every call runs inside :func:`torch_seed`, seeded from the per-sample numpy
generator: a sample's augmentation depends only on that generator's seed.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms.v2 import functional as F

__all__ = [
    "AugConfig",
    "torch_seed",
    "to_tv",
    "color_jitter",
    "pseudo_clip_views",
    "video_geometric",
    "hflip_all",
    "px_size",
    "dims_size",
    "resize_frame",
]

View = tuple[tv_tensors.Image, tv_tensors.Mask, tv_tensors.Mask]  # image [3,H,W] u8, ids [1,H,W] u8, valid [1,H,W] u8


@dataclass(frozen=True)
class AugConfig:
    """Augmentation parameters (all from ``INPUT.AUG.*``; see defaults.py for their meaning)."""

    color: bool = True
    brightness: float = 0.2
    contrast: float = 0.05
    saturation: float = 0.05
    hue: float = 0.047
    video_brightness: float = 0.16
    crop_view_prob: float = 0.5
    crop_factors: tuple[float, ...] = (0.6, 0.7, 0.8)
    crop_min_keep: float = 0.5
    crop_max_tries: int = 10
    preserve_crop_range: tuple[float, float] = (0.6, 0.9)
    crop_view_affine_prob: float = 0.5
    crop_view_rotate: float = 10.0
    crop_view_shear: float = 5.0
    basic_translate: float = 0.25
    basic_rotate: float = 20.0
    basic_shear: float = 10.0
    basic_perspective: tuple[float, float] = (0.10, 0.12)
    basic_crop_range: tuple[float, float] = (0.10, 0.25)
    flip_prob: float = 0.5
    video_crop_prob: float = 0.5
    video_rotate: float = 20.0
    video_shear: float = 10.0
    video_perspective: tuple[float, float] = (0.08, 0.10)
    video_affine_tries: int = 3

    @classmethod
    def from_config(cls, cfg) -> AugConfig:
        """Every field is the lower-case name of an ``INPUT.AUG`` key (lists become tuples)."""
        a = cfg.INPUT.AUG
        values = {f.name: a[f.name.upper()] for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@contextlib.contextmanager
def torch_seed(rng: np.random.Generator) -> Iterator[None]:
    """Run torchvision's parameter sampling on a private torch RNG seeded from ``rng``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(0, 2**62)))
        yield


def to_tv(image: np.ndarray, index_mask: np.ndarray) -> View:
    """RGB uint8 ``[H,W,3]`` + index map ``[H,W]`` (values < 256) -> (Image, Mask, valid Mask)."""
    img = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous())
    ids = tv_tensors.Mask(torch.from_numpy(index_mask.astype(np.uint8))[None])
    valid = tv_tensors.Mask(torch.ones_like(ids))
    return img, ids, valid


_FILL = {tv_tensors.Image: 0, tv_tensors.Mask: 0}


def color_jitter(images: list[tv_tensors.Image], brightness: float, aug: AugConfig) -> list[tv_tensors.Image]:
    """One ColorJitter draw applied to all ``images`` (call per image for independent draws)."""
    if not aug.color:
        return images
    jit = v2.ColorJitter(brightness=brightness, contrast=aug.contrast, saturation=aug.saturation, hue=aug.hue)
    out = jit(*images)
    return list(out) if isinstance(out, tuple) else [out]


def _areas(ids: torch.Tensor, num: int) -> np.ndarray:
    return np.bincount(ids.reshape(-1).numpy(), minlength=num + 1)[1 : num + 1]


def _crop_keeps_objects(
    ids: torch.Tensor, num: int, box: tuple[int, int, int, int], keep: float, min_area: int
) -> bool:
    top, left, h, w = box
    full = _areas(ids, num)
    part = _areas(ids[..., top : top + h, left : left + w], num)
    present = full > 0
    return bool(np.all(part[present] >= keep * full[present]) and np.all(part[present] >= min_area))


def _validated_crop(
    ids: torch.Tensor, num: int, aug: AugConfig, rng: np.random.Generator, min_area: int
) -> tuple[int, int, int, int] | None:
    """A crop keeping >= crop_min_keep of every object (and >= min_area px), else a crop that
    contains all objects' bounding box, else None (reference-frame rule of the original)."""
    H, W = ids.shape[-2:]
    for _ in range(aug.crop_max_tries):
        f = float(rng.choice(aug.crop_factors))
        h, w = max(1, round(f * H)), max(1, round(f * W))
        box = (int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1)), h, w)
        if _crop_keeps_objects(ids, num, box, aug.crop_min_keep, min_area):
            return box
    fg = torch.nonzero(ids[0] > 0)
    if len(fg) == 0:
        return None
    y0, x0 = fg.min(0).values.tolist()
    y1, x1 = (fg.max(0).values + 1).tolist()
    lo, hi = aug.preserve_crop_range
    for _ in range(aug.crop_max_tries):
        f = float(rng.uniform(lo, hi))
        h, w = round(f * H), round(f * W)
        if h >= y1 - y0 and w >= x1 - x0:
            top = int(rng.integers(max(0, y1 - h), min(y0, H - h) + 1))
            left = int(rng.integers(max(0, x1 - w), min(x0, W - w) + 1))
            return top, left, h, w
    return None


def _crop_back(view: View, box: tuple[int, int, int, int]) -> View:
    """Crop and resize back to the original size (bicubic image, nearest masks)."""
    img, ids, valid = view
    size = list(img.shape[-2:])
    return (
        F.resized_crop(img, *box, size=size, interpolation=InterpolationMode.BICUBIC, antialias=True),
        F.resized_crop(ids, *box, size=size),
        F.resized_crop(valid, *box, size=size),
    )


def _random_crop_box(H: int, W: int, f: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    h, w = max(1, round(f * H)), max(1, round(f * W))
    return int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1)), h, w


def _affine(view: View, degrees: float, shear: float, translate: float | None = None) -> View:
    t = v2.RandomAffine(
        degrees=degrees,
        translate=(translate, translate) if translate else None,
        shear=(-shear, shear, -shear, shear),
        fill=_FILL,
    )
    return t(*view)


def _perspective_points(
    H: int, W: int, scale_range: tuple[float, float], rng: np.random.Generator
) -> tuple[list[list[float]], list[list[float]]]:
    """(startpoints, endpoints) of imgaug's ``PerspectiveTransform(scale, keep_size=True)``.

    Each corner moves inwards by ``|N(0, sigma)| mod 1`` of the image width / height (sigma drawn
    from ``scale_range``); the quadrilateral of the moved corners is stretched back onto the whole
    image - a zoom-in that never shows pixels from outside the image (torchvision's
    RandomPerspective instead shrinks the image onto an inner quadrilateral, uniform offsets).
    """
    sigma = float(rng.uniform(*scale_range))
    j = np.mod(np.abs(rng.normal(0.0, sigma, size=(4, 2))), 1.0)
    fx = [j[0, 0], 1.0 - j[1, 0], 1.0 - j[2, 0], j[3, 0]]  # tl, tr, br, bl
    fy = [j[0, 1], j[1, 1], 1.0 - j[2, 1], 1.0 - j[3, 1]]
    start = [[float(x * (W - 1)), float(y * (H - 1))] for x, y in zip(fx, fy, strict=True)]
    end = [[0.0, 0.0], [W - 1.0, 0.0], [W - 1.0, H - 1.0], [0.0, H - 1.0]]
    return start, end


def _warp_perspective(view: View, points: tuple[list[list[float]], list[list[float]]]) -> View:
    img, ids, valid = view
    start, end = points
    return (
        F.perspective(img, start, end, interpolation=InterpolationMode.BILINEAR, fill=0),
        F.perspective(ids, start, end, fill=0),  # masks: nearest
        F.perspective(valid, start, end, fill=0),
    )


def _perspective(view: View, scale_range: tuple[float, float], rng: np.random.Generator) -> View:
    H, W = view[0].shape[-2:]
    return _warp_perspective(view, _perspective_points(H, W, scale_range, rng))


def pseudo_clip_views(
    view: View, num_objects: int, num_frames: int, aug: AugConfig, rng: np.random.Generator, min_area: int
) -> tuple[list[View], str]:
    """Turn one (colour-jittered) image into ``num_frames`` views; frame 0 is the reference.

    Returns the views and the recipe used ("crop" or "basic"). Must be called inside
    :func:`torch_seed` so torchvision's draws are reproducible.
    """
    H, W = view[0].shape[-2:]
    views: list[View] = []
    if rng.random() < aug.crop_view_prob:
        box = _validated_crop(view[1], num_objects, aug, rng, min_area)
        views.append(_crop_back(view, box) if box is not None else view)
        f = float(rng.choice(aug.crop_factors))
        for _ in range(num_frames - 1):
            v = _crop_back(view, _random_crop_box(H, W, f, rng))
            if rng.random() < aug.crop_view_affine_prob:
                v = _affine(v, aug.crop_view_rotate, aug.crop_view_shear)
            views.append(v)
        return views, "crop"
    views.append(view)
    for _ in range(num_frames - 1):
        choice = int(rng.integers(0, 3))
        if choice == 0:
            v = _affine(view, aug.basic_rotate, aug.basic_shear, aug.basic_translate)
        elif choice == 1:
            v = _perspective(view, aug.basic_perspective, rng)
        else:
            frac = float(rng.uniform(*aug.basic_crop_range))
            dy, dx = round(frac * H), round(frac * W)
            v = _crop_back(view, (dy, dx, max(1, H - 2 * dy), max(1, W - 2 * dx)))
        views.append(v)
    return views, "basic"


def video_geometric(
    views: list[View], num_objects: int, aug: AugConfig, rng: np.random.Generator, min_area: int
) -> tuple[list[View], str]:
    """One geometric transform for all frames of a video clip, validated on the reference mask.

    p = video_crop_prob: a validated crop (as for pseudo-clips); else up to video_affine_tries
    affine/perspective draws, the first keeping >= crop_min_keep of every reference object;
    else no transform. Must run inside :func:`torch_seed`.
    """
    flat = [t for v in views for t in v]
    if rng.random() < aug.video_crop_prob:
        box = _validated_crop(views[0][1], num_objects, aug, rng, min_area)
        if box is None:
            return views, "none"
        return [_crop_back(v, box) for v in views], "crop"
    ref_area = _areas(views[0][1], num_objects)
    H, W = views[0][0].shape[-2:]
    for _ in range(aug.video_affine_tries):
        if rng.random() < 0.5:
            t = v2.RandomAffine(
                degrees=aug.video_rotate,
                shear=(-aug.video_shear, aug.video_shear, -aug.video_shear, aug.video_shear),
                fill=_FILL,
            )
            out = t(*flat)
        else:
            points = _perspective_points(H, W, aug.video_perspective, rng)
            out = [t for v in views for t in _warp_perspective(v, points)]
        new_area = _areas(out[1], num_objects)
        present = ref_area > 0
        if np.all(new_area[present] >= aug.crop_min_keep * ref_area[present]) and np.all(new_area[present] >= min_area):
            return [tuple(out[i : i + 3]) for i in range(0, len(out), 3)], "affine"
    return views, "none"


def hflip_all(views: list[View]) -> list[View]:
    """The same horizontal flip for every frame, mask and valid map."""
    return [tuple(F.horizontal_flip(t) for t in v) for v in views]


def px_size(h: int, w: int, area: int) -> tuple[int, int]:
    """Static-image "px" mode: about ``area`` pixels, aspect kept (480x640 -> 474x632 at 300k)."""
    nh = int(math.floor(math.sqrt(h / w * area)))
    return nh, int(math.floor(area / nh))


def dims_size(h: int, w: int, min_dim: int, max_dim: int) -> tuple[int, int]:
    """Video "dims" mode: shorter side -> min_dim unless the longer side would exceed max_dim."""
    scale = min_dim / min(h, w)
    if max(h, w) * scale > max_dim:
        scale = max_dim / max(h, w)
    return int(round(h * scale)), int(round(w * scale))


def resize_frame(view: View, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bilinear (no antialias, as F.interpolate in the original) float image; nearest masks.

    Returns float image ``[3,h,w]`` (0-255), int64 ids ``[h,w]``, bool valid ``[h,w]``.
    """
    img, ids, valid = view
    if tuple(img.shape[-2:]) != tuple(size):
        img = F.resize(img.float(), list(size), interpolation=InterpolationMode.BILINEAR, antialias=False)
        ids = F.resize(ids, list(size), interpolation=InterpolationMode.NEAREST_EXACT)
        valid = F.resize(valid, list(size), interpolation=InterpolationMode.NEAREST_EXACT)
    return (
        img.as_subclass(torch.Tensor).float(),
        ids[0].as_subclass(torch.Tensor).long(),
        valid[0].as_subclass(torch.Tensor) > 0,
    )
