"""What each ``DATASETS.TEST`` name means for evaluation (shared by ``tools/eval_vos.py`` and the
in-training evaluation, so both resolve names the same way)."""

from __future__ import annotations

import os

from ..data.catalog import resolve_root


def resolve_test_dataset(name: str, datasets_root: str, split: str = "val") -> tuple[str, str, str]:
    """``name`` -> (kind, DAVIS root, split); kind is ``"davis"``, ``"youtube_vos"`` or ``"unknown"``.

    ``davis_2017_<split>`` lives under ``<DATASETS.ROOT>/DAVIS`` with the split from its name;
    ``davis_folder:<path>`` is a DAVIS-layout folder evaluated on ``split``; ``youtube_vos*``
    has no local ground truth (a submission is written instead).
    """
    if name.startswith("davis_2017_"):
        return "davis", os.path.join(resolve_root(datasets_root), "DAVIS"), name[len("davis_2017_") :]
    if name.startswith("davis_folder:"):
        return "davis", name[len("davis_folder:") :], split
    if name.startswith("youtube_vos"):
        return "youtube_vos", "", ""
    return "unknown", "", ""
