"""The demo's HTTP API and page (FastAPI + a static HTML/JS page shipped in this package).

Why FastAPI and not Gradio: painting ids with a brush, scrubbing and a stoppable progress bar
need a custom canvas anyway, and a plain page with no third-party assets works offline and stays
small; FastAPI gives typed, validated routes (session ids must match ``[0-9a-f]{32}``, frame
indices are ints) and an in-process test client.

API (JSON errors are ``{"detail": message}``):

- ``GET  /api/info`` -> model loaded?, message if not, limits
- ``POST /api/sessions`` multipart ``file`` (a video or .zip of frames; or ``file`` repeated, one
  image per frame, e.g. a folder chosen in the browser; frames are taken in name order)
  -> ``{"session", "num_frames", "height", "width", "fps", "names"}``
- ``GET  /api/sessions/{id}`` -> the same plus status
- ``GET  /api/sessions/{id}/frames/{t}/image.jpg`` -> the frame
- ``GET  /api/sessions/{id}/frames/{t}/mask.png[?format=grey]`` -> current mask (palette PNG,
  or greyscale ids); header ``X-Mask-Source``: predicted | annotated | stale | empty
- ``POST /api/sessions/{id}/masks`` multipart ``frame``, ``file`` (PNG), optional ``object_id``
  (id for a 0/255 binary mask, default 1) -> ``{"frame", "ids"}``; makes it frame t's given mask
- ``DELETE /api/sessions/{id}/masks/{t}`` -> remove frame t's given mask
- ``POST /api/sessions/{id}/propagate`` optional JSON ``{"start": t}`` -> status (starts a worker;
  default start = the first frame whose prediction is stale)
- ``POST /api/sessions/{id}/stop`` -> status
- ``GET  /api/sessions/{id}/status`` -> ``{"state", "start", "current", "done", "total", "error",
  "num_frames", "annotated_frames", "up_to_date_frames", "object_ids"}``
- ``GET  /api/sessions/{id}/masks.zip`` -> palette PNGs named like the frames
- ``GET  /api/sessions/{id}/overlay.mp4`` -> frames blended with the masks
- ``DELETE /api/sessions/{id}`` -> removes the session and its folder
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Body, FastAPI, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask

from ..utils.logger import get_logger
from .session import SESSION_ID_PATTERN, DemoError, Engine, SessionStore
from .uploads import Limits, UploadError, decode_mask_png

logger = get_logger(__name__)

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

SessionId = Annotated[str, Path(pattern=SESSION_ID_PATTERN, description="32 hex digits")]
FrameIndex = Annotated[int, Path(ge=0, description="frame index")]


def _remove(path: str) -> None:
    if os.path.exists(path):
        os.remove(path)


def create_app(engine: Engine, limits: Limits | None = None) -> FastAPI:
    """The demo app; its sessions' folders are removed at shutdown (``app.state.store.close``)."""
    limits = limits or Limits()
    store = SessionStore(engine, limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            yield
        finally:
            store.close()

    app = FastAPI(title="hodor demo", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.store = store
    app.state.engine = engine
    app.state.limits = limits

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        """Refuse a too-large body before it is read (the copy loop also counts, for chunked bodies)."""
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > limits.max_upload_bytes + 64 * 1024:
            return JSONResponse(
                {"detail": f"upload of {size} bytes is larger than the limit of {limits.max_upload_bytes} bytes"},
                status_code=413,
            )
        return await call_next(request)

    @app.exception_handler(DemoError)
    async def _demo_error(request: Request, exc: DemoError):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(UploadError)
    async def _upload_error(request: Request, exc: UploadError):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(os.path.join(STATIC_DIR, "index.html"), headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/api/info")
    def info() -> dict:
        return {
            "model": engine.model is not None,
            "message": "" if engine.model is not None else engine.no_model_message,
            "limits": {
                "max_upload_bytes": limits.max_upload_bytes,
                "max_frames": limits.max_frames,
                "max_pixels": limits.max_pixels,
                "max_sessions": limits.max_sessions,
            },
        }

    def describe(s) -> dict:
        c = s.clip
        return {
            "session": s.id,
            "num_frames": len(c.names),
            "height": c.height,
            "width": c.width,
            "fps": c.fps,
            "names": c.names,
        }

    @app.post("/api/sessions", status_code=201)
    def create_session(
        file: Annotated[list[UploadFile], File(description="a video file or .zip of frames, or several frames")],
    ) -> dict:
        names = [f.filename or "upload" for f in file]
        if len(file) == 1:
            names = [os.path.basename(names[0].replace("\\", "/")) or "upload"]
        s = store.create([(f.file, n) for f, n in zip(file, names)])
        logger.info(
            "session %s: %s, %d frames", s.id, names[0] if len(names) == 1 else f"{len(names)} files", s.num_frames
        )
        return describe(s)

    @app.get("/api/sessions/{sid}")
    def get_session(sid: SessionId) -> dict:
        s = store.get(sid)
        return {**describe(s), "status": s.status()}

    @app.delete("/api/sessions/{sid}")
    def delete_session(sid: SessionId) -> dict:
        store.delete(sid)
        return {"deleted": sid}

    @app.get("/api/sessions/{sid}/frames/{t}/image.jpg")
    def frame_image(sid: SessionId, t: FrameIndex) -> Response:
        return Response(store.get(sid).frame_jpeg(t), media_type="image/jpeg")

    @app.get("/api/sessions/{sid}/frames/{t}/mask.png")
    def frame_mask(
        sid: SessionId, t: FrameIndex, format: Annotated[str, Query(pattern="^(palette|grey)$")] = "palette"
    ) -> Response:
        data, source = store.get(sid).mask_png(t, palette=format == "palette")
        return Response(data, media_type="image/png", headers={"X-Mask-Source": source, "Cache-Control": "no-store"})

    @app.post("/api/sessions/{sid}/masks")
    def upload_mask(
        sid: SessionId,
        frame: Annotated[int, Form(ge=0)],
        file: Annotated[UploadFile, File(description="palette or greyscale id PNG")],
        object_id: Annotated[int, Form(ge=1, le=254)] = 1,
    ) -> dict:
        s = store.get(sid)
        s.check_frame(frame)
        name = os.path.basename((file.filename or "mask.png").replace("\\", "/")) or "mask.png"
        data = file.file.read(limits.max_upload_bytes + 1)
        if len(data) > limits.max_upload_bytes:
            raise UploadError(f"{name}: larger than the limit of {limits.max_upload_bytes} bytes", 413)
        ids = decode_mask_png(data, name, (s.clip.height, s.clip.width), binary_id=object_id)
        return {"frame": frame, "ids": s.set_annotation(frame, ids)}

    @app.delete("/api/sessions/{sid}/masks/{t}")
    def delete_mask(sid: SessionId, t: FrameIndex) -> dict:
        store.get(sid).delete_annotation(t)
        return {"frame": t, "deleted": True}

    @app.post("/api/sessions/{sid}/propagate")
    def propagate(sid: SessionId, start: Annotated[int | None, Body(embed=True, ge=0)] = None) -> dict:
        s = store.get(sid)
        s.propagate(start)
        return s.status()

    @app.post("/api/sessions/{sid}/stop")
    def stop(sid: SessionId) -> dict:
        s = store.get(sid)
        s.stop()
        return s.status()

    @app.get("/api/sessions/{sid}/status")
    def status(sid: SessionId) -> dict:
        return store.get(sid).status()

    @app.get("/api/sessions/{sid}/masks.zip")
    def masks_zip(sid: SessionId) -> Response:
        return Response(
            store.get(sid).masks_zip(),
            media_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="masks.zip"'},
        )

    @app.get("/api/sessions/{sid}/overlay.mp4")
    def overlay_video(sid: SessionId) -> FileResponse:
        path = store.get(sid).overlay_video()
        return FileResponse(
            path, media_type="video/mp4", filename="overlay.mp4", background=BackgroundTask(_remove, path)
        )

    return app
