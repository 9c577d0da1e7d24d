"""Turning uploaded bytes (a video file, a zip of frames, a mask PNG) into frames and id maps.

Nothing from a request ever names a path here: uploads are written under names this module
chooses (``upload.<known extension>``, ``00000.<known extension>``), zip members are read as
bytes and never extracted by their own names. Frames are decoded by the same
:class:`hodor.inference.video_io.VideoSource` that ``tools/infer_video.py`` uses, so the demo sees
exactly the pixels that tool sees. Every failure is an :class:`UploadError` whose message names
the uploaded file as the user called it.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..data.io import DataError
from ..inference.video_io import IMAGE_EXTS, VOID_ID, VideoSource

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".gif")


class UploadError(ValueError):
    """A bad upload; ``status`` is the HTTP status to answer with (400 bad data, 413 too large)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """Resource limits of the demo (all configurable on the command line).

    max_upload_bytes: largest request body (video, zip or mask).
    max_frames: most frames a clip may have.
    max_pixels: largest frame (height x width).
    max_unzipped_bytes: total size of the image members of a zip (guards against zip bombs).
    max_sessions: sessions open at once (each holds a temp folder of decoded frames).
    """

    max_upload_bytes: int = 200 * 1024 * 1024
    max_frames: int = 1000
    max_pixels: int = 1920 * 1088
    max_unzipped_bytes: int = 1024 * 1024 * 1024
    max_sessions: int = 8


@dataclass
class DecodedClip:
    """Frames of an upload: ``names[i]`` is frame i's output stem (image stem or ``00000``...)."""

    names: list[str]
    height: int
    width: int
    fps: float


def _ext(filename: str) -> str:
    return os.path.splitext(filename or "")[1].lower()


def _safe_stem(name: str, index: int) -> str:
    """A frame's stem for the download zip: printable basename characters only, else its index."""
    stem = os.path.splitext(os.path.basename(name.replace("\\", "/")))[0]
    ok = stem and all(c.isalnum() or c in "-_." for c in stem) and not stem.startswith(".")
    return stem if ok else f"{index:05d}"


