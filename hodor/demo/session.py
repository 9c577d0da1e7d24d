"""One demo session (a clip, its annotations and predictions) and the set of open sessions.

A session lives in its own temporary folder (``frames/`` decoded frames as lossless PNGs,
``pred/`` predicted id maps); deleting the session or stopping the server removes it. The
user's annotations are id maps per frame. Propagation runs the streaming
:class:`~hodor.inference.predictor.VideoPredictor` in a worker thread, one frame at a time, exactly
as ``tools/infer_video.py`` does (``step(frame_t, masks_given_at_t)`` for t = 0, 1, ...), so the
results equal that tool's with the same annotations.

Why snapshots: the predictor is causal, so a new annotation at frame k (a correction or a new
object) cannot change frames before k. After every frame the predictor state is saved
(``VideoPredictor.snapshot``, descriptors only); a change at frame k drops the snapshots after k
and marks frames >= k stale, and the next propagation resumes from the snapshot before the first
stale frame instead of recomputing the whole clip. The result is the same as a full rerun.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import threading
import uuid
import zipfile
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch import nn

from ..data.io import DataError, read_index_mask
from ..inference.predictor import PredictorSnapshot, VideoPredictor
from ..inference.video_io import OverlayVideoWriter, overlay, split_index_mask
from ..utils.labels import object_ids as label_ids
from ..utils.logger import get_logger
from ..utils.palette import save_index_png
from .uploads import DecodedClip, Limits, UploadError, decode_clip, decode_frame_files, iter_chunks, upload_suffix

logger = get_logger(__name__)

SESSION_ID_PATTERN = r"^[0-9a-f]{32}$"


class DemoError(Exception):
    """A request that cannot be served; ``status`` is the HTTP status (404, 409, 503...)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Engine:
    """The model shared by all sessions, and a lock so that one propagation computes at a time.

    ``model`` None means no weights were given: everything but propagation works, and
    propagation answers ``no_model_message``.
    """

    def __init__(self, model: nn.Module | None, cfg, device: torch.device | str = "cpu", no_model_message: str = ""):
        self.model = model
        self.cfg = cfg
        self.device = torch.device(device)
        self.no_model_message = no_model_message or "no model loaded"
        self.compute_lock = threading.Lock()

    def new_predictor(self) -> VideoPredictor:
        if self.model is None:
            raise DemoError(self.no_model_message, 503)
        return VideoPredictor.from_config(self.model, self.cfg, device=self.device)


@dataclass
class Progress:
    """What ``GET /api/sessions/{id}/status`` reports about the current or last propagation."""

    state: str = "idle"  # idle | queued | running | done | stopped | error
    start: int = 0
    current: int = 0  # next frame to compute
    total: int = 0  # frames this run computes
    done: int = 0
    error: str = ""
    stop: threading.Event = field(default_factory=threading.Event)


