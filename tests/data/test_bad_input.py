"""Every bad-input case gives an error naming the file and the problem, or a counted skip."""

from __future__ import annotations

import json
import os
import shutil
from itertools import islice

import numpy as np
import pytest
from PIL import Image

from hodor.data import DataError, load_dataset, read_image, read_index_mask
from hodor.data.davis import load_davis_folder, read_split_file
from hodor.training.modes import build_train_data


def _copy_davis(syn_root: str, dst) -> str:
    shutil.copytree(os.path.join(syn_root, "DAVIS"), dst / "DAVIS")
    return str(dst)


def test_truncated_jpeg_and_corrupt_png(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    jpg, png = tmp_path / "a.jpg", tmp_path / "m.png"
    Image.fromarray(img).save(jpg, quality=95)
    jpg.write_bytes(jpg.read_bytes()[: len(jpg.read_bytes()) // 2])
    with pytest.raises(DataError, match=r"a\.jpg.*(cannot decode|truncated)"):
        read_image(str(jpg))
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DataError, match=r"m\.png.*cannot decode"):
        read_index_mask(str(png))
    with pytest.raises(DataError, match=r"missing\.jpg: file not found"):
        read_image(str(tmp_path / "missing.jpg"))


def test_grey_and_palette_masks_read_as_indices_rgb_is_error(tmp_path):
    ids = np.array([[0, 1, 2], [255, 2, 1]], np.uint8)
    Image.fromarray(ids, mode="L").save(tmp_path / "grey.png")
    pal = Image.fromarray(ids, mode="P")
    pal.putpalette([v for i in range(256) for v in ((i * 37) % 256, (i * 91) % 256, (i * 13) % 256)])
    pal.save(tmp_path / "pal.png")
    np.testing.assert_array_equal(read_index_mask(str(tmp_path / "grey.png")), ids)
    np.testing.assert_array_equal(read_index_mask(str(tmp_path / "pal.png")), ids)
    Image.fromarray(np.stack([ids] * 3, -1), mode="RGB").save(tmp_path / "rgb.png")
    with pytest.raises(DataError, match=r"rgb\.png.*mode 'RGB'"):
        read_index_mask(str(tmp_path / "rgb.png"))


def test_empty_split_file(syn_root, tmp_path):
    root = _copy_davis(syn_root, tmp_path)
    split = os.path.join(root, "DAVIS", "ImageSets", "2017", "val.txt")
    open(split, "w").close()
    with pytest.raises(DataError, match=r"val\.txt: split file is empty"):
        read_split_file(split)
    with pytest.raises(DataError, match="split file is empty"):
        load_dataset("davis_2017_val", root)


def test_annotation_without_frame_and_listed_missing_video(syn_root, tmp_path):
    root = _copy_davis(syn_root, tmp_path)
    davis = os.path.join(root, "DAVIS")
    vid = open(os.path.join(davis, "ImageSets", "2017", "train.txt")).read().split()[0]
    os.remove(os.path.join(davis, "JPEGImages", "480p", vid, "00003.jpg"))
    with pytest.raises(DataError, match=r"00003\.png: annotation has no matching frame"):
        load_davis_folder(davis, "train")
    with open(os.path.join(davis, "ImageSets", "2017", "val.txt"), "a") as fh:
        fh.write("no_such_video\n")
    with pytest.raises(DataError, match="'no_such_video' is listed but .* does not exist"):
        load_davis_folder(davis, "val")


def test_mask_size_differs_from_frame(syn_root, tmp_path):
    root = _copy_davis(syn_root, tmp_path)
    v = load_dataset("davis_2017_val", root)[0]
    path = v.annotations[2]
    small = Image.open(path).resize((20, 10), Image.NEAREST)
    small.save(path)
    with pytest.raises(DataError, match=r"00002\.png: mask is 10x20 but frame .* is 64x96"):
        v.load_mask(2)


def test_undeclared_ids_in_youtube_vos(syn_root, tmp_path):
    shutil.copytree(os.path.join(syn_root, "YouTube-VOS"), tmp_path / "YouTube-VOS")
    meta_path = tmp_path / "YouTube-VOS" / "train" / "meta.json"
    meta = json.loads(meta_path.read_text())
    vid = sorted(meta["videos"])[0]
    objs = meta["videos"][vid]["objects"]
    dropped = sorted(objs, key=int)[-1]
    del objs[dropped]
    meta_path.write_text(json.dumps(meta))
    v = next(r for r in load_dataset("youtube_vos_2019_train", str(tmp_path)) if r.video_id == vid)
    with pytest.raises(DataError, match=rf"contains object ids \[{dropped}\] not declared"):
        for i in v.annotated_frames:
            v.load_mask(i)


def test_missing_image_in_coco_error_and_skip(syn_root, tmp_path, small_cfg):
    shutil.copytree(os.path.join(syn_root, "coco"), tmp_path / "coco")
    recs = load_dataset("coco_2017_train", str(tmp_path))
    os.remove(recs[0].file_name)
    # corrupt a second one
    with open(recs[1].file_name, "r+b") as fh:
        fh.truncate(200)
    cfg = small_cfg(str(tmp_path), "static_image", ["coco_2017_train"], "SOLVER.MAX_SAMPLES_PER_GPU", "4")
    with pytest.raises(DataError, match=r"(file not found|cannot decode)"):
        list(islice(build_train_data(cfg), 20))  # grouped batches: the bad images come up within 20
    cfg = small_cfg(
        str(tmp_path), "static_image", ["coco_2017_train"], "SOLVER.MAX_SAMPLES_PER_GPU", "4",
        "DATALOADER.ON_BAD_SAMPLE", "skip", "DATALOADER.MAX_BAD_SAMPLES", "1000",
    )  # fmt: skip
    loader = build_train_data(cfg)
    seen = set()
    for batch in islice(loader, 20):
        seen |= {m["image_id"] for m in batch.meta}
    assert recs[0].image_id not in seen and recs[1].image_id not in seen
    assert len(loader.bad_samples) > 0 and str(recs[0].image_id).zfill(12) in "".join(loader.bad_samples)
    assert "bad samples skipped" in loader.report()
    cfg = small_cfg(
        str(tmp_path), "static_image", ["coco_2017_train"], "SOLVER.MAX_SAMPLES_PER_GPU", "4",
        "DATALOADER.ON_BAD_SAMPLE", "skip", "DATALOADER.MAX_BAD_SAMPLES", "0",
    )  # fmt: skip
    with pytest.raises(DataError, match="exceed the limit of 0"):
        list(islice(build_train_data(cfg), 20))
