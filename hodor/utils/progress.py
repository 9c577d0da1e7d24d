"""Progress bars only where someone watches them.

A tqdm bar redraws itself with carriage returns: in a log file, under ``nohup`` or in torchrun's
collected output it turns into one endless line between the log records. So bars are shown only
when stderr (where tqdm draws) is a terminal, never when the caller or the environment turns
them off (``--no-progress``, ``HODOR_PROGRESS=0``), and only on the main process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

PROGRESS_ENV = "HODOR_PROGRESS"
_OFF = ("0", "false", "no", "off")


def progress_enabled(requested: bool = True) -> bool:
    """True if a bar should be drawn: requested, not disabled by ``HODOR_PROGRESS``, stderr a TTY, rank 0."""
    if not requested or os.environ.get(PROGRESS_ENV, "").strip().lower() in _OFF:
        return False
    if os.environ.get("RANK", "0") not in ("", "0"):
        return False
    stream = sys.stderr
    return bool(getattr(stream, "isatty", None) and stream.isatty())


def progress_bar(iterable: Iterable | None = None, *, enabled: bool = True, **kwargs: Any):
    """``tqdm(iterable, **kwargs)``, disabled unless :func:`progress_enabled` (then it prints nothing)."""
    from tqdm import tqdm

    return tqdm(iterable, disable=not progress_enabled(enabled), **kwargs)
