"""Run and output folders that a new run, a second process or a crash cannot clobber.

Training (``RunDirectory``):

* a new run refuses a non-empty ``OUTPUT_DIR``; ``--resume`` continues it and ``--overwrite``
  moves it aside to ``<OUTPUT_DIR>.old-<time>`` (never deletes it);
* an exclusive ``fcntl`` lock on the folder itself (no lock file is written) makes a second
  process on the same folder fail at once; the kernel drops the lock when the process dies, even
  after ``kill -9``;
* temporary files of dead processes (``*.tmp``, ``*.tmp.<pid>``, left by a kill during an atomic
  write) are removed when a run starts;
* ``truncate_metrics`` cuts ``metrics.json`` back to the resumed iteration, so re-run iterations
  are not listed twice.

Inference (``StagedOutput``): results are written to a hidden temporary folder next to the
output and moved into place only when complete; after a failure they stay in
``<output>.incomplete`` with an ``INCOMPLETE`` file saying why, and an existing output folder is
refused unless ``overwrite`` is given.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import time

from .errors import UserError
from .logger import get_logger

logger = get_logger(__name__)

__all__ = ["RunDirError", "RunDirectory", "StagedOutput", "remove_stale_temp_files", "truncate_metrics"]

# "<name>.tmp" or "<name>.tmp.<pid>": the temporary names of hodor's atomic writes
TEMP_FILE_RE = re.compile(r"^(?P<target>.+)\.tmp(?:\.(?P<pid>\d+))?$")
INCOMPLETE_MARKER = "INCOMPLETE"


class RunDirError(UserError, RuntimeError):
    """An output or run folder that cannot be used as asked; the message says what to pass instead."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temp_files(folder: str) -> list[str]:
    """Delete temporary files in ``folder`` whose writer is dead; returns their paths.

    A file ``x.tmp.<pid>`` is kept while process ``pid`` (other than this one) is alive.
    """
    removed = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return removed
    for name in sorted(names):
        m = TEMP_FILE_RE.match(name)
        path = os.path.join(folder, name)
        if not m or not os.path.isfile(path):
            continue
        pid = m.group("pid")
        if pid is not None and int(pid) != os.getpid() and _pid_alive(int(pid)):
            continue
        os.remove(path)
        removed.append(path)
    if removed:
        logger.warning(
            "removed %d temporary file(s) left by an interrupted process: %s",
            len(removed),
            ", ".join(os.path.basename(p) for p in removed),
        )
    return removed


def truncate_metrics(path: str, last_iteration: int) -> int:
    """Keep only the ``metrics.json`` rows with ``iteration <= last_iteration``; returns rows dropped.

    Rows after the checkpoint a run resumes from are recomputed (identically) by the resumed run;
    keeping them would list those iterations twice. A torn last line (kill during a write) goes too.
    """
    if not os.path.isfile(path):
        return 0
    kept, dropped = [], 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
                keep = int(row["iteration"]) <= last_iteration
            except (ValueError, KeyError, TypeError):
                keep = False
            if keep:
                kept.append(line if line.endswith("\n") else line + "\n")
            else:
                dropped += 1
    if dropped:
        tmp = f"{path}.tmp.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(kept)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        logger.info("metrics.json: dropped %d row(s) after iteration %d (they are recomputed)", dropped, last_iteration)
    return dropped


