"""mp4 writing that browsers and phones play: H.264 (yuv420p) when an encoder is available.

OpenCV's pip wheels ship no H.264 encoder, only MPEG-4 Part 2 (``mp4v``/FMP4), which browsers,
QuickTime and many players refuse. ``imageio-ffmpeg`` (the ``video`` extra: ``pip install
hodor[video]``) ships a static ffmpeg with libx264; with it the file is H.264 + yuv420p +
``faststart``. Without it the writer falls back to OpenCV ``mp4v`` and says so once.
"""

from __future__ import annotations

import os

import numpy as np

from .logger import get_logger

logger = get_logger(__name__)

_warned_fallback = False


def h264_available() -> bool:
    """True if imageio-ffmpeg (and its bundled ffmpeg) can be used."""
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # not installed, or no binary for this platform
        return False
    return True


class Mp4Writer:
    """Write RGB uint8 frames [H,W,3] of one size to an mp4.

    Args:
        path: output file (parent folders are created).
        fps: frames per second.
        frame_hw: (H, W) of every frame. yuv420p needs even sizes: an odd row/column is added by
            repeating the last one (H.264 only).
        codec: "auto" (H.264 if available, else mp4v), "h264" (error if unavailable) or "mp4v".

    Attributes:
        codec: the codec actually used, "h264" or "mp4v".
    """

    def __init__(self, path: str | os.PathLike, fps: float, frame_hw: tuple[int, int], codec: str = "auto") -> None:
        global _warned_fallback
        self.path = os.fspath(path)
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self.h, self.w = int(frame_hw[0]), int(frame_hw[1])
        if codec not in ("auto", "h264", "mp4v"):
            raise ValueError(f"codec must be 'auto', 'h264' or 'mp4v', got {codec!r}")
        use_h264 = codec == "h264" or (codec == "auto" and h264_available())
        if codec == "h264" and not h264_available():
            raise RuntimeError("H.264 needs the imageio-ffmpeg package: pip install 'hodor[video]'")
        self._gen = None
        self._cv = None
        if use_h264:
            import imageio_ffmpeg

            self._eh, self._ew = self.h + self.h % 2, self.w + self.w % 2
            self._gen = imageio_ffmpeg.write_frames(
                self.path,
                (self._ew, self._eh),
                fps=float(fps),
                codec="libx264",
                pix_fmt_in="rgb24",
                pix_fmt_out="yuv420p",
                macro_block_size=1,
                ffmpeg_log_level="error",
                output_params=["-movflags", "+faststart", "-crf", "20"],
            )
            self._gen.send(None)
            self.codec = "h264"
        else:
            import cv2

            if codec == "auto" and not _warned_fallback:
                logger.warning(
                    "no H.264 encoder (pip install 'hodor[video]' for imageio-ffmpeg): writing MPEG-4 Part 2 "
                    "(mp4v), which browsers may not play"
                )
                _warned_fallback = True
            self._cv = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (self.w, self.h))
            if not self._cv.isOpened():
                raise OSError(f"{self.path}: cannot open the video for writing (OpenCV mp4v)")
            self.codec = "mp4v"

    def write(self, frame_rgb: np.ndarray) -> None:
        if frame_rgb.shape[:2] != (self.h, self.w):
            raise ValueError(f"{self.path}: frame is {frame_rgb.shape[:2]}, the video is {(self.h, self.w)}")
        if self._gen is not None:
            f = frame_rgb
            if (self._eh, self._ew) != (self.h, self.w):
                f = np.pad(f, ((0, self._eh - self.h), (0, self._ew - self.w), (0, 0)), mode="edge")
            self._gen.send(np.ascontiguousarray(f, dtype=np.uint8))
        else:
            import cv2

            self._cv.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
            self._gen = None
        if self._cv is not None:
            self._cv.release()
            self._cv = None

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
