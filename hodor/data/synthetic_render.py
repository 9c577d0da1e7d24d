"""Procedural objects and backgrounds for the synthetic datasets (numpy + OpenCV only).

Every object is a textured 2-D shape whose texture lives in the object's own coordinate frame,
so it moves, rotates, scales and deforms with the object. Static images (COCO layout) and videos
(DAVIS / YouTube-VOS layouts) draw their objects from the *same* sampler, which is what makes a
model trained on static pseudo-videos transfer to the synthetic videos.

Masks are rasterised with ``cv2.fillPoly`` and 8-connected lines (no anti-aliasing), and the RGB
image is painted with exactly those masks, so the label map is exact. Only afterwards is the
image slightly blurred and given sensor noise, which never touches the labels.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

__all__ = [
    "SHAPE_KINDS",
    "TEXTURE_KINDS",
    "ObjectSpec",
    "Pose",
    "sample_object",
    "sample_sibling",
    "sample_background",
    "object_outline",
    "render_labels",
    "render_scene",
]

SHAPE_KINDS = ["ellipse", "polygon", "star", "blob"]
TEXTURE_KINDS = ["stripes", "checker", "dots", "rings", "gradient"]


@dataclass(frozen=True)
class ObjectSpec:
    """Appearance of one object, independent of where it is. Radii are in pixels."""

    kind: str  # one of SHAPE_KINDS
    radius: float  # nominal radius in pixels
    shape_params: np.ndarray  # kind-specific numbers (see _local_outline)
    texture: str  # one of TEXTURE_KINDS
    tex_freq: float  # texture cycles per unit radius
    tex_angle: float  # orientation of the texture in the object frame (radians)
    color_a: np.ndarray = field(repr=False)  # [3] float RGB 0-255
    color_b: np.ndarray = field(repr=False)  # [3] float RGB 0-255


@dataclass(frozen=True)
class Pose:
    """Where and how an object is drawn: centre (x, y) in pixels, isotropic scale, rotation
    (radians), anisotropic stretch (x scaled by s, y by 1/s, area-preserving) and a deformation
    phase that animates the outline (star arms breathe, blob lobes travel)."""

    cx: float
    cy: float
    scale: float = 1.0
    angle: float = 0.0
    stretch: float = 1.0
    phase: float = 0.0


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32) * 255.0


def _sample_object_colors(rng: np.random.Generator, hue: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Saturated object colours (backgrounds are muted, so objects stand out but are not trivial)."""
    hue = rng.random() if hue is None else hue
    a = _hsv(hue, rng.uniform(0.55, 1.0), rng.uniform(0.55, 1.0))
    if rng.random() < 0.5:  # same hue, much darker or lighter
        b = _hsv(hue, rng.uniform(0.3, 1.0), rng.uniform(0.1, 0.35) if rng.random() < 0.7 else 1.0)
    else:  # a second hue
        b = _hsv(hue + rng.uniform(0.25, 0.75), rng.uniform(0.5, 1.0), rng.uniform(0.4, 1.0))
    return a, b


def _sample_shape_params(rng: np.random.Generator, kind: str) -> np.ndarray:
    if kind == "ellipse":
        return np.array([rng.uniform(0.55, 1.0)])  # minor/major axis ratio
    if kind == "polygon":
        n = int(rng.integers(3, 8))
        angles = (np.arange(n) + rng.uniform(-0.25, 0.25, n)) * (2 * np.pi / n)
        return np.concatenate([angles, rng.uniform(0.75, 1.0, n)])  # [angles..., radii...]
    if kind == "star":
        return np.array([int(rng.integers(4, 8)), rng.uniform(0.35, 0.6)])  # arms, inner radius
    if kind == "blob":
        k = np.arange(2, 6)
        return np.concatenate([rng.uniform(0.05, 0.22, 4) / np.sqrt(k - 1), rng.uniform(0, 2 * np.pi, 4)])
    raise ValueError(f"unknown shape kind {kind!r}; expected one of {SHAPE_KINDS}")