def _zip_frames(data_path: str, filename: str, work_dir: str, limits: Limits) -> tuple[str, list[str], dict[str, str]]:
    """Write the zip's images as ``work_dir/zip_frames/00000.<ext>``... in name order.

    Returns (folder, output stems, {written path: "zip name/member name"} for messages).
    """
    try:
        zf = zipfile.ZipFile(data_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise UploadError(f"{filename}: not a readable zip file ({e})") from e
    with zf:
        members = []
        for info in zf.infolist():
            base = os.path.basename(info.filename.replace("\\", "/"))
            if info.is_dir() or not base or base.startswith(".") or "__MACOSX" in info.filename:
                continue
            if _ext(base) in IMAGE_EXTS:
                members.append((base, info))
        if not members:
            raise UploadError(f"{filename}: the zip holds no frames (looked for {', '.join(IMAGE_EXTS)})")
        if len(members) > limits.max_frames:
            raise UploadError(
                f"{filename}: {len(members)} frames, more than the limit of {limits.max_frames} (--max-frames)", 413
            )
        total = sum(info.file_size for _, info in members)
        if total > limits.max_unzipped_bytes:
            raise UploadError(
                f"{filename}: frames unpack to {total} bytes, more than the limit of {limits.max_unzipped_bytes}", 413
            )
        bases = [b for b, _ in members]
        dup = sorted({b for b in bases if bases.count(b) > 1})
        if dup:
            raise UploadError(f"{filename}: frame name {dup[0]!r} occurs in more than one folder of the zip")
        members.sort(key=lambda m: m[0])  # VideoSource sorts a folder by file name; so do we
        folder = os.path.join(work_dir, "zip_frames")
        os.makedirs(folder, exist_ok=True)
        stems, origin = [], {}
        for i, (base, info) in enumerate(members):
            try:
                data = zf.read(info)
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as e:
                raise UploadError(f"{filename}: cannot read {base} from the zip ({e})") from e
            path = os.path.join(folder, f"{i:05d}{_ext(base)}")
            with open(path, "wb") as fh:
                fh.write(data)
            stems.append(_safe_stem(base, i))
            origin[path] = f"{filename}/{info.filename}"
    return folder, stems, origin


def upload_suffix(filename: str) -> str:
    """Suffix for the server's copy of an upload: the user's extension if it is a known one, else ``.bin``."""
    ext = _ext(filename)
    return ext if ext in VIDEO_EXTS or ext == ".zip" else ".bin"


def decode_clip(data_path: str, filename: str, work_dir: str, limits: Limits, save_frame) -> DecodedClip:
    """Decode an uploaded video file or zip of frames; ``save_frame(i, rgb)`` stores each frame.

    ``data_path`` is the upload as written by the server (a name it chose); ``filename`` is the
    user's name, used for the format and in messages.
    """
    ext = _ext(filename)
    if ext == ".zip":
        source_path, stems, internal = _zip_frames(data_path, filename, work_dir, limits)
    elif ext in VIDEO_EXTS:
        source_path, stems, internal = data_path, None, {}
    else:
        raise UploadError(f"{filename}: unsupported upload; send a video ({', '.join(VIDEO_EXTS)}) or a .zip of frames")

    def user_name(path: str) -> str:
        return internal.get(path, filename)

    try:
        source = VideoSource(source_path)
        h, w = source.height, source.width
        if h * w > limits.max_pixels:
            raise UploadError(
                f"{filename}: frames are {h}x{w}, larger than the limit of {limits.max_pixels} pixels", 413
            )
        n = 0
        for i, frame in enumerate(source):
            if i >= limits.max_frames:
                raise UploadError(f"{filename}: more than the limit of {limits.max_frames} frames (--max-frames)", 413)
            save_frame(i, frame)
            n += 1
    except DataError as e:
        raise UploadError(f"{user_name(e.path)}: {e.problem}") from e
    if n == 0:
        raise UploadError(f"{filename}: no frame could be decoded")
    names = stems if stems is not None else [source.frame_name(i) for i in range(n)]
    return DecodedClip(names=names, height=h, width=w, fps=source.fps)


def iter_chunks(fileobj, chunk: int = 1 << 20) -> Iterator[bytes]:
    while True:
        data = fileobj.read(chunk)
        if not data:
            return
        yield data


def decode_mask_png(data: bytes, filename: str, frame_hw: tuple[int, int], binary_id: int = 1) -> np.ndarray:
    """Uploaded mask image -> uint8 id map [H,W] (0 background, 255 void).

    Accepted: palette or greyscale PNGs whose values are object ids (as ``tools/infer_video.py``
    reads them), 16-bit greyscale with ids <= 255, and RGB(A) images whose three channels are
    equal (a greyscale id map saved as colour, which is what a browser canvas writes). A mask
    with only the values 0 and 255 is a binary mask of one object and becomes ``binary_id``.
    """
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise UploadError(f"{filename}: cannot decode the image ({type(e).__name__}: {e})") from e
    if img.mode in ("P", "L", "1"):
        ids = np.array(img, dtype=np.uint8)
    elif img.mode in ("I;16", "I"):
        arr = np.asarray(img)
        if arr.max(initial=0) > 255:
            raise UploadError(f"{filename}: mask has ids > 255 (mode {img.mode}); expected an 8-bit id PNG")
        ids = arr.astype(np.uint8)
    elif img.mode in ("RGB", "RGBA", "LA"):
        arr = np.asarray(img.convert("RGBA"))
        rgb, alpha = arr[..., :3], arr[..., 3]
        if not (np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2])) or not np.all(alpha == 255):
            raise UploadError(
                f"{filename}: mask is a colour image (mode {img.mode}); its colours are not object ids. "
                "Send a palette ('P') or greyscale ('L') PNG whose values are the ids"
            )
        ids = np.ascontiguousarray(rgb[..., 0])
    else:
        raise UploadError(f"{filename}: mask image has mode {img.mode!r}; expected a palette or greyscale PNG")
    if ids.shape != tuple(frame_hw):
        raise UploadError(
            f"{filename}: mask is {ids.shape[0]}x{ids.shape[1]} but the frames are {frame_hw[0]}x{frame_hw[1]}"
        )
    values = set(np.unique(ids).tolist())
    if values == {0, VOID_ID} or values == {VOID_ID}:
        if not 1 <= binary_id <= 254:
            raise UploadError(f"object id for a binary mask must be 1..254, got {binary_id}")
        ids = np.where(ids == VOID_ID, binary_id, 0).astype(np.uint8)
    return ids