class Session:
    """A clip being segmented; all methods are thread-safe (one lock guards the state)."""

    def __init__(self, sid: str, folder: str, engine: Engine) -> None:
        self.id = sid
        self.folder = folder
        self.engine = engine
        self.frames_dir = os.path.join(folder, "frames")
        self.pred_dir = os.path.join(folder, "pred")
        os.makedirs(self.frames_dir)
        os.makedirs(self.pred_dir)
        self.clip: DecodedClip | None = None
        self.annotations: dict[int, np.ndarray] = {}  # frame -> uint8 id map [H,W]
        self.valid: list[bool] = []  # prediction of frame t is up to date
        self.has_pred: list[bool] = []
        self.snapshots: dict[int, PredictorSnapshot] = {}  # k -> state before frame k
        self.progress = Progress()
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._predictor: VideoPredictor | None = None

    # ------------------------------------------------------------------ clip
    def load_upload(self, uploads: list[tuple[object, str]], limits: Limits) -> DecodedClip:
        """Decode the clip: one video file or zip, or several image files (the frames).

        ``uploads``: (file object, the user's file name) pairs. A single upload is copied under a
        name we choose (counting bytes) before decoding.
        """
        if len(uploads) == 1:
            fileobj, filename = uploads[0]
            data_path = os.path.join(self.folder, "upload" + upload_suffix(filename))
            size = 0
            with open(data_path, "wb") as out:
                for chunk in iter_chunks(fileobj):
                    size += len(chunk)
                    if size > limits.max_upload_bytes:
                        raise UploadError(
                            f"{filename}: upload is larger than the limit of {limits.max_upload_bytes} bytes", 413
                        )
                    out.write(chunk)
            if size == 0:
                raise UploadError(f"{filename}: the upload is empty")
            clip = decode_clip(data_path, filename, self.folder, limits, self._save_frame)
            os.remove(data_path)
        else:
            clip = decode_frame_files([(n, f) for f, n in uploads], self.folder, limits, self._save_frame)
        shutil.rmtree(os.path.join(self.folder, "zip_frames"), ignore_errors=True)
        with self._lock:
            self.clip = clip
            self.valid = [False] * len(clip.names)
            self.has_pred = [False] * len(clip.names)
            self.snapshots = {}
        return clip

    def _save_frame(self, t: int, rgb: np.ndarray) -> None:
        path = os.path.join(self.frames_dir, f"{t:05d}.png")
        if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise UploadError(f"cannot store frame {t} in the session folder")

    @property
    def num_frames(self) -> int:
        return len(self.clip.names) if self.clip else 0

    def check_frame(self, t: int) -> int:
        if not 0 <= t < self.num_frames:
            raise DemoError(f"frame {t} does not exist: the clip has frames 0..{self.num_frames - 1}", 404)
        return t

    def frame(self, t: int) -> np.ndarray:
        """RGB uint8 [H,W,3] of frame t (lossless copy of what the decoder gave)."""
        bgr = cv2.imread(os.path.join(self.frames_dir, f"{self.check_frame(t):05d}.png"), cv2.IMREAD_COLOR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def frame_jpeg(self, t: int) -> bytes:
        path = os.path.join(self.frames_dir, f"{self.check_frame(t):05d}.jpg")
        if not os.path.isfile(path):
            ok, enc = cv2.imencode(
                ".jpg", cv2.cvtColor(self.frame(t), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
            )
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(enc.tobytes())
            os.replace(tmp, path)
            return enc.tobytes()
        with open(path, "rb") as fh:
            return fh.read()

    # ------------------------------------------------------------------ masks
    def _require_idle(self) -> None:
        if self.progress.state in ("queued", "running"):
            raise DemoError("propagation is running: stop it (or wait) before changing masks", 409)

    def _invalidate_from(self, t: int) -> None:
        for k in range(t, self.num_frames):
            self.valid[k] = False
        for k in [k for k in self.snapshots if k > t]:
            del self.snapshots[k]

    def set_annotation(self, t: int, ids: np.ndarray) -> list[int]:
        """Make ``ids`` (uint8 [H,W], 0 background, 255 void) the given mask of frame t.

        Every object in it is given at t: a new id starts there, a tracked id is corrected.
        Frames >= t become stale. Returns the object ids found.
        """
        with self._lock:
            self._require_idle()
            self.check_frame(t)
            try:
                objs = split_index_mask(ids, f"mask for frame {t}")
            except DataError as e:
                raise UploadError(str(e)) from e
            self.annotations[t] = np.ascontiguousarray(ids, dtype=np.uint8)
            self._invalidate_from(t)
            return sorted(objs)

    def delete_annotation(self, t: int) -> None:
        with self._lock:
            self._require_idle()
            self.check_frame(t)
            if self.annotations.pop(t, None) is None:
                raise DemoError(f"frame {t} has no given mask", 404)
            self._invalidate_from(t)

    def mask(self, t: int) -> tuple[np.ndarray, str]:
        """Current id map of frame t and where it comes from: predicted, annotated, stale or empty."""
        with self._lock:
            self.check_frame(t)
            if self.valid[t] and self.has_pred[t]:
                return self._read_pred(t), "predicted"
            if t in self.annotations:
                return self.annotations[t].copy(), "annotated"
            if self.has_pred[t]:
                return self._read_pred(t), "stale"
        h, w = self.clip.height, self.clip.width
        return np.zeros((h, w), np.uint8), "empty"

    def mask_png(self, t: int, palette: bool = True) -> tuple[bytes, str]:
        """Frame t's current mask as PNG bytes: palette (DAVIS colours, values = ids) or greyscale ids."""
        ids, source = self.mask(t)
        if not palette:
            ok, enc = cv2.imencode(".png", ids)
            return enc.tobytes(), source
        path = os.path.join(self.folder, f"mask-{uuid.uuid4().hex}.png")
        try:
            save_index_png(path, ids)
            with open(path, "rb") as fh:
                return fh.read(), source
        finally:
            os.remove(path)

    def _read_pred(self, t: int) -> np.ndarray:
        return read_index_mask(os.path.join(self.pred_dir, f"{t:05d}.png"))

    def object_ids(self) -> list[int]:
        with self._lock:
            ids: set[int] = set()
            for m in self.annotations.values():
                ids.update(label_ids(m))
            return sorted(ids)

    # ------------------------------------------------------------------ propagation
    def _resume_point(self, start: int | None) -> int:
        stale = [k for k in range(self.num_frames) if not self.valid[k]]
        first_stale = stale[0] if stale else self.num_frames
        want = first_stale if start is None else min(max(int(start), 0), first_stale)
        while want not in self.snapshots and want > 0:
            want -= 1
        return want

    def propagate(self, start: int | None = None) -> Progress:
        """Start propagating in a worker thread from ``start`` (default: the first stale frame)."""
        with self._lock:
            self._require_idle()
            if not self.annotations:
                raise DemoError("give a mask first: paint or upload one for at least one frame", 400)
            if start is not None:
                self.check_frame(start)
            predictor = self._predictor or self.engine.new_predictor()
            self._predictor = predictor
            if 0 not in self.snapshots:
                self.snapshots[0] = PredictorSnapshot(frame_index=0, orig_hw=None, object_ids=[], history={})
            k = self._resume_point(start)
            self.progress = Progress(state="queued", start=k, current=k, total=self.num_frames - k)
            if k >= self.num_frames:
                self.progress.state = "done"
                return self.progress
            self._thread = threading.Thread(
                target=self._run, args=(predictor, k, self.progress), name=f"hodor-demo-{self.id[:8]}", daemon=True
            )
            self._thread.start()
            return self.progress

    def _run(self, predictor: VideoPredictor, k: int, prog: Progress) -> None:
        try:
            with self.engine.compute_lock, torch.inference_mode():
                if prog.stop.is_set():
                    prog.state = "stopped"
                    return
                prog.state = "running"
                predictor.restore(self.snapshots[k])
                for t in range(k, self.num_frames):
                    if prog.stop.is_set():
                        prog.state = "stopped"
                        return
                    given = self.annotations.get(t)
                    masks = split_index_mask(given, f"frame {t}") if given is not None else None
                    pred = predictor.step(self.frame(t), masks)
                    path = os.path.join(self.pred_dir, f"{t:05d}.png")
                    save_index_png(path + ".tmp.png", pred)
                    os.replace(path + ".tmp.png", path)  # readers never see a half-written mask
                    snap = predictor.snapshot()
                    with self._lock:
                        self.has_pred[t] = True
                        self.valid[t] = True
                        self.snapshots[t + 1] = snap
                        prog.done += 1
                        prog.current = t + 1
                prog.state = "done"
        except Exception as e:  # report in the page; the server keeps running
            logger.exception("propagation failed in session %s", self.id)
            prog.error = f"{type(e).__name__}: {e}"
            prog.state = "error"

    def stop(self, wait: float = 0.0) -> None:
        self.progress.stop.set()
        if wait and self._thread is not None:
            self._thread.join(wait)

    def status(self) -> dict:
        with self._lock:
            p = self.progress
            return {
                "state": p.state,
                "start": p.start,
                "current": p.current,
                "done": p.done,
                "total": p.total,
                "error": p.error,
                "num_frames": self.num_frames,
                "annotated_frames": sorted(self.annotations),
                "up_to_date_frames": int(sum(v and h for v, h in zip(self.valid, self.has_pred))),
                "object_ids": self.object_ids(),
            }

    # ------------------------------------------------------------------ downloads
    def masks_zip(self) -> bytes:
        """Palette PNGs (DAVIS palette, values = ids) of every frame's current mask, named as the frames."""
        export = os.path.join(self.folder, f"export-{uuid.uuid4().hex}")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            for t, name in enumerate(self.clip.names):
                path = os.path.join(export, f"{t:05d}.png")
                save_index_png(path, self.mask(t)[0])
                zf.write(path, f"{name}.png")
        shutil.rmtree(export, ignore_errors=True)
        return buf.getvalue()

    def overlay_video(self, alpha: float = 0.5) -> str:
        """Write an overlay mp4 (frames blended with the current masks) in the session folder; returns its path.

        Each call writes its own file (the caller removes it once sent).
        """
        path = os.path.join(self.folder, f"overlay-{uuid.uuid4().hex}.mp4")
        with OverlayVideoWriter(path, self.clip.fps, (self.clip.height, self.clip.width)) as writer:
            for t in range(self.num_frames):
                writer.write(overlay(self.frame(t), self.mask(t)[0], alpha))
        return path


class SessionStore:
    """Open sessions, each in its own folder under one temporary root removed by :meth:`close`."""

    def __init__(self, engine: Engine, limits: Limits) -> None:
        self.engine = engine
        self.limits = limits
        self.root = tempfile.mkdtemp(prefix="hodor-demo-")
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, uploads: list[tuple[object, str]]) -> Session:
        """A new session from (file object, file name) pairs: one video/zip, or several frames."""
        with self._lock:
            if len(self._sessions) >= self.limits.max_sessions:
                raise DemoError(
                    f"{self.limits.max_sessions} sessions are open (the limit, --max-sessions): close one first", 429
                )
            sid = uuid.uuid4().hex
            session = Session(sid, os.path.join(self.root, sid), self.engine)
            self._sessions[sid] = session
        try:
            session.load_upload(uploads, self.limits)
        except BaseException:
            self.delete(sid)
            raise
        return session

    def get(self, sid: str) -> Session:
        session = self._sessions.get(sid)
        if session is None or session.clip is None:
            raise DemoError(f"no session {sid!r} (it was deleted, or the server restarted)", 404)
        return session

    def delete(self, sid: str) -> None:
        with self._lock:
            session = self._sessions.pop(sid, None)
        if session is None:
            raise DemoError(f"no session {sid!r}", 404)
        session.stop(wait=30.0)
        shutil.rmtree(session.folder, ignore_errors=True)

    def __len__(self) -> int:
        return len(self._sessions)

    def close(self) -> None:
        """Stop every propagation and remove all session folders (server shutdown)."""
        for sid in list(self._sessions):
            self.delete(sid)
        shutil.rmtree(self.root, ignore_errors=True)
