"""Scene layouts for the synthetic datasets: static images and moving-object videos.

Videos are made hard on purpose, so that copying the first-frame mask to every frame fails:
objects translate by 20-45 % of their radius per frame (bouncing off the borders), rotate,
pulse in scale, stretch and deform, occlude each other (fixed depth order) and come with
distractors of the same texture family. They stay well posed: every object keeps at least
``min_visible`` of its area visible in every frame it is present in (occlusion is partial),
and its centre never leaves the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .synthetic_render import (
    ObjectSpec,
    Pose,
    object_outline,
    render_labels,
    render_scene,
    sample_background,
    sample_object,
    sample_sibling,
)

__all__ = [
    "ImageScene",
    "VideoScene",
    "sample_image_scene",
    "sample_video_scene",
    "render_video",
    "first_mask_iou",
]

OBJECT_RADIUS = (0.11, 0.22)  # object radius as a fraction of min(H, W)
CROWD_RADIUS = (0.03, 0.05)  # radius of the members of a crowd region
SIBLING_PROB = 0.45  # chance that a new object is a same-texture distractor of an earlier one
MAX_TRIES = 40


@dataclass
class ImageScene:
    """One static image: the rendered pixels, its exact label map and what each label is."""

    image: np.ndarray  # [H, W, 3] uint8 RGB
    labels: np.ndarray  # [H, W] uint8, 0 = background
    objects: list[tuple[int, str, bool]]  # (label, category name, is_crowd)


@dataclass
class VideoScene:
    """A video before rendering: object appearances, per-frame poses and a panning background."""

    specs: list[ObjectSpec]  # object i has label i + 1
    poses: list[list[Pose | None]]  # [T][N]; None = not present yet
    starts: list[int]  # first frame in which each object is present
    canvas: np.ndarray  # [H + 2p, W + 2p, 3] float32 background larger than a frame
    offsets: np.ndarray  # [T, 2] int (x, y) top-left of the camera window in the canvas
    size: tuple[int, int]  # (H, W)


def _radius_range(h: int, w: int, frac: tuple[float, float]) -> tuple[float, float]:
    s = min(h, w)
    return frac[0] * s, frac[1] * s


def _sample_specs(rng: np.random.Generator, n: int, h: int, w: int) -> list[ObjectSpec]:
    rr = _radius_range(h, w, OBJECT_RADIUS)
    specs: list[ObjectSpec] = []
    for i in range(n):
        if i > 0 and rng.random() < SIBLING_PROB:
            specs.append(sample_sibling(rng, specs[int(rng.integers(i))], rr))
        else:
            specs.append(sample_object(rng, rr))
    return specs


def _full_areas(items: list[tuple[ObjectSpec, Pose, int]], h: int, w: int) -> dict[int, int]:
    """Unoccluded in-image area of each label."""
    areas: dict[int, int] = {}
    for spec, pose, label in items:
        areas[label] = areas.get(label, 0) + int(render_labels([(spec, pose, 1)], h, w).sum())
    return areas


def _random_pose(rng: np.random.Generator, spec: ObjectSpec, h: int, w: int, margin: float) -> Pose:
    m = margin * spec.radius
    return Pose(
        cx=float(rng.uniform(m, w - m)),
        cy=float(rng.uniform(m, h - m)),
        scale=float(rng.uniform(0.8, 1.25)),
        angle=float(rng.uniform(0, 2 * np.pi)),
        stretch=float(np.exp(rng.uniform(-0.3, 0.3))),
        phase=float(rng.uniform(0, 2 * np.pi)),
    )


def _crowd_items(rng: np.random.Generator, h: int, w: int, label: int) -> list[tuple[ObjectSpec, Pose, int]]:
    """A cluster of 5-10 small look-alike objects, annotated together as one crowd region."""
    spec = sample_object(rng, _radius_range(h, w, CROWD_RADIUS))
    cx, cy = rng.uniform(0.25 * w, 0.75 * w), rng.uniform(0.25 * h, 0.75 * h)
    spread = 0.15 * min(h, w)
    items = []
    for _ in range(int(rng.integers(5, 11))):
        pose = _random_pose(rng, spec, h, w, 0.0)
        pose = Pose(cx + rng.normal(0, spread), cy + rng.normal(0, spread), pose.scale, pose.angle, 1.0, pose.phase)
        items.append((spec, pose, label))
    return items


def sample_image_scene(
    rng: np.random.Generator,
    h: int,
    w: int,
    max_objects: int,
    crowd_prob: float = 0.2,
    min_visible: float = 0.3,
    num_objects: int | None = None,
) -> ImageScene:
    """A static image with 1..max_objects objects (or ``num_objects`` tries; each >= min_visible
    visible) and maybe a crowd."""
    n = int(rng.integers(1, max_objects + 1)) if num_objects is None else int(num_objects)
    specs = _sample_specs(rng, n, h, w)
    items: list[tuple[ObjectSpec, Pose, int]] = []
    for spec in specs:  # place objects one by one, back to front, re-drawing poses that hide others
        for _ in range(MAX_TRIES):
            cand = items + [(spec, _random_pose(rng, spec, h, w, 0.3), len(items) + 1)]
            vis = np.bincount(render_labels(cand, h, w).ravel(), minlength=len(cand) + 1)
            full = _full_areas(cand, h, w)
            if all(vis[lab] >= max(min_visible * full[lab], 1) for _, _, lab in cand):
                items = cand
                break
    objects = [(lab, spec.kind, False) for spec, _, lab in items]
    if rng.random() < crowd_prob:  # crowds sit behind all objects
        crowd = _crowd_items(rng, h, w, len(items) + 1)
        items = crowd + items
        objects.append((len(objects) + 1, crowd[0][0].kind, True))
    image, labels = render_scene(sample_background(rng, h, w), items, rng)
    present = set(np.unique(labels).tolist())
    return ImageScene(image, labels, [o for o in objects if o[0] in present])


def _track(
    rng: np.random.Generator, spec: ObjectSpec, h: int, w: int, start: int, num_frames: int
) -> list[Pose | None]:
    """Poses of one object over time: bouncing translation with a wandering heading, spin,
    scale pulsing, stretching and outline deformation."""
    p0 = _random_pose(rng, spec, h, w, 0.6)
    x, y = p0.cx, p0.cy
    heading = rng.uniform(0, 2 * np.pi)
    speed = rng.uniform(0.2, 0.45) * spec.radius
    spin = rng.choice([-1, 1]) * rng.uniform(0.05, 0.2)
    s_amp, s_w, s_ph = rng.uniform(0.1, 0.25), rng.uniform(0.2, 0.5), rng.uniform(0, 2 * np.pi)
    d_amp, d_w, d_ph = rng.uniform(0.1, 0.3), rng.uniform(0.2, 0.5), rng.uniform(0, 2 * np.pi)
    p_w = rng.uniform(0.3, 0.8)
    poses: list[Pose | None] = [None] * start
    for k in range(num_frames - start):
        scale = p0.scale * (1 + s_amp * np.sin(s_w * k + s_ph))
        m = 0.3 * spec.radius * scale
        poses.append(
            Pose(x, y, scale, p0.angle + spin * k, float(np.exp(d_amp * np.sin(d_w * k + d_ph))), p0.phase + p_w * k)
        )
        heading += rng.normal(0, 0.2)
        x, y = x + speed * np.cos(heading), y + speed * np.sin(heading)
        if not m <= x <= w - m:  # bounce off the left/right border
            x = float(np.clip(2 * np.clip(x, m, w - m) - x, m, w - m))
            heading = np.pi - heading
        if not m <= y <= h - m:
            y = float(np.clip(2 * np.clip(y, m, h - m) - y, m, h - m))
            heading = -heading
    return poses


def _frame_items(scene_specs: list[ObjectSpec], poses_t: list[Pose | None]) -> list[tuple[ObjectSpec, Pose, int]]:
    return [(s, p, i + 1) for i, (s, p) in enumerate(zip(scene_specs, poses_t)) if p is not None]


def _well_posed(specs: list[ObjectSpec], poses: list[list[Pose | None]], h: int, w: int, min_visible: float) -> bool:
    """Every present object keeps >= min_visible of its area visible, and >= 1.5x that in the
    frame it first appears in (so the reference mask is a good one)."""
    for t, poses_t in enumerate(poses):
        items = _frame_items(specs, poses_t)
        vis = np.bincount(render_labels(items, h, w).ravel(), minlength=len(specs) + 1)
        full = _full_areas(items, h, w)
        for spec, pose, lab in items:
            nominal = cv2.contourArea(object_outline(spec, pose).astype(np.float32))
            first = t == 0 or poses[t - 1][lab - 1] is None
            need = min_visible * (1.5 if first else 1.0)
            if vis[lab] < need * nominal or full[lab] < 0.5 * nominal:
                return False
    return True


def sample_video_scene(
    rng: np.random.Generator,
    h: int,
    w: int,
    num_frames: int,
    max_objects: int,
    late_start_stride: int = 0,
    late_start_prob: float = 0.4,
    min_visible: float = 0.15,
) -> VideoScene:
    """A video with 2..max_objects moving objects (1 if max_objects == 1).

    Args:
        late_start_stride: if > 0, objects after the first start, with ``late_start_prob``, at a
            later multiple of this stride (YouTube-VOS annotates every 5th frame, and objects
            must first appear in an annotated frame).
    """
    n = int(rng.integers(min(2, max_objects), max_objects + 1))
    while True:
        specs = _sample_specs(rng, n, h, w)
        for _ in range(MAX_TRIES):
            starts = [0] * n
            if late_start_stride > 0 and num_frames > late_start_stride + 1:
                for i in range(1, n):
                    if rng.random() < late_start_prob:
                        starts[i] = late_start_stride * int(rng.integers(1, (num_frames - 2) // late_start_stride + 1))
            tracks = [_track(rng, s, h, w, st, num_frames) for s, st in zip(specs, starts)]
            poses = [list(p) for p in zip(*tracks)]
            if _well_posed(specs, poses, h, w, min_visible):
                pad = int(round(0.08 * max(h, w)))
                t = np.arange(num_frames)[:, None]
                ph, om = rng.uniform(0, 2 * np.pi, 2), rng.uniform(0.05, 0.15, 2)
                offsets = np.round(pad + pad * np.sin(om * t + ph)).astype(int)
                canvas = sample_background(rng, h + 2 * pad, w + 2 * pad)
                return VideoScene(specs, poses, starts, canvas, offsets, (h, w))
        if n == 1:
            raise RuntimeError(
                f"could not lay out a well-posed {num_frames}-frame video of {h}x{w} pixels in {MAX_TRIES} tries; "
                "use larger frames or fewer frames"
            )
        n -= 1  # too crowded to stay well posed: retry with one object fewer


def render_video(scene: VideoScene, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Render all frames. Returns images [T, H, W, 3] uint8 and labels [T, H, W] uint8."""
    h, w = scene.size
    frames, labels = [], []
    for poses_t, (ox, oy) in zip(scene.poses, scene.offsets):
        img, lab = render_scene(scene.canvas[oy : oy + h, ox : ox + w], _frame_items(scene.specs, poses_t), rng)
        frames.append(img)
        labels.append(lab)
    return np.stack(frames), np.stack(labels)


def first_mask_iou(labels: np.ndarray) -> dict[int, float]:
    """Mean IoU between each object's first-appearance mask and its mask in every later frame:
    the J that the copy-the-first-mask baseline would get (0 IoU when the object is absent).

    Args:
        labels: [T, H, W] integer label maps.
    Returns:
        {object id: mean IoU over the frames after its first appearance}.
    """
    out: dict[int, float] = {}
    for obj in np.unique(labels):
        if obj == 0:
            continue
        masks = labels == obj
        t0 = int(np.argmax(masks.reshape(len(masks), -1).any(1)))
        ious = [(masks[t0] & m).sum() / max((masks[t0] | m).sum(), 1) for m in masks[t0 + 1 :]]
        if ious:
            out[int(obj)] = float(np.mean(ious))
    return out
