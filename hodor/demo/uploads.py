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
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..data.io import DataError
from ..inference.video_io import IMAGE_EXTS, VideoSource
from ..utils.labels import VOID_ID

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


@dataclass
class _Member:
    """One frame file of an upload (a zip member or one of several uploaded files)."""

    base: str  # file name without folders
    label: str  # how messages name it
    size: int
    read: Callable[[], bytes]


def _write_frames(members: list[_Member], label: str, work_dir: str, limits: Limits):
    """Keep the image files, check the limits, write them as ``work_dir/zip_frames/00000.<ext>``....

    Files are taken in name order (as ``VideoSource`` sorts a folder). Returns (folder, output
    stems, {written path: the user's name of the file} for messages).
    """
    members = [
        m
        for m in members
        if m.base and not m.base.startswith(".") and "__MACOSX" not in m.label and _ext(m.base) in IMAGE_EXTS
    ]
    if not members:
        raise UploadError(f"{label}: no frames found (looked for {', '.join(IMAGE_EXTS)})")
    if len(members) > limits.max_frames:
        raise UploadError(
            f"{label}: {len(members)} frames, more than the limit of {limits.max_frames} (--max-frames)", 413
        )
    total = sum(m.size for m in members)
    if total > limits.max_unzipped_bytes:
        raise UploadError(
            f"{label}: frames unpack to {total} bytes, more than the limit of {limits.max_unzipped_bytes}", 413
        )
    bases = [m.base for m in members]
    dup = sorted({b for b in bases if bases.count(b) > 1})
    if dup:
        raise UploadError(f"{label}: frame name {dup[0]!r} occurs more than once (in different folders)")
    members.sort(key=lambda m: m.base)
    folder = os.path.join(work_dir, "zip_frames")
    os.makedirs(folder, exist_ok=True)
    stems, origin = [], {}
    for i, m in enumerate(members):
        path = os.path.join(folder, f"{i:05d}{_ext(m.base)}")
        with open(path, "wb") as fh:
            fh.write(m.read())
        stems.append(_safe_stem(m.base, i))
        origin[path] = m.label
    return folder, stems, origin


def _zip_frames(data_path: str, filename: str, work_dir: str, limits: Limits):
    """The image members of a zip, read as bytes (never extracted by their own names)."""
    try:
        zf = zipfile.ZipFile(data_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise UploadError(f"{filename}: not a readable zip file ({e})") from e

    def reader(info: zipfile.ZipInfo) -> Callable[[], bytes]:
        def read() -> bytes:
            try:
                return zf.read(info)  # at most info.file_size bytes are decompressed
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as e:
                raise UploadError(f"{filename}: cannot read {info.filename} from the zip ({e})") from e

        return read

    with zf:
        members = [
            _Member(os.path.basename(i.filename.replace("\\", "/")), f"{filename}/{i.filename}", i.file_size, reader(i))
            for i in zf.infolist()
            if not i.is_dir()
        ]
        return _write_frames(members, filename, work_dir, limits)


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
        folder, stems, origin = _zip_frames(data_path, filename, work_dir, limits)
        return _decode_source(folder, filename, stems, origin, limits, save_frame)
    if ext in VIDEO_EXTS:
        return _decode_source(data_path, filename, None, {}, limits, save_frame)
    raise UploadError(f"{filename}: unsupported upload; send a video ({', '.join(VIDEO_EXTS)}) or a .zip of frames")


def decode_frame_files(files: list[tuple[str, object]], work_dir: str, limits: Limits, save_frame) -> DecodedClip:
    """Decode several uploaded image files (a folder of frames chosen in the browser), in name order.

    ``files``: (the user's file name, file object) pairs.
    """
    members = []
    for name, fileobj in files:
        fileobj.seek(0, os.SEEK_END)
        size = fileobj.tell()
        fileobj.seek(0)
        members.append(_Member(os.path.basename(name.replace("\\", "/")), name, size, fileobj.read))
    label = f"{len(files)} uploaded files"
    folder, stems, origin = _write_frames(members, label, work_dir, limits)
    return _decode_source(folder, label, stems, origin, limits, save_frame)


def _decode_source(
    source_path: str, label: str, stems: list[str] | None, origin: dict[str, str], limits: Limits, save_frame
) -> DecodedClip:
    """Run ``VideoSource`` (the decoder ``tools/infer_video.py`` uses) over a video file or frame folder."""
    try:
        source = VideoSource(source_path)
        h, w = source.height, source.width
        if h * w > limits.max_pixels:
            raise UploadError(f"{label}: frames are {h}x{w}, larger than the limit of {limits.max_pixels} pixels", 413)
        n = 0
        for i, frame in enumerate(source):
            if i >= limits.max_frames:
                raise UploadError(f"{label}: more than the limit of {limits.max_frames} frames (--max-frames)", 413)
            save_frame(i, frame)
            n += 1
    except DataError as e:
        raise UploadError(f"{origin.get(e.path, label)}: {e.problem}") from e
    if n == 0:
        raise UploadError(f"{label}: no frame could be decoded")
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
