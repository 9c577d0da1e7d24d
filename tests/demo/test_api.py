"""The demo's HTTP API, in process: results equal tools/infer_video.py's, flows, limits, bad input."""

import io
import os
import zipfile

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.demo.conftest import (
    H,
    W,
    index_map,
    infer_video_masks,
    png_bytes,
    read_zip_masks,
    save_png,
    synthetic_video,
    wait_done,
    write_mp4,
)

fastapi_testclient = pytest.importorskip("fastapi.testclient")

from hodor.demo.app import create_app  # noqa: E402
from hodor.demo.session import Engine  # noqa: E402
from hodor.demo.uploads import Limits  # noqa: E402

FIRST = {3: (8, 28, 10, 34)}  # object 3 on the red box of frame 0
LATER = {12: (32, 52, 56, 80)}  # object 12 (green box) added at frame 2
CORRECTION = {3: (12, 32, 18, 42), 12: (30, 54, 54, 78)}  # frame 4 corrected by hand


@pytest.fixture()
def client(engine):
    with fastapi_testclient.TestClient(create_app(engine)) as c:
        yield c


def _create(client, path, name=None):
    with open(path, "rb") as fh:
        r = client.post("/api/sessions", files={"file": (name or os.path.basename(path), fh)})
    return r


def _mask(client, sid, frame, ids, palette=True, object_id=None, name="m.png"):
    data = {"frame": str(frame)}
    if object_id is not None:
        data["object_id"] = str(object_id)
    return client.post(f"/api/sessions/{sid}/masks", data=data, files={"file": (name, png_bytes(ids, palette))})


def _propagate(client, sid, start=None):
    r = client.post(f"/api/sessions/{sid}/propagate", json={} if start is None else {"start": start})
    assert r.status_code == 200, r.text
    st = wait_done(client, sid)
    assert st["state"] == "done", st
    return st