def sample_object(rng: np.random.Generator, radius_range: tuple[float, float]) -> ObjectSpec:
    """Draw a fresh object: random shape kind, texture and colours; radius in pixels."""
    kind = SHAPE_KINDS[int(rng.integers(len(SHAPE_KINDS)))]
    a, b = _sample_object_colors(rng)
    return ObjectSpec(
        kind=kind,
        radius=float(rng.uniform(*radius_range)),
        shape_params=_sample_shape_params(rng, kind),
        texture=TEXTURE_KINDS[int(rng.integers(len(TEXTURE_KINDS)))],
        tex_freq=float(rng.uniform(0.9, 2.2)),
        tex_angle=float(rng.uniform(0, np.pi)),
        color_a=a,
        color_b=b,
    )


def sample_sibling(rng: np.random.Generator, other: ObjectSpec, radius_range: tuple[float, float]) -> ObjectSpec:
    """A distractor for ``other``: same texture family and frequency, different shape and hue.

    This forces a tracker to use colour and shape, not just "the striped thing".
    """
    kinds = [k for k in SHAPE_KINDS if k != other.kind]
    kind = kinds[int(rng.integers(len(kinds)))]
    base_hue = colorsys.rgb_to_hsv(*(other.color_a / 255.0))[0]
    a, b = _sample_object_colors(rng, hue=base_hue + rng.uniform(0.17, 0.83))
    return replace(
        other,
        kind=kind,
        radius=float(rng.uniform(*radius_range)),
        shape_params=_sample_shape_params(rng, kind),
        color_a=a,
        color_b=b,
    )


def _local_outline(spec: ObjectSpec, phase: float) -> np.ndarray:
    """Outline in the object frame (unit radius), animated by ``phase``. Returns [N, 2] float."""
    p = spec.shape_params
    if spec.kind == "ellipse":
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        minor = p[0] * (1.0 + 0.12 * np.sin(phase))
        return np.stack([np.cos(t), minor * np.sin(t)], axis=1)
    if spec.kind == "polygon":
        n = len(p) // 2
        angles, radii = p[:n], p[n:] * (1.0 + 0.1 * np.sin(phase + np.arange(n) * 1.7))
        return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    if spec.kind == "star":
        arms, inner = int(p[0]), p[1] * (1.0 + 0.25 * np.sin(phase))
        t = np.arange(2 * arms) * (np.pi / arms)
        r = np.where(np.arange(2 * arms) % 2 == 0, 1.0, inner)
        return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    if spec.kind == "blob":
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        amps, phases = p[:4], p[4:]
        k = np.arange(2, 6)[:, None]
        r = 0.85 + (amps[:, None] * np.cos(k * t[None] + phases[:, None] + phase * (1 + 0.3 * k))).sum(0)
        return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    raise ValueError(f"unknown shape kind {spec.kind!r}")


def _frame_matrix(spec: ObjectSpec, pose: Pose) -> np.ndarray:
    """2x2 matrix mapping object-frame (unit radius) offsets to image pixel offsets."""
    c, s = np.cos(pose.angle), np.sin(pose.angle)
    rot = np.array([[c, -s], [s, c]])
    return rot @ np.diag([pose.stretch, 1.0 / pose.stretch]) * (spec.radius * pose.scale)


def object_outline(spec: ObjectSpec, pose: Pose) -> np.ndarray:
    """Outline of the posed object in image coordinates (x, y). Returns [N, 2] float64."""
    return _local_outline(spec, pose.phase) @ _frame_matrix(spec, pose).T + np.array([pose.cx, pose.cy])