def _lock_folder(path: str) -> int:
    """Open ``path`` and take an exclusive, non-blocking ``flock`` on it; returns the descriptor."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunDirError(
                f"OUTPUT_DIR {path} is in use by another running process (it holds the folder's lock); "
                "wait for it to finish, stop it, or choose another OUTPUT_DIR"
            ) from None
        raise
    return fd


def _aside_name(path: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, k = f"{path}.old-{stamp}", 1
    while os.path.exists(candidate):
        candidate, k = f"{path}.old-{stamp}-{k}", k + 1
    return candidate


class RunDirectory:
    """The training ``OUTPUT_DIR`` of one process, locked for the life of the object.

    ``acquire`` does every check before anything is written; it only creates the (empty)
    folder when it does not exist yet, and ``release(failed=True)`` removes that folder again.
    """

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._fd: int | None = None
        self._created = False
        self.moved_to: str | None = None

    def acquire(self, resume: bool = False, overwrite: bool = False) -> RunDirectory:
        if resume and overwrite:
            raise RunDirError("--resume and --overwrite contradict each other: pass one of them")
        path = self.path
        if os.path.exists(path) and not os.path.isdir(path):
            raise RunDirError(f"OUTPUT_DIR {path} is a file, not a folder; choose another OUTPUT_DIR")
        entries = sorted(os.listdir(path)) if os.path.isdir(path) else []
        if entries and not resume:
            if not overwrite:
                shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
                raise RunDirError(
                    f"OUTPUT_DIR {path} is not empty ({shown}); a new run would overwrite it. Pass --resume to "
                    "continue that run, --overwrite to move it aside (it is kept, renamed), or choose another "
                    "OUTPUT_DIR"
                )
            fd = _lock_folder(path)  # never move a folder another process is writing to
            try:
                self.moved_to = _aside_name(path)
                os.rename(path, self.moved_to)
            finally:
                os.close(fd)
            logger.warning("--overwrite: moved the previous run in %s to %s", path, self.moved_to)
        if not os.path.isdir(path):
            try:
                os.makedirs(path)
            except OSError as exc:
                raise RunDirError(
                    f"OUTPUT_DIR {path} is not writable: cannot create it ({exc.strerror}); "
                    "pass OUTPUT_DIR <a writable folder>"
                ) from None
            self._created = True
        if not os.access(path, os.W_OK | os.X_OK):
            raise RunDirError(f"OUTPUT_DIR {path} is not writable; pass OUTPUT_DIR <a writable folder>")
        self._fd = _lock_folder(path)
        if resume:
            remove_stale_temp_files(path)
        return self

    def release(self, failed: bool = False) -> None:
        """Drop the lock; after a failed start, remove the folder if this object created it and it is empty."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if failed and self._created:
            try:
                os.rmdir(self.path)
            except OSError:
                pass
            self._created = False

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.release(failed=exc_type is not None)


class StagedOutput:
    """An inference output folder that appears only when complete.

    ``open()`` checks the destination and returns a temporary folder next to it to write into;
    ``commit()`` moves it into place (replacing an older result only if ``overwrite``);
    ``abort(reason)`` keeps the partial results in ``<output>.incomplete`` with an ``INCOMPLETE``
    file holding the reason, so that nobody mistakes them for a finished result.
    """

    def __init__(self, path: str, overwrite: bool = False) -> None:
        self.path = os.path.abspath(path)
        self.overwrite = overwrite
        parent, name = os.path.split(self.path)
        self.staging = os.path.join(parent, f".{name}.tmp-{os.getpid()}")
        self.incomplete = f"{self.path}.incomplete"

    def check(self) -> None:
        """Refuse an existing, non-empty destination unless ``overwrite``: nothing is written here."""
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise RunDirError(f"output {self.path} is a file, not a folder; choose another --output")
        if os.path.isdir(self.path) and os.listdir(self.path) and not self.overwrite:
            raise RunDirError(
                f"output folder {self.path} already holds results; pass --overwrite to replace them "
                "or choose another --output"
            )

    def open(self) -> str:
        self.check()
        parent = os.path.dirname(self.path)
        os.makedirs(parent, exist_ok=True)
        for name in os.listdir(parent):  # staging folders of dead runs
            m = re.match(rf"^\.{re.escape(os.path.basename(self.path))}\.tmp-(\d+)$", name)
            if m and not _pid_alive(int(m.group(1))):
                shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
        if os.path.exists(self.staging):
            shutil.rmtree(self.staging)
        os.makedirs(self.staging)
        return self.staging

    def commit(self) -> str:
        """Move the finished results into place; an older result (``overwrite``) is removed after the move."""
        old = None
        if os.path.exists(self.path):
            old = f"{self.staging}.replaced"
            os.rename(self.path, old)
        os.rename(self.staging, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        if os.path.isdir(self.incomplete):
            shutil.rmtree(self.incomplete, ignore_errors=True)
        return self.path

    def abort(self, reason: str) -> str | None:
        """Keep what was written, marked incomplete, at ``<output>.incomplete``; returns that path."""
        if not os.path.isdir(self.staging):
            return None
        try:
            with open(os.path.join(self.staging, INCOMPLETE_MARKER), "w", encoding="utf-8") as fh:
                fh.write(f"these results are incomplete: {reason}\n")
        except OSError:
            pass  # a full disk: the folder name still says it
        if os.path.exists(self.incomplete):
            shutil.rmtree(self.incomplete, ignore_errors=True)
        os.rename(self.staging, self.incomplete)
        return self.incomplete
