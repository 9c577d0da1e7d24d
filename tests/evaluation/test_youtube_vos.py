"""Palette, index PNG round trip and the YouTube-VOS submission zip."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from hodor.evaluation import (
    SubmissionError,
    davis_palette,
    expected_frames_from_jpegs,
    read_index_png,
    save_index_png,
    write_submission,
)


def test_palette_is_the_voc_bit_pattern():
    p = davis_palette()
    assert p.shape == (256, 3) and p.dtype == np.uint8
    assert p[:8].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128]] + [
        [0, 128, 128],
        [128, 128, 128],
    ]
    assert p[8].tolist() == [64, 0, 0] and p[255].tolist() == [224, 224, 192]
    assert len({tuple(c) for c in p.tolist()}) == 256


def test_save_index_png_roundtrip_and_range(tmp_path):
    m = np.arange(12 * 7).reshape(12, 7) % 256
    save_index_png(tmp_path / "x" / "m.png", m)
    with Image.open(tmp_path / "x" / "m.png") as img:
        assert img.mode == "P" and img.getpalette()[3:6] == [128, 0, 0]
    np.testing.assert_array_equal(read_index_png(tmp_path / "x" / "m.png"), m)
    with pytest.raises(ValueError, match="0..255"):
        save_index_png(tmp_path / "bad.png", np.full((2, 2), 256))


def _preds():
    return {
        "v1": {"00000": np.ones((4, 6), np.uint8), "00005": np.full((4, 6), 2), "00003": np.zeros((4, 6), int)},
        "v2": {"00010": np.eye(4, dtype=np.int64)},
    }


def test_submission_zip_holds_exactly_the_expected_frames(tmp_path):
    expected = {"v1": ["00000", "00005"], "v2": ["00010"]}
    zp = write_submission(_preds(), expected, tmp_path)
    with zipfile.ZipFile(zp) as zf:
        names = zf.namelist()
        assert names == ["Annotations/v1/00000.png", "Annotations/v1/00005.png", "Annotations/v2/00010.png"]
        arr = np.asarray(Image.open(io.BytesIO(zf.read("Annotations/v1/00005.png"))))
    np.testing.assert_array_equal(arr, np.full((4, 6), 2))
    assert (tmp_path / "Annotations" / "v1" / "00003.png").exists()  # written, but not zipped


def test_missing_expected_frames_are_an_error(tmp_path):
    expected = {"v1": ["00000", "00007"], "v3": ["00000"]}
    with pytest.raises(SubmissionError, match=r"2 expected frame.*v1/00007.*v3/00000"):
        write_submission(_preds(), expected, tmp_path)
    assert not (tmp_path / "Annotations.zip").exists()


def test_expected_frames_from_jpegs(tmp_path):
    for vid, frames in {"b": ["00005", "00000"], "a": ["00000"]}.items():
        (tmp_path / vid).mkdir()
        for f in frames:
            Image.new("RGB", (2, 2)).save(tmp_path / vid / f"{f}.jpg")
    assert expected_frames_from_jpegs(tmp_path) == {"a": ["00000"], "b": ["00000", "00005"]}
