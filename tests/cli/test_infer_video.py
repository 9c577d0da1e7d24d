"""tools/infer_video.py (hodor.cli.infer_video): mp4 / frame folder in, palette PNGs + overlay out."""

import os

import cv2
import numpy as np
from PIL import Image

from hodor.cli.infer_video import main
from hodor.data.io import read_index_mask
from hodor.utils.palette import davis_palette, save_index_png
from tests.inference.conftest import TINY_OPTS, box_mask, synthetic_video


def _write_mp4(path, frames, fps=10):
    h, w = frames.shape[1:3]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert vw.isOpened()
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()


def _index_png(path, h, w, objects):
    m = np.zeros((h, w), np.uint8)
    for oid, box in objects.items():
        m[box_mask(h, w, *box)] = oid
    save_index_png(path, m)
    return m


def test_mp4_with_late_object(tmp_path):
    frames = synthetic_video(6, 64, 96)
    _write_mp4(tmp_path / "clip.mp4", frames)
    first = _index_png(tmp_path / "first.png", 64, 96, {3: (8, 28, 10, 34)})
    later = _index_png(tmp_path / "later.png", 64, 96, {12: (30, 54, 58, 82)})
    out = tmp_path / "out"
    rc = main([str(tmp_path / "clip.mp4"), "--mask", f"0:{tmp_path / 'first.png'}", "--mask", f"3:{tmp_path / 'later.png'}", "--output", str(out), *TINY_OPTS])  # fmt: skip
    assert rc == 0
    pngs = sorted(os.listdir(out / "masks"))
    assert pngs == [f"{i:05d}.png" for i in range(6)]
    with Image.open(out / "masks" / "00000.png") as im:
        assert im.mode == "P" and np.array_equal(np.array(im.getpalette()[:768]).reshape(256, 3), davis_palette())
    masks = [read_index_mask(str(out / "masks" / p)) for p in pngs]
    np.testing.assert_array_equal(masks[0], first)  # the given frame is reproduced, ids preserved
    np.testing.assert_array_equal(masks[3] == 12, later == 12)  # late object at its frame
    assert all(12 not in m for m in masks[:3])
    assert set(np.unique(np.stack(masks))) <= {0, 3, 12}
    cap = cv2.VideoCapture(str(out / "overlay.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 6


def test_frame_folder_names_and_no_overlay(tmp_path):
    frames = synthetic_video(3, 64, 96)
    (tmp_path / "frames").mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / "frames" / f"img_{10 + i}.jpg", quality=95)
    _index_png(tmp_path / "m.png", 64, 96, {1: (8, 28, 10, 34)})
    out = tmp_path / "out"
    rc = main([str(tmp_path / "frames"), "--mask", str(tmp_path / "m.png"), "--output", str(out), "--no-overlay", *TINY_OPTS])  # fmt: skip
    assert rc == 0
    assert sorted(os.listdir(out / "masks")) == ["img_10.png", "img_11.png", "img_12.png"]
    assert not (out / "overlay.mp4").exists()


def _fails(capsys, argv, *needles):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    for n in needles:
        assert n in err, err
    return err


def test_bad_input(tmp_path, capsys):
    frames = synthetic_video(4, 64, 96)
    vid = tmp_path / "clip.mp4"
    _write_mp4(vid, frames)
    good = tmp_path / "good.png"
    _index_png(good, 64, 96, {1: (8, 28, 10, 34)})
    small = tmp_path / "small.png"
    _index_png(small, 32, 48, {1: (4, 14, 5, 17)})
    out = str(tmp_path / "out")
    # mask size differs from the frames
    _fails(capsys, [str(vid), "--mask", f"0:{small}", "--output", out, *TINY_OPTS], str(small), "32x48", "64x96")
    # mask for a frame beyond the video
    _fails(
        capsys,
        [str(vid), "--mask", f"0:{good}", "--mask", f"9:{good}", "--output", out, *TINY_OPTS],
        str(good),
        "frame 9",
    )
    # unreadable video
    bad_vid = tmp_path / "broken.mp4"
    bad_vid.write_bytes(b"this is not a video" * 10)
    _fails(capsys, [str(bad_vid), "--mask", str(good), "--output", out, *TINY_OPTS], str(bad_vid), "cannot read")
    # colour (RGB) mask: no object ids
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((64, 96, 3), np.uint8)).save(rgb)
    _fails(capsys, [str(vid), "--mask", str(rgb), "--output", out, *TINY_OPTS], str(rgb), "mode")
    # mask with no object
    empty = tmp_path / "empty.png"
    save_index_png(empty, np.zeros((64, 96), np.uint8))
    _fails(capsys, [str(vid), "--mask", str(empty), "--output", out, *TINY_OPTS], str(empty), "no object")
    # missing input
    _fails(capsys, [str(tmp_path / "nope"), "--mask", str(good), "--output", out, *TINY_OPTS], "nope", "no such file")
