"""Registered dataset names -> record lists, relative to a configurable datasets root.

The root is ``DATASETS.ROOT``; when that is empty the environment variable ``HODOR_DATASETS`` is
used, then ``./datasets``. Built-in names (see datasets/README.md for the expected tree):

=========================  ======  ===============================================================
name                       kind    files
=========================  ======  ===============================================================
coco_2017_train / _val     image   coco/annotations/instances_{train,val}2017.json, coco/{train,val}2017/
davis_2017_train / _val    video   DAVIS/{JPEGImages,Annotations}/480p/, DAVIS/ImageSets/2017/*.txt
youtube_vos_2019_train     video   YouTube-VOS/train/{JPEGImages,Annotations,meta.json}
youtube_vos_2019_valid     video   YouTube-VOS/valid/{JPEGImages,Annotations,meta.json}
vost_train / _val          video   VOST/{JPEGImages,Annotations}/<video>/, VOST/ImageSets/{train,val}.txt
mose_v1_train / _valid     video   MOSE/{train,valid}/{JPEGImages,Annotations}/<video>/
mose_v2_train / _valid     video   MOSEv2/{train,valid}/{JPEGImages,Annotations}/<video>/, meta.json
lvos_v1_valid, lvos_v2_valid video  LVOS/valid/, LVOSv2/valid/: {JPEGImages,Annotations}/<video>/, valid_meta.json
sav_val / sav_test         video   SA-V/sav_{val,test}/{JPEGImages_24fps,Annotations_6fps}/, sav_<split>.txt
hodor_<file>               either  hodor_workspace/dataset_json_annotations/<file>.json (original format)
=========================  ======  ===============================================================

Users add their own folders with :func:`register_davis_folder` / :func:`register_hodor_json`, or
name a DAVIS-layout folder directly as ``davis_folder:/path/to/folder``; ``pseudo:<dir>`` reads a
pseudo-label folder written by ``hodor-pseudo-label`` (hodor.data.pseudo_labels).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from hodor.utils.logger import get_logger
from hodor.utils.registry import Registry

from .coco import load_coco_json
from .davis import load_davis_folder
from .hodor_json import load_hodor_json
from .lvos import load_lvos
from .records import ImageRecord, VideoRecord
from .sav import load_sav
from .youtube_vos import load_youtube_vos

__all__ = [
    "DATASET_REGISTRY",
    "DatasetSpec",
    "resolve_root",
    "register_dataset",
    "register_davis_folder",
    "register_hodor_json",
    "register_name_form",
    "get_dataset_spec",
    "load_dataset",
]

logger = get_logger(__name__)

DEFAULT_ROOT = "./datasets"
ENV_VAR = "HODOR_DATASETS"


@dataclass(frozen=True)
class DatasetSpec:
    """How to read one named dataset.

    ``loader(root)`` returns the records; ``kind`` is "image" or "video"; ``clip_delta_scale``
    multiplies the clip frame distances (the original uses x2 for DAVIS, whose 24 fps frames are
    all annotated, against YouTube-VOS's every-5th-frame annotations). ``evaluator`` names the
    registered evaluator (``hodor.evaluation.EVALUATOR_REGISTRY``) that scores the split with the
    benchmark's own metric; empty = no local ground truth (a submission for a server).
    """

    name: str
    kind: str
    loader: Callable[[str], list]
    clip_delta_scale: float = 1.0
    evaluator: str = ""


DATASET_REGISTRY = Registry("dataset")


def resolve_root(cfg_root: str = "") -> str:
    """``DATASETS.ROOT`` if set, else ``$HODOR_DATASETS``, else ``./datasets``."""
    return os.path.abspath(os.path.expanduser(cfg_root or os.environ.get(ENV_VAR, "") or DEFAULT_ROOT))


def register_dataset(
    name: str, kind: str, loader: Callable[[str], list], clip_delta_scale: float = 1.0, evaluator: str = ""
) -> DatasetSpec:
    if kind not in ("image", "video"):
        raise ValueError(f"dataset '{name}': kind must be 'image' or 'video', got {kind!r}")
    spec = DatasetSpec(name, kind, loader, clip_delta_scale, evaluator)
    DATASET_REGISTRY.register(name, spec)
    return spec


def register_davis_folder(
    name: str, folder: str, split: str | None = None, resolution: str = "480p", clip_delta_scale: float = 1.0
) -> DatasetSpec:
    """Register a user's DAVIS-layout folder (absolute, or relative to the datasets root)."""

    def _load(root: str) -> list[VideoRecord]:
        return load_davis_folder(os.path.join(root, folder), split, name, resolution)

    return register_dataset(name, "video", _load, clip_delta_scale, evaluator="davis")


def register_hodor_json(name: str, json_file: str, image_root: str, kind: str) -> DatasetSpec:
    """Register an original-format HODOR JSON file (paths absolute or relative to the datasets root)."""

    def _load(root: str) -> list:
        return load_hodor_json(os.path.join(root, json_file), os.path.join(root, image_root), name)

    return register_dataset(name, kind, _load, 2.0 if "davis" in name else 1.0)


# ``prefix:<argument>`` names resolved on the fly: prefix -> fn(name, argument) -> DatasetSpec.
# Readers above the catalog register theirs (``pseudo:`` in hodor.data.pseudo_labels), so the
# catalog does not import them.
_NAME_FORMS: dict[str, Callable[[str, str], DatasetSpec]] = {}


def register_name_form(prefix: str, make_spec: Callable[[str, str], DatasetSpec]) -> None:
    """Resolve names ``<prefix>:<argument>`` with ``make_spec(name, argument)``."""
    _NAME_FORMS[prefix] = make_spec


def get_dataset_spec(name: str) -> DatasetSpec:
    """Look up a registered name; ``davis_folder:<path>`` and ``pseudo:<dir>`` (a pseudo-label
    folder, hodor.data.pseudo_labels) are resolved on the fly."""
    prefix, sep, argument = name.partition(":")
    if sep and prefix in _NAME_FORMS:
        return _NAME_FORMS[prefix](name, argument)
    if name.startswith("davis_folder:"):
        folder = name.split(":", 1)[1]
        return DatasetSpec(
            name, "video", lambda root: load_davis_folder(os.path.join(root, folder), None, name), evaluator="davis"
        )
    return DATASET_REGISTRY.get(name)


def load_dataset(name: str, root: str = "") -> list[ImageRecord] | list[VideoRecord]:
    """Records of a named dataset under ``resolve_root(root)``; logs the start-up time."""
    spec = get_dataset_spec(name)
    t0 = time.perf_counter()
    records = spec.loader(resolve_root(root))
    logger.info("dataset %s: %d %s records in %.2fs", name, len(records), spec.kind, time.perf_counter() - t0)
    return records


def _register_builtins() -> None:
    for split in ("train", "val"):
        register_dataset(
            f"coco_2017_{split}",
            "image",
            lambda root, s=split: load_coco_json(
                os.path.join(root, "coco", "annotations", f"instances_{s}2017.json"),
                os.path.join(root, "coco", f"{s}2017"),
                f"coco_2017_{s}",
            ),
        )
        register_dataset(
            f"davis_2017_{split}",
            "video",
            lambda root, s=split: load_davis_folder(os.path.join(root, "DAVIS"), s, f"davis_2017_{s}"),
            clip_delta_scale=2.0,
            evaluator="davis",
        )
    for split in ("train", "valid"):
        register_dataset(
            f"youtube_vos_2019_{split}",
            "video",
            lambda root, s=split: load_youtube_vos(os.path.join(root, "YouTube-VOS", s), f"youtube_vos_2019_{s}"),
        )
    for split in ("train", "val"):
        register_dataset(
            f"vost_{split}",
            "video",
            lambda root, s=split: load_davis_folder(os.path.join(root, "VOST"), s, f"vost_{s}", resolution="", year=""),
            evaluator="vost",
        )
    for split in ("train", "valid"):
        # MOSEv1 is scored on its server with the DAVIS toolkit; valid has first-frame masks only,
        # so local scoring works on (held-out) train videos, which are fully annotated.
        register_dataset(
            f"mose_v1_{split}",
            "video",
            lambda root, s=split: load_davis_folder(os.path.join(root, "MOSE", s), None, f"mose_v1_{s}", resolution=""),
            evaluator="davis" if split == "train" else "",
        )
    for split in ("train", "valid"):
        # MOSEv2 is scored by MOSE-api's score.py (J&F_new); locally on held-out train videos
        register_dataset(
            f"mose_v2_{split}",
            "video",
            lambda root, s=split: load_davis_folder(
                os.path.join(root, "MOSEv2", s), None, f"mose_v2_{s}", resolution=""
            ),
            evaluator="mose_v2" if split == "train" else "",
        )
    for version, folder in (("v1", "LVOS"), ("v2", "LVOSv2")):
        for split in ("train", "valid", "test"):
            register_dataset(
                f"lvos_{version}_{split}",
                "video",
                lambda root, f=folder, s=split, v=version: load_lvos(os.path.join(root, f, s), s, f"lvos_{v}_{s}"),
                evaluator="lvos" if split == "valid" else "",
            )
    for split in ("val", "test"):
        register_dataset(
            f"sav_{split}",
            "video",
            lambda root, s=split: load_sav(os.path.join(root, "SA-V", f"sav_{s}"), s, f"sav_{s}"),
            evaluator="sav",
        )
    ws = "hodor_workspace"
    for json_name, img_dir, kind in [
        ("coco_2017_train", "coco_2017_train", "image"),
        ("davis_train", "davis_trainval", "video"),
        ("davis_val", "davis_trainval", "video"),
        ("davis_testdev", "davis_testdev", "video"),
        ("youtube_vos_2019_train", "youtube_vos_2019_train", "video"),
        ("youtube_vos_2019_val", "youtube_vos_2019_val", "video"),
    ]:
        register_hodor_json(
            f"hodor_{json_name}",
            os.path.join(ws, "dataset_json_annotations", f"{json_name}.json"),
            os.path.join(ws, "dataset_images", img_dir),
            kind,
        )


_register_builtins()
