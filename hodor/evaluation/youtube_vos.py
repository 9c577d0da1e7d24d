"""YouTube-VOS submission: ``Annotations/<video>/<frame>.png`` index PNGs and the server zip.

The evaluation server scores a fixed set of frames per video (every JPEG of the ``valid`` split,
the original code's ``eval_files``) and rejects or mis-scores submissions that lack any of them,
so a missing frame is an error here rather than something the server reports hours later.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Mapping

import numpy as np

from hodor.utils.logger import get_logger

from ..utils.palette import save_index_png

logger = get_logger(__name__)

ANNOTATIONS = "Annotations"


class SubmissionError(ValueError):
    """Predictions do not cover the frames the server expects (message lists what is missing)."""


def expected_frames_from_jpegs(jpeg_dir: str | os.PathLike) -> dict[str, list[str]]:
    """``{video: [frame stem, ...]}`` for every ``<jpeg_dir>/<video>/*.jpg`` (e.g. ``valid/JPEGImages``)."""
    root = os.fspath(jpeg_dir)
    if not os.path.isdir(root):
        raise SubmissionError(f"JPEG folder not found: {root}")
    out: dict[str, list[str]] = {}
    for vid in sorted(os.listdir(root)):
        vdir = os.path.join(root, vid)
        if os.path.isdir(vdir):
            out[vid] = sorted(os.path.splitext(f)[0] for f in os.listdir(vdir) if f.lower().endswith(".jpg"))
    if not out:
        raise SubmissionError(f"{root} holds no video folders")
    return out


def _missing_report(missing: list[tuple[str, str]], limit: int = 10) -> str:
    shown = ", ".join(f"{v}/{f}" for v, f in missing[:limit])
    more = f" and {len(missing) - limit} more" if len(missing) > limit else ""
    return f"{len(missing)} expected frame(s) have no prediction: {shown}{more}"


def write_annotations(
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    out_dir: str | os.PathLike,
    expected: Mapping[str, Iterable[str]] | None = None,
    palette: np.ndarray | None = None,
) -> str:
    """Write ``out_dir/Annotations/<video>/<frame>.png`` for every predicted frame.

    ``predictions``: ``{video: {frame stem: id map uint [H, W]}}``. With ``expected``, every
    expected frame must be predicted (checked before anything is written). Returns the
    Annotations folder.
    """
    if expected is not None:
        missing = [(v, f) for v, fr in expected.items() for f in fr if f not in predictions.get(v, {})]
        if missing:
            raise SubmissionError(_missing_report(missing))
    ann = os.path.join(os.fspath(out_dir), ANNOTATIONS)
    for vid in sorted(predictions):
        for fid in sorted(predictions[vid]):
            save_index_png(os.path.join(ann, vid, f"{fid}.png"), predictions[vid][fid], palette)
    return ann


def zip_submission(
    annotations_dir: str | os.PathLike,
    expected: Mapping[str, Iterable[str]],
    zip_path: str | os.PathLike,
) -> str:
    """Zip exactly the expected frames as ``Annotations/<video>/<frame>.png`` entries.

    Frames in ``annotations_dir`` that the server does not expect are left out (the original
    restricted its zip to ``eval_files`` the same way). A missing expected PNG is an error and
    no zip is written.
    """
    ann = os.fspath(annotations_dir)
    entries = [(v, f) for v in sorted(expected) for f in sorted(expected[v])]
    if not entries:
        raise SubmissionError("the expected frame set is empty")
    missing = [(v, f) for v, f in entries if not os.path.isfile(os.path.join(ann, v, f"{f}.png"))]
    if missing:
        raise SubmissionError(f"{ann}: " + _missing_report(missing))
    zp = os.fspath(zip_path)
    os.makedirs(os.path.dirname(os.path.abspath(zp)), exist_ok=True)
    tmp = zp + ".tmp"
    # PNGs are already deflate-compressed; storing them keeps zipping fast at no size cost.
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for v, f in entries:
            zf.write(os.path.join(ann, v, f"{f}.png"), arcname=f"{ANNOTATIONS}/{v}/{f}.png")
    os.replace(tmp, zp)
    logger.info("wrote %s (%d videos, %d frames)", zp, len(expected), len(entries))
    return zp


def write_submission(
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    expected: Mapping[str, Iterable[str]],
    out_dir: str | os.PathLike,
    zip_name: str = "Annotations.zip",
    palette: np.ndarray | None = None,
) -> str:
    """PNGs under ``out_dir/Annotations`` plus ``out_dir/<zip_name>`` for the server; returns the zip path."""
    expected = {v: list(f) for v, f in expected.items()}
    ann = write_annotations(predictions, out_dir, expected, palette)
    return zip_submission(ann, expected, os.path.join(os.fspath(out_dir), zip_name))