def _zip(client, sid):
    r = client.get(f"/api/sessions/{sid}/masks.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    return read_zip_masks(r.content)


def test_upload_mask_propagate_equals_infer_video(client, tmp_path, tiny_weights):
    video = write_mp4(tmp_path / "clip.mp4", synthetic_video(6, H, W))
    r = _create(client, video)
    assert r.status_code == 201, r.text
    info = r.json()
    assert (info["num_frames"], info["height"], info["width"]) == (6, H, W)
    sid = info["session"]
    first = index_map(FIRST)
    r = _mask(client, sid, 0, first)
    assert r.status_code == 200 and r.json() == {"frame": 0, "ids": [3]}
    st = _propagate(client, sid)
    assert (st["start"], st["done"], st["total"], st["up_to_date_frames"]) == (0, 6, 6, 6)

    got = _zip(client, sid)
    ref = infer_video_masks(tmp_path, video, [(0, save_png(tmp_path / "first.png", first))], tiny_weights)
    assert sorted(got) == sorted(ref) == [f"{i:05d}.png" for i in range(6)]
    for name in ref:
        mode, ids = got[name]
        assert mode == "P"
        np.testing.assert_array_equal(ids, ref[name], err_msg=name)
    assert any((m == 3).any() for n, m in ref.items() if n != "00000.png")  # the object was tracked

    # one frame's mask, palette and greyscale, and where it came from
    r = client.get(f"/api/sessions/{sid}/frames/5/mask.png")
    assert r.headers["x-mask-source"] == "predicted"
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.array(im), ref["00005.png"])
    grey = client.get(f"/api/sessions/{sid}/frames/5/mask.png", params={"format": "grey"})
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(grey.content, np.uint8), 0), ref["00005.png"])
    jpg = client.get(f"/api/sessions/{sid}/frames/2/image.jpg")
    assert jpg.headers["content-type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(jpg.content, np.uint8), 1).shape == (H, W, 3)

    # overlay video: one frame per input frame
    r = client.get(f"/api/sessions/{sid}/overlay.mp4")
    assert r.status_code == 200
    (tmp_path / "ov.mp4").write_bytes(r.content)
    cap = cv2.VideoCapture(str(tmp_path / "ov.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 6
    folder = os.path.join(client.app.state.store.root, sid)
    assert not [f for f in os.listdir(folder) if f.startswith(("overlay", "export"))]  # per-request files removed


def test_add_object_then_correct_resumes_and_equals_infer_video(client, tmp_path, tiny_weights):
    video = write_mp4(tmp_path / "clip.mp4", synthetic_video(6, H, W))
    sid = _create(client, video).json()["session"]
    first, later, corr = index_map(FIRST), index_map(LATER), index_map(CORRECTION)
    assert _mask(client, sid, 0, first).status_code == 200
    _propagate(client, sid)
    before = _zip(client, sid)

    # add an object at a later frame: only frames 2.. are recomputed
    assert _mask(client, sid, 2, later, palette=False).json()["ids"] == [12]
    assert client.get(f"/api/sessions/{sid}/frames/3/mask.png").headers["x-mask-source"] == "stale"
    assert client.get(f"/api/sessions/{sid}/frames/2/mask.png").headers["x-mask-source"] == "annotated"
    st = _propagate(client, sid)
    assert (st["start"], st["total"], st["object_ids"]) == (2, 4, [3, 12])
    added = _zip(client, sid)
    ref = infer_video_masks(
        tmp_path, video, [(0, save_png(tmp_path / "a.png", first)), (2, save_png(tmp_path / "b.png", later))],
        tiny_weights, "ref_add",
    )  # fmt: skip
    for name in ref:
        np.testing.assert_array_equal(added[name][1], ref[name], err_msg=name)
    for name in ("00000.png", "00001.png"):
        np.testing.assert_array_equal(added[name][1], before[name][1])
    assert (ref["00004.png"] == 12).any()

    # correct frame 4 and re-propagate from it
    assert _mask(client, sid, 4, corr).json()["ids"] == [3, 12]
    st = _propagate(client, sid)
    assert (st["start"], st["total"]) == (4, 2)
    corrected = _zip(client, sid)
    ref = infer_video_masks(
        tmp_path, video,
        [(0, save_png(tmp_path / "a.png", first)), (2, save_png(tmp_path / "b.png", later)),
         (4, save_png(tmp_path / "c.png", corr))],
        tiny_weights, "ref_corr",
    )  # fmt: skip
    for name in ref:
        np.testing.assert_array_equal(corrected[name][1], ref[name], err_msg=name)
    np.testing.assert_array_equal(corrected["00004.png"][1], corr)  # the given frame is reproduced

    # an explicit earlier start recomputes from there, with the same result
    st = _propagate(client, sid, start=1)
    assert (st["start"], st["total"]) == (1, 5)
    again = _zip(client, sid)
    for name in ref:
        np.testing.assert_array_equal(again[name][1], ref[name], err_msg=name)

    # removing the given mask of frame 4 goes back to the add-object result
    assert client.delete(f"/api/sessions/{sid}/masks/4").status_code == 200
    st = _propagate(client, sid)
    assert st["start"] == 4 and st["annotated_frames"] == [0, 2]
    for name, (_, ids) in _zip(client, sid).items():
        np.testing.assert_array_equal(ids, added[name][1], err_msg=name)


def test_zip_of_frames_names_and_equality(client, tmp_path, tiny_weights):
    frames = synthetic_video(3, H, W)
    folder = tmp_path / "frames"
    folder.mkdir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, f in enumerate(frames):
            Image.fromarray(f).save(folder / f"img_{10 + i}.jpg", quality=95)
            zf.write(folder / f"img_{10 + i}.jpg", f"clip/img_{10 + i}.jpg")
        zf.writestr("clip/notes.txt", "not a frame")
        zf.writestr("__MACOSX/clip/._img_10.jpg", "resource fork")
    r = client.post("/api/sessions", files={"file": ("frames.zip", buf.getvalue())})
    assert r.status_code == 201, r.text
    info = r.json()
    assert info["names"] == ["img_10", "img_11", "img_12"]
    sid = info["session"]
    first = index_map({1: (8, 28, 10, 34)})
    _mask(client, sid, 0, first)
    _propagate(client, sid)
    got = _zip(client, sid)
    ref = infer_video_masks(tmp_path, folder, [(0, save_png(tmp_path / "m.png", first))], tiny_weights)
    assert sorted(got) == sorted(ref) == ["img_10.png", "img_11.png", "img_12.png"]
    for name in ref:
        np.testing.assert_array_equal(got[name][1], ref[name])

    # the same frames as separate files (a folder chosen in the browser), in shuffled order
    files = [("file", (f"clip/img_{10 + i}.jpg", (folder / f"img_{10 + i}.jpg").read_bytes())) for i in (2, 0, 1)]
    r = client.post("/api/sessions", files=[*files, ("file", ("clip/Thumbs.db", b"junk"))])
    assert r.status_code == 201, r.text
    assert r.json()["names"] == ["img_10", "img_11", "img_12"]
    sid2 = r.json()["session"]
    _mask(client, sid2, 0, first)
    _propagate(client, sid2)
    for name, (_, ids) in _zip(client, sid2).items():
        np.testing.assert_array_equal(ids, ref[name])


def test_mask_formats(client, tmp_path):
    sid = _create(client, write_mp4(tmp_path / "clip.mp4", synthetic_video(3, H, W))).json()["session"]
    box = index_map({1: (8, 28, 10, 34)}) > 0
    # 0/255 binary mask = one object, with the id asked for
    r = _mask(client, sid, 1, np.where(box, 255, 0).astype(np.uint8), palette=False, object_id=5)
    assert r.json()["ids"] == [5]
    got = client.get(f"/api/sessions/{sid}/frames/1/mask.png", params={"format": "grey"})
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(got.content, np.uint8), 0), np.where(box, 5, 0))
    # greyscale ids, two objects
    assert _mask(client, sid, 0, index_map({2: (0, 10, 0, 10), 7: (20, 30, 20, 30)}), palette=False).json()["ids"] == [
        2,
        7,
    ]
    # a greyscale id map saved as RGBA (what a browser canvas writes)
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[box] = (4, 4, 4, 255)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    r = client.post(f"/api/sessions/{sid}/masks", data={"frame": "2"}, files={"file": ("c.png", buf.getvalue())})
    assert r.json()["ids"] == [4]
    assert client.get(f"/api/sessions/{sid}/status").json()["annotated_frames"] == [0, 1, 2]


@pytest.mark.parametrize(
    "make, status, needles",
    [
        (lambda: png_bytes(np.zeros((H, W), np.uint8)), 400, ["no object"]),
        (lambda: png_bytes(np.ones((32, 48), np.uint8)), 400, ["shirt.png", "32x48", "64x96"]),
        (lambda: b"\x89PNG\r\n\x1a\n garbage", 400, ["shirt.png", "cannot decode"]),
        (lambda: _colour_png(), 400, ["shirt.png", "colour"]),
    ],
)
def test_bad_masks(client, tmp_path, make, status, needles):
    sid = _create(client, write_mp4(tmp_path / "clip.mp4", synthetic_video(2, H, W))).json()["session"]
    r = client.post(f"/api/sessions/{sid}/masks", data={"frame": "0"}, files={"file": ("shirt.png", make())})
    assert r.status_code == status, r.text
    for n in needles:
        assert n in r.json()["detail"]
    assert client.get(f"/api/sessions/{sid}/status").json()["annotated_frames"] == []


def _colour_png():
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[5:10, 5:10] = (128, 0, 0)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def test_bad_requests_and_server_keeps_running(client, tmp_path):
    good = write_mp4(tmp_path / "clip.mp4", synthetic_video(3, H, W))
    # corrupt video, unsupported type, broken zip, zip without frames, empty upload
    (tmp_path / "broken.mp4").write_bytes(b"this is not a video" * 20)
    r = _create(client, tmp_path / "broken.mp4")
    assert r.status_code == 400 and "broken.mp4" in r.json()["detail"] and "cannot read" in r.json()["detail"]
    r = client.post("/api/sessions", files={"file": ("notes.txt", b"hello")})
    assert r.status_code == 400 and "unsupported" in r.json()["detail"]
    r = client.post("/api/sessions", files={"file": ("frames.zip", b"PK\x03\x04 broken")})
    assert r.status_code == 400 and "frames.zip" in r.json()["detail"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "no frames here")
    r = client.post("/api/sessions", files={"file": ("frames.zip", buf.getvalue())})
    assert r.status_code == 400 and "no frames" in r.json()["detail"]
    r = client.post("/api/sessions", files={"file": ("empty.mp4", b"")})
    assert r.status_code == 400 and "empty" in r.json()["detail"]
    # a zip with a corrupt frame names that frame
    buf = io.BytesIO()
    ok, jpg = cv2.imencode(".jpg", synthetic_video(1, H, W)[0])
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/0001.jpg", jpg.tobytes())
        zf.writestr("a/0002.jpg", jpg.tobytes()[:100])
    r = client.post("/api/sessions", files={"file": ("frames.zip", buf.getvalue())})
    assert r.status_code == 400 and "0002.jpg" in r.json()["detail"], r.text
    assert len(client.app.state.store) == 0  # failed uploads leave no session behind

    sid = _create(client, good).json()["session"]
    # session ids are validated before anything else; frame indices are ints in range
    assert client.get("/api/sessions/..%2F..%2Fetc/status").status_code in (404, 422)
    assert client.get("/api/sessions/not-a-session/status").status_code == 422
    assert client.get(f"/api/sessions/{'0' * 32}/status").status_code == 404
    assert client.get(f"/api/sessions/{sid}/frames/3/mask.png").status_code == 404
    assert client.get(f"/api/sessions/{sid}/frames/-1/mask.png").status_code == 422
    assert client.get(f"/api/sessions/{sid}/frames/x/image.jpg").status_code == 422
    assert client.get(f"/api/sessions/{sid}/frames/0/mask.png", params={"format": "../x"}).status_code == 422
    r = client.post(
        f"/api/sessions/{sid}/masks", data={"frame": "7"}, files={"file": ("m.png", png_bytes(index_map(FIRST)))}
    )
    assert r.status_code == 404 and "frame 7" in r.json()["detail"]
    r = client.post(f"/api/sessions/{sid}/propagate", json={})
    assert r.status_code == 400 and "mask first" in r.json()["detail"]
    assert client.delete(f"/api/sessions/{sid}/masks/0").status_code == 404
    # still serving
    assert _mask(client, sid, 0, index_map(FIRST)).status_code == 200
    _propagate(client, sid)


def test_limits(engine, tmp_path):
    video = write_mp4(tmp_path / "clip.mp4", synthetic_video(6, H, W))
    limits = Limits(max_upload_bytes=4000, max_frames=4, max_pixels=H * W, max_unzipped_bytes=10_000, max_sessions=1)
    with fastapi_testclient.TestClient(create_app(engine, limits)) as client:
        assert os.path.getsize(video) > 4000  # refused by the copy loop (the body is under the header check)
        r = _create(client, video)
        assert r.status_code == 413 and "4000 bytes" in r.json()["detail"]
        small_limits = Limits(max_frames=4, max_pixels=H * W, max_unzipped_bytes=10_000, max_sessions=1)
        client.app.state.store.limits = small_limits
        r = _create(client, video)
        assert r.status_code == 413 and "4 frames" in r.json()["detail"] and "--max-frames" in r.json()["detail"]
        # too many pixels
        r = _create(client, write_mp4(tmp_path / "big.mp4", synthetic_video(2, H * 2, W)))
        assert r.status_code == 413 and "pixels" in r.json()["detail"]
        # frames that unpack to more than the limit (zip bomb guard)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("a.png", b"\0" * 20_000)
        r = client.post("/api/sessions", files={"file": ("bomb.zip", buf.getvalue())})
        assert r.status_code == 413 and "unpack" in r.json()["detail"]
        # one session at a time
        ok = _create(client, write_mp4(tmp_path / "short.mp4", synthetic_video(3, H, W)))
        assert ok.status_code == 201
        r = _create(client, tmp_path / "short.mp4")
        assert r.status_code == 429 and "--max-sessions" in r.json()["detail"]
    # the Content-Length check refuses a large body before reading it
    with fastapi_testclient.TestClient(create_app(engine, Limits(max_upload_bytes=1000))) as client:
        r = client.post("/api/sessions", files={"file": ("x.mp4", b"\0" * 200_000)})
        assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_delete_and_shutdown_remove_folders(engine, tmp_path):
    video = write_mp4(tmp_path / "clip.mp4", synthetic_video(2, H, W))
    with fastapi_testclient.TestClient(create_app(engine)) as client:
        store = client.app.state.store
        a = _create(client, video).json()["session"]
        b = _create(client, video).json()["session"]
        folder_a = os.path.join(store.root, a)
        assert os.path.isdir(folder_a) and os.listdir(os.path.join(folder_a, "frames"))
        assert client.delete(f"/api/sessions/{a}").status_code == 200
        assert not os.path.exists(folder_a)
        assert client.get(f"/api/sessions/{a}/status").status_code == 404
        assert client.get(f"/api/sessions/{b}/status").status_code == 200  # sessions are isolated
        root = store.root
    assert not os.path.exists(root)  # server exit removes every session folder


def test_stop_then_resume(client, engine, tmp_path):
    sid = _create(client, write_mp4(tmp_path / "clip.mp4", synthetic_video(4, H, W))).json()["session"]
    _mask(client, sid, 0, index_map(FIRST))
    with engine.compute_lock:  # another propagation holds the model: this one queues
        st = client.post(f"/api/sessions/{sid}/propagate", json={}).json()
        assert st["state"] == "queued"
        r = client.post(
            f"/api/sessions/{sid}/masks", data={"frame": "1"}, files={"file": ("m.png", png_bytes(index_map(FIRST)))}
        )
        assert r.status_code == 409 and "stop" in r.json()["detail"]
        assert client.post(f"/api/sessions/{sid}/stop").status_code == 200
    st = wait_done(client, sid)
    assert st["state"] == "stopped" and st["done"] == 0
    st = _propagate(client, sid)
    assert (st["start"], st["done"]) == (0, 4)


def test_no_model(tmp_path):
    from hodor.demo.cli import build_engine, no_model_message, parse_args

    eng = build_engine(parse_args([]))
    assert eng.model is None
    with fastapi_testclient.TestClient(create_app(eng)) as client:
        info = client.get("/api/info").json()
        assert info["model"] is False and "--weights" in info["message"] and "quickstart" in info["message"]
        sid = _create(client, write_mp4(tmp_path / "clip.mp4", synthetic_video(2, H, W))).json()["session"]
        assert _mask(client, sid, 0, index_map(FIRST)).status_code == 200  # painting works without a model
        r = client.post(f"/api/sessions/{sid}/propagate", json={})
        assert r.status_code == 503 and "--weights" in r.json()["detail"]
        page = client.get("/")
        assert page.status_code == 200 and "<canvas" in page.text
        assert client.get("/static/app.js").status_code == 200
    # a quick-start model in the working directory is offered
    qs = tmp_path / "output" / "quickstart" / "sparse_video"
    qs.mkdir(parents=True)
    (qs / "model_final.pth").write_bytes(b"")
    assert "Found a quick-start model" in no_model_message(str(tmp_path))
    assert isinstance(Engine(None, eng.cfg).no_model_message, str)


def test_weights_without_config_file_use_the_runs_config(tiny_weights):
    """save_model writes config.yaml beside the weights; the demo builds that architecture from it."""
    from hodor.demo.cli import build_engine, parse_args

    eng = build_engine(parse_args(["--weights", tiny_weights, "DEVICE", "cpu"]))
    assert eng.cfg.MODEL.BACKBONE.NAME == "resnet18" and eng.cfg.MODEL.HIDDEN_DIM == 64
    assert eng.model is not None
