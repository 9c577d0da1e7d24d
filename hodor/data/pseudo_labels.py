"""Pseudo-label datasets (``pseudo:<dir>``): the folder ``hodor-pseudo-label`` writes, read back as
video records whose unlabelled frames carry the model's masks.

Layout (written by :mod:`hodor.inference.pseudo_label`; see datasets/README.md)::

    <dir>/pseudo_labels.json        manifest: format, version, source dataset, datasets root,
                                    labelled-frame rule, confidence method, checkpoint (+ sha256),
                                    inference settings, hodor version, settings_sha256
    <dir>/<video>/<frame stem>.png  index PNG of one pseudo-labelled frame (0 = bg, GT object ids)
    <dir>/<video>/labels.json       {"labelled": [frame indices], "labelled_objects": {frame: [ids]},
                                     "frames": {frame: {object id: confidence}}, "settings_sha256": hex}
                                    written last: its presence means the video is complete

What a record of the dataset holds, and why:

* ``annotations``: the source record's ground truth restricted to the *labelled* frames, the
  ones the pseudo-labeller was given. A self-training run must see exactly the labels the
  pseudo-labels were derived from; the other ground-truth frames of the source would otherwise
  leak in (and the annotation cost would be wrong).
* ``first_frames``: each object's first labelled frame (from ``labelled_objects``), so the
  semi-supervised prompts of the record point at frames it actually has.
* ``pseudo_labels``: ``frame -> PseudoLabel(png, {object id: confidence})`` for every
  pseudo-labelled frame (every frame that is not labelled, in a video with at least one
  labelled object).

Videos whose labelled frames hold no object (no label to propagate) are left out of the dataset.
A video of the source without ``labels.json`` (an unfinished run) is an error naming the folder
and the videos: training on the finished subset of an interrupted run would silently change the
data; finish the run (it resumes) or pass ``allow_incomplete=True`` from Python to drop them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from ..utils.logger import get_logger
from .catalog import DatasetSpec, get_dataset_spec, load_dataset, register_name_form, resolve_root
from .io import DataError
from .records import PseudoLabel, VideoRecord

__all__ = [
    "FORMAT",
    "VERSION",
    "MANIFEST_NAME",
    "LABELS_NAME",
    "SETTINGS_KEYS",
    "settings_of",
    "settings_digest",
    "read_manifest",
    "read_video_labels",
    "load_pseudo_dataset",
]

logger = get_logger(__name__)

FORMAT = "hodor-pseudo-labels"
VERSION = 1
MANIFEST_NAME = "pseudo_labels.json"
LABELS_NAME = "labels.json"
# What makes two pseudo-label runs interchangeable: a re-run into the same folder must agree on
# these (the checkpoint by content, not by path; the inference settings change the masks).
SETTINGS_KEYS = ("source_dataset", "labelled_frames", "confidence", "checkpoint_sha256", "inference")
_MANIFEST_KEYS = ("format", "version", "source_dataset", "datasets_root", "labelled_frames", "confidence")


def settings_of(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a manifest that decides the pseudo-labels (:data:`SETTINGS_KEYS`)."""
    return {k: manifest.get(k) for k in SETTINGS_KEYS}


