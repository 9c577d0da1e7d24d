"""Reading a user's video (frame folder or video file), their masks, and writing overlays.

Frames are decoded lazily, one at a time, so a long video never sits in memory: together with
the streaming predictor this keeps memory flat in the video length. Every failure names the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..data.io import DataError, read_image, read_index_mask
from ..utils.draw import label_object_ids, put_label
from ..utils.logger import get_logger
from ..utils.palette import davis_palette
from ..utils.video_writer import Mp4Writer
from .user_masks import fit_mask_size, objects_from_index_map

logger = get_logger(__name__)

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class VideoSource:
    """Frames of a video as RGB uint8 ``[H,W,3]``, from a folder of images or a video file.

    Attributes:
        path: the folder or file.
        names: output file stem of each frame (image stems for a folder, ``00000``... for a
            video), ``None`` entries are filled in while iterating a video.
        fps: frames per second (video files; 24 for folders).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        if os.path.isdir(self.path):
            files = sorted(f for f in os.listdir(self.path) if f.lower().endswith(IMAGE_EXTS) and not f.startswith("."))
            if not files:
                raise DataError(self.path, f"folder has no frames (looked for {', '.join(IMAGE_EXTS)})")
            self._files = [os.path.join(self.path, f) for f in files]
            self.names = [os.path.splitext(f)[0] for f in files]
            self.fps = 24.0
            self.height, self.width = read_image(self._files[0]).shape[:2]
            self._num = len(files)
        elif os.path.isfile(self.path):
            self._files = None
            cap = cv2.VideoCapture(self.path)
            ok, first = cap.read() if cap.isOpened() else (False, None)
            if not ok or first is None:
                cap.release()
                raise DataError(self.path, "cannot read a frame from this video file (unsupported or corrupt)")
            self.height, self.width = first.shape[:2]
            fps = cap.get(cv2.CAP_PROP_FPS)
            self.fps = float(fps) if fps and fps > 0 else 24.0
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
            self._num = count if count > 0 else None  # container counts can be approximate
            self.names = None
        else:
            raise DataError(self.path, "no such file or folder")

    def __len__(self) -> int:
        """Number of frames (for a video file: the container's count, which may be approximate)."""
        return self._num or 0

    @property
    def exact_length(self) -> bool:
        return self._files is not None

    def frame_name(self, i: int) -> str:
        return self.names[i] if self.names is not None else f"{i:05d}"

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._files is not None:
            for f in self._files:
                frame = read_image(f)
                if frame.shape[:2] != (self.height, self.width):
                    raise DataError(
                        f, f"frame is {frame.shape[0]}x{frame.shape[1]}, the first frame is {self.height}x{self.width}"
                    )
                yield frame
            return
        cap = cv2.VideoCapture(self.path)
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()


@dataclass
class MaskSpec:
    """A mask file and the frame index it annotates.

    ``explicit`` is False for a bare path (the first frame, whatever its file number).
    """

    frame: int
    path: str
    explicit: bool = True


_SPEC = re.compile(r"^(\d+):(.+)$")


def parse_mask_spec(text: str) -> MaskSpec:
    """``"12:later.png"`` -> frame 12; a bare path means the first frame."""
    m = _SPEC.match(text)
    if m:
        return MaskSpec(int(m.group(1)), m.group(2))
    return MaskSpec(0, text, explicit=False)


def frame_numbers(source: VideoSource) -> list[int] | None:
    """File numbers of a folder of numbered frames (``00005.jpg`` -> 5), else None (video files, other names)."""
    names = source.names if source.exact_length else None
    if not names or not all(n.isdigit() for n in names):
        return None
    return [int(n) for n in names]