def _texture(spec: ObjectSpec, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Blend weight in [0, 1] of colour b at object-frame coordinates (u, v)."""
    f = spec.tex_freq
    ca, sa = np.cos(spec.tex_angle), np.sin(spec.tex_angle)
    along = u * ca + v * sa
    across = -u * sa + v * ca
    if spec.texture == "stripes":
        return (np.sin(2 * np.pi * f * along) > 0).astype(np.float32)
    if spec.texture == "checker":
        return ((np.floor(f * along) + np.floor(f * across)) % 2).astype(np.float32)
    if spec.texture == "dots":
        du, dv = (f * 1.5 * along) % 1.0 - 0.5, (f * 1.5 * across) % 1.0 - 0.5
        return (du * du + dv * dv < 0.09).astype(np.float32)
    if spec.texture == "rings":
        return (np.sin(2 * np.pi * f * np.sqrt(u * u + v * v)) > 0).astype(np.float32)
    if spec.texture == "gradient":
        return np.clip((along + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)
    raise ValueError(f"unknown texture kind {spec.texture!r}; expected one of {TEXTURE_KINDS}")


def _mask_in_box(outline: np.ndarray, h: int, w: int) -> tuple[np.ndarray, tuple[int, int]] | None:
    """Rasterise an outline (no anti-aliasing) inside its clipped bounding box.

    Returns (bool mask [bh, bw], (y0, x0)) or None if the object lies outside the image.
    """
    x0, y0 = np.floor(outline.min(0)).astype(int)
    x1, y1 = np.ceil(outline.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    canvas = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    pts = np.round((outline - [x0, y0]) * 16).astype(np.int32)  # 4 fractional bits
    cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return canvas.astype(bool), (y0, x0)


def render_labels(items: list[tuple[ObjectSpec, Pose, int]], h: int, w: int) -> np.ndarray:
    """Label map only (cheap, no texture): later items occlude earlier ones. Returns [h, w] uint8."""
    labels = np.zeros((h, w), dtype=np.uint8)
    for spec, pose, label in items:
        got = _mask_in_box(object_outline(spec, pose), h, w)
        if got is not None:
            m, (y0, x0) = got
            labels[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]][m] = label
    return labels


def render_scene(
    background: np.ndarray,
    items: list[tuple[ObjectSpec, Pose, int]],
    rng: np.random.Generator,
    noise_std: float = 3.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Paint textured objects (back to front) over a background.

    Args:
        background: [H, W, 3] float32 RGB 0-255.
        items: (spec, pose, label) back to front; several items may share one label (crowds).
        rng: source of the sensor noise.
    Returns:
        image [H, W, 3] uint8 RGB, labels [H, W] uint8 (exact: the painted masks).
    """
    h, w = background.shape[:2]
    img = background.astype(np.float32).copy()
    labels = np.zeros((h, w), dtype=np.uint8)
    for spec, pose, label in items:
        got = _mask_in_box(object_outline(spec, pose), h, w)
        if got is None:
            continue
        m, (y0, x0) = got
        ys, xs = np.nonzero(m)
        inv = np.linalg.inv(_frame_matrix(spec, pose))
        dx, dy = xs + x0 - pose.cx, ys + y0 - pose.cy
        u, v = inv[0, 0] * dx + inv[0, 1] * dy, inv[1, 0] * dx + inv[1, 1] * dy
        t = _texture(spec, u, v)[:, None]
        shade = (1.0 - 0.18 * np.clip(u * u + v * v, 0, 1))[:, None]  # soft 3-D look
        img[ys + y0, xs + x0] = ((1 - t) * spec.color_a + t * spec.color_b) * shade
        labels[ys + y0, xs + x0] = label
    img = cv2.GaussianBlur(img, (3, 3), 0.6)  # soften the aliased edges of the image only
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(noise_std)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), labels


def sample_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A muted textured background: smooth colour noise, a gradient or soft stripes, plus grain.

    Returns: [h, w, 3] float32 RGB 0-255.
    """
    hue = rng.random()

    def muted() -> np.ndarray:
        return _hsv(hue + rng.uniform(-0.15, 0.15), rng.uniform(0.05, 0.4), rng.uniform(0.3, 0.9))

    kind = int(rng.integers(3))
    if kind == 0:  # smooth colour noise
        gh, gw = int(rng.integers(3, 7)), int(rng.integers(3, 7))
        grid = np.stack([muted() for _ in range(gh * gw)]).reshape(gh, gw, 3)
        bg = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ang = rng.uniform(0, np.pi)
        coord = (xx * np.cos(ang) + yy * np.sin(ang)) / max(h, w)
        if kind == 1:  # gradient
            t = np.clip(coord - coord.min(), 0, None) / max(float(np.ptp(coord)), 1e-6)
        else:  # soft wide stripes
            t = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2.0, 6.0) * coord)
        a, b = muted(), muted()
        bg = a * (1 - t[..., None]) + b * t[..., None]
    grain = cv2.GaussianBlur(rng.standard_normal((h, w), dtype=np.float32) * np.float32(10), (0, 0), 1.5)
    return np.clip(bg + grain[..., None], 0, 255).astype(np.float32)
