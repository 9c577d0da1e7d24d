"""Issue 13, input side: every bad input is one clear message (exit 2), never a traceback, a
crash or a silently wrong result; inference outputs say when they are incomplete.

The command-line cases call each tool's ``main(argv)`` in this process (a new interpreter costs
seconds per case; the process-level cases are in test_run_dirs.py) and check the exit status,
the message on stderr, and that no earlier file changed. Expected values come from the inputs
themselves (hand-built frames and masks) or from pycocotools, not from the code under test.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as mask_utils

from hodor.cli.infer_video import main as infer_main
from hodor.cli.train import train_main
from hodor.config import ConfigError, load_config
from hodor.data.coco import load_coco_json
from hodor.data.davis import load_davis_folder
from hodor.data.io import DataError, read_image, read_index_mask
from hodor.data.records import decode_segmentation
from hodor.data.youtube_vos import load_youtube_vos
from hodor.utils.palette import save_index_png
from hodor.utils.run_dir import remove_stale_temp_files, truncate_metrics
from tests.inference.conftest import TINY_OPTS, synthetic_video
from tests.reliability.helpers import REPO, snapshot, train_args


def _err(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return captured.err


# ----------------------------------------------------------------------------------------
# training command line: config, registry, weights, data met after the start
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "opts, message",
    [
        (["DATASETS.TRAIN", "['coco_2017_trian']"], "Did you mean 'coco_2017_train'?"),
        (["TRAINING.MODE", "static_imag"], "Did you mean 'static_image'?"),
        (["MODEL.BACKBONE.NAME", "resnet19"], "No backbone named 'resnet19'"),
        (["SOLVER.MAX_ITER", "0"], "SOLVER.MAX_ITER = 0 must be >= 1"),
        (["SOLVER.MAX_ITER", "-5"], "SOLVER.MAX_ITER = -5 must be >= 1"),
        (["SOLVER.BASE_LR", "1e400"], "SOLVER.BASE_LR = inf must be a finite number"),
    ],
)
def test_train_user_errors_are_one_message(synthetic_root, tmp_path, capsys, opts, message):
    out = tmp_path / "run"
    assert train_main(train_args(synthetic_root, out, *opts)) == 2
    err = _err(capsys)
    assert message in err and err.startswith("error: ")
    assert not out.exists()  # nothing written (not even the folder) before the checks passed


def test_debug_flag_shows_the_traceback(synthetic_root, tmp_path, capsys):
    assert train_main(["--debug", *train_args(synthetic_root, tmp_path / "r", "TRAINING.MODE", "static_imag")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "Did you mean 'static_image'?" in err


def test_text_file_as_model_weights(synthetic_root, tmp_path, capsys):
    weights = tmp_path / "weights.pth"
    weights.write_text("these are not weights\n")
    assert train_main(train_args(synthetic_root, tmp_path / "run", "MODEL.WEIGHTS", str(weights))) == 2
    assert f"{weights}: not a readable PyTorch checkpoint" in _err(capsys)


def _copy_coco(synthetic_root, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(synthetic_root / "coco", root / "coco")
    return root, root / "coco" / "annotations" / "instances_train2017.json"


@pytest.mark.slow
def test_data_error_after_training_started(synthetic_root, tmp_path, capsys):
    """Every image corrupt: the first step meets one; a message naming it, no traceback."""
    root, _ = _copy_coco(synthetic_root, tmp_path)
    for f in (root / "coco" / "train2017").iterdir():
        f.write_bytes(b"\xff\xd8\xff not a jpeg")
    out = tmp_path / "run"
    assert train_main(train_args(root, out, "SOLVER.MAX_ITER", "2")) == 2
    err = _err(capsys)
    assert "train2017/0000000000" in err and "cannot decode image" in err
    assert "last good checkpoint: none" in err
    assert (out / "config.yaml").is_file()  # the run had started


@pytest.mark.slow
def test_huge_polygon_is_refused_before_pycocotools(synthetic_root, tmp_path, capsys):
    """A coordinate of 1e9 segfaulted pycocotools (exit 139, no message)."""
    root, ann = _copy_coco(synthetic_root, tmp_path)
    data = json.loads(ann.read_text())
    for a in data["annotations"]:
        if isinstance(a["segmentation"], list):
            a["segmentation"][0][0] = 1e9
    ann.write_text(json.dumps(data))
    assert train_main(train_args(root, tmp_path / "run", "SOLVER.MAX_ITER", "2")) == 2
    err = _err(capsys)
    sizes = {f"{im['width']}x{im['height']}" for im in data["images"]}  # the synthetic preset's image sizes
    assert "instances_train2017.json" in err
    assert any(f"1000000000.0 is outside the {size} image" in err for size in sizes), err


@pytest.mark.parametrize(
    "seg, problem",
    [
        ([[1e9, 0, 10, 0, 10, 10]], "outside the 96x64 image"),
        ([[float("nan"), 0, 10, 0, 10, 10]], "outside the 96x64 image"),
        ([["12", 0, 10, 0, 10, 10]], "is '12', not a number"),
        ([[1, 0, 10, 0, 10]], "odd number of coordinates"),
        (["not a polygon"], "is a str"),
    ],
)
def test_bad_polygons(seg, problem):
    with pytest.raises(DataError, match=problem):
        decode_segmentation(seg, 64, 96, "ann.json")


def test_valid_polygons_decode_as_pycocotools_does():
    seg = [[-0.5, -0.5, 50.0, 2.0, 97.0, 60.0, 3.0, 64.5]]  # overshoots the border slightly
    expected = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(seg, 64, 96)))
    np.testing.assert_array_equal(decode_segmentation(seg, 64, 96, "ann.json"), expected)


# ----------------------------------------------------------------------------------------
# dataset paths stay inside their root; YouTube-VOS missing frames
# ----------------------------------------------------------------------------------------
def test_davis_split_entry_cannot_leave_the_root(synthetic_root, tmp_path):
    root = tmp_path / "DAVIS"
    shutil.copytree(synthetic_root / "DAVIS", root)
    (root / "ImageSets" / "2017" / "val.txt").write_text("../../../etc\n")
    with pytest.raises(DataError, match=r"video '\.\./\.\./\.\./etc' is not a plain"):
        load_davis_folder(str(root), "val")


def test_coco_file_name_cannot_leave_the_root(synthetic_root, tmp_path):
    root, ann = _copy_coco(synthetic_root, tmp_path)
    data = json.loads(ann.read_text())
    data["images"][1]["file_name"] = "../../../../etc/passwd"
    ann.write_text(json.dumps(data))
    with pytest.raises(DataError, match="points outside the dataset root"):
        load_coco_json(str(ann), str(root / "coco" / "train2017"))
    data["images"][1]["file_name"] = "/etc/passwd"
    ann.write_text(json.dumps(data))
    with pytest.raises(DataError, match="is absolute"):
        load_coco_json(str(ann), str(root / "coco" / "train2017"))


def test_youtube_vos_missing_frame_is_detected(synthetic_root, tmp_path):
    split = tmp_path / "train"
    shutil.copytree(synthetic_root / "YouTube-VOS" / "train", split)
    vid = sorted(os.listdir(split / "JPEGImages"))[0]
    frames = sorted(os.listdir(split / "JPEGImages" / vid))
    load_youtube_vos(str(split))  # intact: loads
    assert frames[3] == "00003.jpg" and not (split / "Annotations" / vid / "00003.png").exists()
    os.remove(split / "JPEGImages" / vid / frames[3])  # an unannotated frame inside the video
    with pytest.raises(DataError, match=r"frames are missing inside the video \(numbers 3\.\.3\)") as info:
        load_youtube_vos(str(split))
    assert str(info.value).startswith(str(split / "JPEGImages" / vid))


# ----------------------------------------------------------------------------------------
# frames and masks
# ----------------------------------------------------------------------------------------
def test_16_bit_frames_are_scaled_not_clipped(tmp_path):
    grey = np.array([[0, 257 * 100, 257 * 128, 65535]], dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "f.png")
    assert Image.open(tmp_path / "f.png").mode == "I;16"
    rgb = read_image(str(tmp_path / "f.png"))
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 4, 3)
    np.testing.assert_array_equal(rgb[0, :, 0], [0, 100, 128, 255])
    Image.fromarray(np.zeros((2, 2), np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(DataError, match="mode 'F'"):
        read_image(str(tmp_path / "f.tif"))


def test_jpeg_mask_is_refused(tmp_path):
    m = np.zeros((64, 96), np.uint8)
    m[10:30, 10:40] = 200  # one object (id 200)
    Image.fromarray(m).save(tmp_path / "m.jpg", quality=75)
    assert len(np.unique(np.asarray(Image.open(tmp_path / "m.jpg")))) > 2  # what JPEG does to one object
    with pytest.raises(DataError, match="lossy JPEG"):
        read_index_mask(str(tmp_path / "m.jpg"))


# ----------------------------------------------------------------------------------------
# infer_video: masks, numbered frames, outputs that say when they are incomplete
# ----------------------------------------------------------------------------------------
def _frames_dir(path, frames, numbers=None, sixteen_bit=False):
    path.mkdir()
    for i, f in zip(numbers or range(len(frames)), frames):
        if sixteen_bit:  # greyscale, 16-bit: v * 257 is the same intensity as v in 8 bits
            Image.fromarray(f[..., 0].astype(np.uint16) * 257).save(path / f"{i:05d}.png")
        else:
            Image.fromarray(f[..., 0]).save(path / f"{i:05d}.png")
    return path


def _mask_png(path, h=64, w=96):
    m = np.zeros((h, w), np.uint8)
    m[8:28, 10:34] = 1
    save_index_png(str(path), m)
    return m


def _masks(folder):
    return {p[:-4]: read_index_mask(str(folder / "masks" / p)) for p in sorted(os.listdir(folder / "masks"))}


@pytest.mark.slow
def test_infer_16_bit_frames_match_8_bit(tmp_path):
    frames = synthetic_video(3)
    _mask_png(tmp_path / "m.png")
    results = []
    for name, sixteen in (("eight", False), ("sixteen", True)):
        src = _frames_dir(tmp_path / f"{name}_frames", frames, sixteen_bit=sixteen)
        out = tmp_path / name
        torch.manual_seed(0)  # the same randomly initialised tiny model for both runs
        assert infer_main([str(src), "--mask", str(tmp_path / "m.png"), "--output", str(out), "--no-overlay", *TINY_OPTS]) == 0  # fmt: skip
        results.append(_masks(out))
    assert results[0].keys() == results[1].keys()
    for k in results[0]:
        np.testing.assert_array_equal(results[0][k], results[1][k])
    assert (results[1]["00000"] == 1).any()  # the object is there


def test_infer_jpeg_mask_is_one_message(tmp_path, capsys):
    src = _frames_dir(tmp_path / "frames", synthetic_video(2))
    Image.fromarray(_mask_png(tmp_path / "m.png")).save(tmp_path / "m.jpg")
    assert infer_main([str(src), "--mask", str(tmp_path / "m.jpg"), "--output", str(tmp_path / "o"), *TINY_OPTS]) == 2
    assert "m.jpg: mask is a lossy JPEG file" in _err(capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_mask_number_refers_to_the_frame_file(tmp_path, capsys):
    """Files 00000-00004 and 00007-00009 (00005-00006 missing): ``--mask 8`` is file 00008."""
    numbers = [0, 1, 2, 3, 4, 7, 8, 9]
    src = _frames_dir(tmp_path / "frames", synthetic_video(len(numbers)), numbers)
    given = _mask_png(tmp_path / "m.png")
    out = tmp_path / "o"
    assert infer_main([str(src), "--mask", f"8:{tmp_path / 'm.png'}", "--output", str(out), "--no-overlay", *TINY_OPTS]) == 0  # fmt: skip
    masks = _masks(out)
    np.testing.assert_array_equal(masks["00008"], given)  # the annotated frame reproduces its mask
    assert all(not masks[f"{n:05d}"].any() for n in (0, 1, 2, 3, 4, 7))  # the object starts at file 8
    capsys.readouterr()
    assert infer_main([str(src), "--mask", f"5:{tmp_path / 'm.png'}", "--output", str(tmp_path / "o2"), *TINY_OPTS]) == 2  # fmt: skip
    err = _err(capsys)
    assert "has no frame file numbered 5" in err and "nearest: 4 and 7" in err


@pytest.mark.slow
def test_infer_output_folder_older_result_and_corrupt_frame(tmp_path, capsys):
    src = _frames_dir(tmp_path / "frames", synthetic_video(3))
    _mask_png(tmp_path / "m.png")
    out = tmp_path / "o"
    (out / "masks").mkdir(parents=True)
    for i in range(10):  # an older, longer result
        (out / "masks" / f"{i:05d}.png").write_bytes(b"old")
    before = snapshot(out)
    args = [str(src), "--mask", str(tmp_path / "m.png"), "--output", str(out), "--no-overlay", *TINY_OPTS]
    assert infer_main(args) == 2
    assert "already holds results; pass --overwrite" in _err(capsys)
    assert snapshot(out) == before
    assert infer_main([*args, "--overwrite"]) == 0
    assert sorted(os.listdir(out / "masks")) == ["00000.png", "00001.png", "00002.png"]  # no stale masks

    # a corrupt frame: nothing appears at --output, the partial result is marked INCOMPLETE
    (src / "00002.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out2 = tmp_path / "o2"
    assert infer_main([str(src), "--mask", str(tmp_path / "m.png"), "--output", str(out2), "--no-overlay", *TINY_OPTS]) == 2  # fmt: skip
    assert "00002.png: cannot decode image" in _err(capsys)
    assert not out2.exists()
    partial = tmp_path / "o2.incomplete"
    assert "incomplete" in (partial / "INCOMPLETE").read_text()
    assert sorted(os.listdir(partial / "masks")) == ["00000.png", "00001.png"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".o2.tmp")]


@pytest.mark.slow
def test_infer_full_disk_is_one_message(tmp_path):
    src = _frames_dir(tmp_path / "frames", synthetic_video(2))
    _mask_png(tmp_path / "m.png")
    out = tmp_path / "o"

    def limit_writes():  # every write past 600 bytes fails (EFBIG), as on a full disk (ENOSPC)
        resource.setrlimit(resource.RLIMIT_FSIZE, (600, resource.RLIM_INFINITY))

    cmd = [sys.executable, os.path.join(REPO, "tools", "infer_video.py"), str(src), "--mask", str(tmp_path / "m.png")]
    cmd += ["--output", str(out), "--no-overlay", *TINY_OPTS]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": REPO, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, preexec_fn=limit_writes)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "00000.png: File too large (EFBIG)" in proc.stderr
    assert not out.exists()  # no 0-byte mask that looks like a result
    assert (tmp_path / "o.incomplete").is_dir()


# ----------------------------------------------------------------------------------------
# config ranges, the synthetic-data generator, run-folder helpers
# ----------------------------------------------------------------------------------------
def test_every_shipped_config_is_in_range():
    import glob

    for path in glob.glob(os.path.join(REPO, "configs", "**", "*.yaml"), recursive=True):
        load_config(path)
    with pytest.raises(ConfigError, match="INPUT.MIN_DIM = 900 must not exceed INPUT.MAX_DIM = 800"):
        load_config(None, ["INPUT.MIN_DIM", "900", "INPUT.MAX_DIM", "800"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-objects", "0"], "argument --max-objects: must be >= 1, got 0"),
        (["--davis-val", "-1"], "argument --davis-val: must be >= 0, got -1"),
        (["--image-size", "8", "64"], "argument --image-size: must be >= 32, got 8"),
    ],
)
def test_generator_arguments_are_validated(tmp_path, capsys, args, message):
    from hodor.data.synthetic import cli

    with pytest.raises(SystemExit) as info:
        cli(["--out", str(tmp_path / "s"), "--preset", "tiny", *args])
    assert info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_generator_refuses_an_existing_dataset(synthetic_root, capsys):
    from hodor.data.synthetic import cli

    before = snapshot(synthetic_root / "coco")
    assert cli(["--out", str(synthetic_root), "--preset", "tiny", "--layouts", "coco"]) == 2
    assert "already exists" in _err(capsys)
    assert snapshot(synthetic_root / "coco") == before


def test_truncate_metrics(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("".join(json.dumps({"iteration": i, "loss": 1.0 / i}) + "\n" for i in range(1, 6)) + '{"itera')
    assert truncate_metrics(str(path), 3) == 3  # rows 4, 5 and the torn line
    assert [json.loads(x)["iteration"] for x in path.read_text().splitlines()] == [1, 2, 3]


def test_stale_temp_files_of_dead_processes_only(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        for name in (f"model_0000004.pth.tmp.{live.pid}", f"model_0000004.pth.tmp.{dead.pid}", "config.yaml.tmp"):
            (tmp_path / name).write_bytes(b"x")
        (tmp_path / "model_final.pth").write_bytes(b"keep")
        removed = remove_stale_temp_files(str(tmp_path))
    finally:
        live.kill()
        live.wait()
    assert sorted(os.path.basename(p) for p in removed) == sorted(
        [f"model_0000004.pth.tmp.{dead.pid}", "config.yaml.tmp"]
    )
    assert sorted(os.listdir(tmp_path)) == sorted(["model_final.pth", f"model_0000004.pth.tmp.{live.pid}"])