def resolve_frame_number(spec: MaskSpec, source: VideoSource) -> MaskSpec:
    """Turn ``--mask N:...`` into a frame position.

    For numbered frame files N is the file number (a folder with ``00005``-``00006`` missing
    must not move the frame-8 mask onto file ``00010``); a number with no file is an error that
    names the nearest files; gaps in the numbering are logged. Otherwise N is the position.
    """
    numbers = frame_numbers(source)
    if numbers is None or not spec.explicit:
        return spec
    from ..data.paths import numbering_gaps

    gaps = numbering_gaps([str(n) for n in numbers])
    if gaps:
        logger.warning(
            "%s: frame numbers are not contiguous (missing %s); --mask N refers to the file number N",
            source.path,
            ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in gaps[:5]) + (" ..." if len(gaps) > 5 else ""),
        )
    if spec.frame not in numbers:
        before = max((n for n in numbers if n < spec.frame), default=None)
        after = min((n for n in numbers if n > spec.frame), default=None)
        near = " and ".join(str(n) for n in (before, after) if n is not None)
        raise DataError(
            spec.path,
            f"--mask {spec.frame}: {source.path} has no frame file numbered {spec.frame} "
            f"(frames are numbered {numbers[0]}..{numbers[-1]}; nearest: {near})",
        )
    return MaskSpec(numbers.index(spec.frame), spec.path, explicit=True)


def split_index_mask(index_map: np.ndarray, source: str = "mask") -> dict[int, np.ndarray]:
    """Index map [H,W] -> {object id: bool mask}. 0 is background, 255 (void) is ignored.

    Ids are kept as they are (need not be contiguous); the predictor's output uses the same ids.
    """
    return objects_from_index_map(index_map, source, void_255=True)


def load_masks(
    specs: Sequence[MaskSpec],
    frame_hw: tuple[int, int],
    num_frames: int | None,
    mask_resize: str | None = None,
    void_255: bool = False,
) -> dict[int, dict[int, np.ndarray]]:
    """Read mask PNGs -> {frame index: {object id: bool mask}}, validating sizes and frame indices.

    ``num_frames`` None skips the range check (video files whose length is only known at the end;
    the caller checks that every annotated frame was reached). ``mask_resize`` and ``void_255``
    follow :mod:`hodor.inference.user_masks` (binary 0/255 masks are object 1 unless ``void_255``).
    """
    out: dict[int, dict[int, np.ndarray]] = {}
    for spec in specs:
        if spec.frame < 0 or (num_frames is not None and spec.frame >= num_frames):
            raise DataError(spec.path, f"mask is given for frame {spec.frame}, but the video has {num_frames} frames")
        index = read_index_mask(spec.path)
        index = fit_mask_size(index, frame_hw, spec.path, mask_resize)
        objs = objects_from_index_map(index, spec.path, void_255=void_255)
        if spec.frame in out:
            dup = sorted(set(out[spec.frame]) & set(objs))
            if dup:
                raise DataError(spec.path, f"object ids {dup} at frame {spec.frame} are already given by another mask")
        out.setdefault(spec.frame, {}).update(objs)
    return out


def overlay(
    frame_rgb: np.ndarray,
    index_map: np.ndarray,
    alpha: float = 0.5,
    title: str | None = None,
    label_ids: bool = False,
) -> np.ndarray:
    """Blend the palette colour of every object into the frame; object outlines stay opaque.

    ``title`` (e.g. "prediction") is written in the top-left corner, ``label_ids`` writes each
    object's id on it.
    """
    pal = davis_palette()
    ids = np.asarray(index_map).astype(np.int64) % 256
    colour = pal[ids].astype(np.float32)
    fg = (ids > 0)[..., None]
    out = frame_rgb.astype(np.float32)
    out = np.where(fg, (1 - alpha) * out + alpha * colour, out)
    edges = cv2.morphologyEx((ids).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    out[edges & fg[..., 0]] = colour[edges & fg[..., 0]]
    out = np.ascontiguousarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))
    if label_ids:
        label_object_ids(out, np.asarray(index_map))
    if title:
        put_label(out, title)
    return out


class OverlayVideoWriter(Mp4Writer):
    """mp4 of RGB frames: H.264 when imageio-ffmpeg is installed, else OpenCV mp4v (see Mp4Writer).

    Fails at once (DataError naming the file) if the file cannot be opened.
    """

    def __init__(self, path: str | os.PathLike, fps: float, frame_hw: tuple[int, int], codec: str = "auto") -> None:
        try:
            super().__init__(path, fps, frame_hw, codec)
        except OSError as e:
            raise DataError(os.fspath(path), f"cannot open the overlay video for writing ({e})") from e

    def __enter__(self) -> OverlayVideoWriter:
        return self