def settings_digest(settings: Mapping[str, Any]) -> str:
    """SHA-256 of the settings as canonical JSON; each video's labels.json carries it."""
    text = json.dumps(dict(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(path, f"not valid JSON ({e})") from None


def read_manifest(pseudo_dir: str) -> dict[str, Any]:
    """The manifest of a pseudo-label folder; DataError naming the file when it is missing, of
    another format or version, or lacks a key."""
    path = os.path.join(pseudo_dir, MANIFEST_NAME)
    if not os.path.isfile(path):
        raise DataError(path, "no pseudo-label manifest here (write one with hodor-pseudo-label)")
    m = _read_json(path)
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        got = m.get("format") if isinstance(m, dict) else type(m).__name__
        raise DataError(path, f"not a pseudo-label manifest (format {got!r}, expected {FORMAT!r})")
    if m.get("version") != VERSION:
        raise DataError(path, f"pseudo-label format version {m.get('version')!r} is not supported (expected {VERSION})")
    missing = [k for k in (*_MANIFEST_KEYS, *SETTINGS_KEYS) if k not in m]
    if missing:
        raise DataError(path, f"manifest lacks {missing}")
    if not isinstance(m["source_dataset"], str) or not m["source_dataset"]:
        raise DataError(path, f"source_dataset must be a dataset name, got {m['source_dataset']!r}")
    return m


def _int_key(value: Any, path: str, what: str) -> int:
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise DataError(path, f"{what} {value!r} is not an integer") from None
    if isinstance(value, float) or (isinstance(value, str) and str(out) != value.strip()):
        raise DataError(path, f"{what} {value!r} is not an integer")
    return out


@dataclasses.dataclass(frozen=True)
class VideoLabels:
    """One video's labels.json, checked."""

    labelled: list[int]
    labelled_objects: dict[int, list[int]]
    frames: dict[int, dict[int, float]]
    settings_sha256: str


def read_video_labels(path: str, num_frames: int | None = None) -> VideoLabels:
    """Parse and check one ``labels.json``: frame indices in range, confidences in [0, 1], object
    ids among the labelled frames' objects, no frame both labelled and pseudo-labelled."""
    d = _read_json(path)
    if not isinstance(d, dict) or not all(k in d for k in ("labelled", "labelled_objects", "frames")):
        raise DataError(path, "expected an object with 'labelled', 'labelled_objects' and 'frames'")
    if not isinstance(d["labelled"], list):
        raise DataError(path, "'labelled' must be a list of frame indices")
    if not isinstance(d["labelled_objects"], dict) or not isinstance(d["frames"], dict):
        raise DataError(path, "'labelled_objects' and 'frames' must be objects keyed by frame index")

    def frame_index(v: Any) -> int:
        t = _int_key(v, path, "frame index")
        if t < 0 or (num_frames is not None and t >= num_frames):
            raise DataError(path, f"frame index {t} is outside the video's {num_frames} frames")
        return t

    labelled = sorted(frame_index(t) for t in d["labelled"])
    objects: dict[int, list[int]] = {}
    for k, ids in d["labelled_objects"].items():
        t = frame_index(k)
        if t not in labelled:
            raise DataError(path, f"labelled_objects lists frame {t}, which is not labelled")
        if not isinstance(ids, list):
            raise DataError(path, f"labelled_objects of frame {t} must be a list of object ids")
        objects[t] = sorted(_int_key(i, path, "object id") for i in ids)
    known = {i for ids in objects.values() for i in ids}
    frames: dict[int, dict[int, float]] = {}
    for k, conf in d["frames"].items():
        t = frame_index(k)
        if t in labelled:
            raise DataError(path, f"frame {t} is labelled and pseudo-labelled at once")
        if not isinstance(conf, dict):
            raise DataError(path, f"frame {t}: expected {{object id: confidence}}, got {type(conf).__name__}")
        row: dict[int, float] = {}
        for oid, c in conf.items():
            i = _int_key(oid, path, "object id")
            if i not in known:
                raise DataError(
                    path, f"frame {t}: object {i} is not in the ground truth of the labelled frames ({sorted(known)})"
                )
            if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0.0 <= float(c) <= 1.0:
                raise DataError(path, f"frame {t}, object {i}: confidence {c!r} is not a number in [0, 1]")
            row[i] = float(c)
        frames[t] = row
    return VideoLabels(labelled, objects, frames, str(d.get("settings_sha256", "")))


def _restricted(record: VideoRecord, labels: VideoLabels, pseudo_dir: str, labels_path: str, name: str) -> VideoRecord:
    """The source record with ground truth on the labelled frames only and pseudo-labels elsewhere."""
    not_annotated = [t for t in labels.labelled if t not in record.annotations]
    if not_annotated:
        raise DataError(labels_path, f"labelled frames {not_annotated} have no ground truth in the source dataset")
    if record.declared_objects is not None:
        undeclared = sorted({i for ids in labels.labelled_objects.values() for i in ids} - set(record.declared_objects))
        if undeclared:
            raise DataError(labels_path, f"objects {undeclared} are not declared in the source dataset's metadata")
    names = record.frame_names
    video_dir = os.path.join(pseudo_dir, record.video_id)
    pseudo: dict[int, PseudoLabel] = {}
    for t, conf in sorted(labels.frames.items()):
        png = os.path.join(video_dir, names[t] + ".png")
        if not os.path.isfile(png):
            raise DataError(png, f"pseudo-label of frame {t} is listed in {labels_path} but the PNG is missing")
        pseudo[t] = PseudoLabel(png, conf)
    first: dict[int, int] = {}
    for t in labels.labelled:
        for i in labels.labelled_objects.get(t, []):
            first.setdefault(i, t)
    return dataclasses.replace(
        record,
        dataset=name,
        annotations={t: record.annotations[t] for t in labels.labelled},
        first_frames=first,
        pseudo_labels=pseudo,
        _first_cache=None,
    )


def load_pseudo_dataset(
    pseudo_dir: str,
    datasets_root: str = "",
    *,
    name: str | None = None,
    fallback_root: str = "",
    allow_incomplete: bool = False,
) -> list[VideoRecord]:
    """Video records of a pseudo-label folder (see the module docstring for what they hold).

    Args:
        pseudo_dir: the folder ``hodor-pseudo-label --out`` wrote.
        datasets_root: where the source dataset lives; empty = the manifest's ``datasets_root``
            (the tree the pseudo-labels were computed from), or ``fallback_root`` when that
            folder no longer exists (the catalog passes the current datasets root: a tree
            copied to another machine).
        name: the records' ``dataset`` field (default ``pseudo:<pseudo_dir>``).
        allow_incomplete: drop source videos without labels.json (logged) instead of raising.

    Raises DataError naming the file: missing or foreign manifest, a labels.json written with
    other settings, a listed PNG that is missing, a confidence outside [0, 1], an object id not
    among the labelled frames' ground truth, incomplete videos.
    """
    pseudo_dir = os.path.abspath(os.path.expanduser(pseudo_dir))
    manifest = read_manifest(pseudo_dir)
    manifest_path = os.path.join(pseudo_dir, MANIFEST_NAME)
    digest = settings_digest(settings_of(manifest))
    source = manifest["source_dataset"]
    root = datasets_root or manifest["datasets_root"]
    if not datasets_root and fallback_root and not os.path.isdir(str(root)):
        logger.warning("%s: datasets root %s does not exist; using %s", manifest_path, root, fallback_root)
        root = fallback_root
    try:
        if get_dataset_spec(source).kind != "video":
            raise DataError(manifest_path, f"source dataset {source} holds images, not videos")
    except KeyError as e:
        raise DataError(manifest_path, f"source dataset {source!r} is not registered ({e})") from None
    records = load_dataset(source, root)
    name = name or f"pseudo:{pseudo_dir}"
    out: list[VideoRecord] = []
    incomplete: list[str] = []
    no_labels = 0
    for rec in records:
        path = os.path.join(pseudo_dir, rec.video_id, LABELS_NAME)
        if not os.path.isfile(path):
            incomplete.append(rec.video_id)
            continue
        labels = read_video_labels(path, len(rec))
        if labels.settings_sha256 != digest:
            raise DataError(
                path, f"written with other settings than {manifest_path} (a mixed folder); re-run hodor-pseudo-label"
            )
        if not any(labels.labelled_objects.values()):
            no_labels += 1
            continue
        out.append(_restricted(rec, labels, pseudo_dir, path, name))
    if incomplete:
        shown = ", ".join(incomplete[:5]) + (f" and {len(incomplete) - 5} more" if len(incomplete) > 5 else "")
        if not allow_incomplete:
            raise DataError(
                pseudo_dir,
                f"{len(incomplete)} of {len(records)} videos of {source} have no {LABELS_NAME} (unfinished run: "
                f"re-run hodor-pseudo-label with the same settings to complete it): {shown}",
            )
        logger.warning("%s: dropping %d unfinished videos: %s", pseudo_dir, len(incomplete), shown)
    if no_labels:
        logger.info("%s: %d videos have no labelled object and are left out", pseudo_dir, no_labels)
    return out


def _pseudo_spec(name: str, folder: str) -> DatasetSpec:
    """``pseudo:<dir>``: a video dataset; a relative dir is resolved against the datasets root."""
    if not folder:
        raise DataError(name, "pseudo:<dir> needs the folder written by hodor-pseudo-label")

    def _load(root: str) -> list[VideoRecord]:
        return load_pseudo_dataset(os.path.join(root, folder), name=name, fallback_root=root)

    # the source's clip distance scale (DAVIS x2) when the folder can be found without a config
    scale = 1.0
    try:
        scale = get_dataset_spec(read_manifest(os.path.join(resolve_root(), folder))["source_dataset"]).clip_delta_scale
    except (DataError, KeyError):
        pass
    return DatasetSpec(name, "video", _load, clip_delta_scale=scale)


register_name_form("pseudo", _pseudo_spec)
