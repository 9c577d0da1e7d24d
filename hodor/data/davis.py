"""DAVIS-layout folders -> :class:`VideoRecord` list.

Layout (official DAVIS 2017; also accepted for users' own data)::

    <root>/JPEGImages/480p/<video>/00000.jpg ...
    <root>/Annotations/480p/<video>/00000.png ...   (palette or greyscale index PNGs, 255 = void)
    <root>/ImageSets/2017/{train,val}.txt           (one video name per line)

The ``480p`` level is optional for custom folders. Only directory listings happen here; masks are
decoded on demand by :meth:`VideoRecord.load_mask`.
"""

from __future__ import annotations

import os

from .io import DataError
from .paths import check_plain_name
from .records import VideoRecord

__all__ = ["load_davis_folder", "read_split_file"]

IMAGE_EXTS = (".jpg", ".jpeg", ".png")


def read_split_file(path: str) -> list[str]:
    """Video names, one per line; an empty or missing split file is an error."""
    if not os.path.isfile(path):
        raise DataError(path, "split file not found")
    with open(path, encoding="utf-8") as fh:
        names = [ln.strip() for ln in fh if ln.strip() and not ln.startswith("#")]
    if not names:
        raise DataError(path, "split file is empty (no video names)")
    return names


def _sub(root: str, kind: str, resolution: str) -> str:
    with_res = os.path.join(root, kind, resolution)
    return with_res if resolution and os.path.isdir(with_res) else os.path.join(root, kind)


def list_files(folder: str, exts: tuple[str, ...], missing_ok: bool = False) -> list[str]:
    """Sorted non-hidden file names in ``folder`` with one of ``exts`` ([] for a missing folder if allowed)."""
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it if e.name.lower().endswith(exts) and not e.name.startswith("."))
    except FileNotFoundError:
        if missing_ok:
            return []
        raise


def index_annotations(adir: str, stems: dict[str, int], vdir: str) -> dict[int, str]:
    """{frame index: PNG path} for the annotation PNGs in ``adir`` (none if the folder is absent).

    ``stems`` maps frame file stems to frame indices; an annotation without a frame is an error.
    """
    annotations: dict[int, str] = {}
    for f in list_files(adir, (".png",), missing_ok=True):
        stem = os.path.splitext(f)[0]
        if stem not in stems:
            raise DataError(os.path.join(adir, f), f"annotation has no matching frame in {vdir}")
        annotations[stems[stem]] = os.path.join(adir, f)
    return annotations


def load_davis_folder(
    root: str,
    split: str | None = None,
    dataset_name: str = "davis",
    resolution: str = "480p",
    year: str = "2017",
) -> list[VideoRecord]:
    """Read a DAVIS-layout folder; ``split`` names ``ImageSets/<year>/<split>.txt`` (None = every video)."""
    img_root = _sub(root, "JPEGImages", resolution)
    ann_root = _sub(root, "Annotations", resolution)
    if not os.path.isdir(img_root):
        raise DataError(img_root, "JPEGImages folder not found (expected a DAVIS layout)")
    if split:
        split_file = os.path.join(root, "ImageSets", year, f"{split}.txt")
        videos = read_split_file(split_file)
    else:
        split_file = img_root
        videos = sorted(e.name for e in os.scandir(img_root) if e.is_dir())
        if not videos:
            raise DataError(img_root, "no video folders found")
    records = []
    for vid in videos:
        check_plain_name(vid, split_file, "video")
        vdir = os.path.join(img_root, vid)
        if not os.path.isdir(vdir):
            raise DataError(split_file, f"video '{vid}' is listed but {vdir} does not exist")
        frames = list_files(vdir, IMAGE_EXTS)
        if not frames:
            raise DataError(vdir, "video folder has no frames")
        stems = {os.path.splitext(f)[0]: i for i, f in enumerate(frames)}
        adir = os.path.join(ann_root, vid)
        annotations = index_annotations(adir, stems, vdir)
        records.append(
            VideoRecord(
                dataset=dataset_name,
                video_id=vid,
                frame_paths=[os.path.join(vdir, f) for f in frames],
                annotations=annotations,
                source=adir,
            )
        )
    return records
