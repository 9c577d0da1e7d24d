"""hodor.load_predictor / Predictor.propagate: every accepted source and input form, and the errors."""

import doctest
import os

import numpy as np
import pytest
import torch
from hodor.evaluation.palette import save_index_png

import hodor
from hodor.config import dump_config, load_config
from hodor.data.io import DataError, read_image, read_index_mask
from hodor.inference.predictor import VideoPredictor

from .conftest import BIKE, RUN_OPTS, write_run_dir

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _export_main():
    import importlib.util

    spec = importlib.util.spec_from_file_location("export_weights", os.path.join(REPO, "tools", "export_weights.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def _bike():
    names = sorted(os.listdir(os.path.join(BIKE, "JPEGImages")))
    frames = np.stack([read_image(os.path.join(BIKE, "JPEGImages", n)) for n in names])
    return frames, read_index_mask(os.path.join(BIKE, "Annotations", "00000.png"))


def test_exported_names():
    assert {"load_predictor", "Predictor", "VideoPredictor", "build_inference_model"} <= set(hodor.__all__)
    for name in hodor.__all__:
        assert getattr(hodor, name) is not None
    from hodor.inference import build_inference_model

    assert hodor.build_inference_model is build_inference_model and hodor.VideoPredictor is VideoPredictor


def test_readme_python_api_example(tmp_path, monkeypatch, bike_copy):
    """The README's "Python API" example, run as a doctest against a (tiny) quick-start run folder."""
    write_run_dir(str(tmp_path / "output" / "quickstart" / "static_image"))
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(
        os.path.join(REPO, "README.md"), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.attempted >= 4 and result.failed == 0, result


def test_all_checkpoint_sources_give_the_same_model(run_dir, tmp_path):
    frames, mask = _bike()
    frames = frames[:2]
    ref = hodor.load_predictor(run_dir, device="cpu").propagate(frames, mask)
    ckpt = os.path.join(run_dir, "model_final.pth")
    # a checkpoint alone (its "config" entry), a checkpoint + explicit config, an exported safetensors dir
    alone = hodor.load_predictor(ckpt, device="cpu").propagate(frames, mask)
    other_cfg = str(tmp_path / "cfg.yaml")
    dump_config(load_config(None, RUN_OPTS), other_cfg)
    bare = str(tmp_path / "bare.pth")
    torch.save(torch.load(ckpt, weights_only=True)["model"], bare)
    explicit = hodor.load_predictor(bare, config_file=other_cfg, device="cpu").propagate(frames, mask)
    assert _export_main()([run_dir, str(tmp_path / "export")]) == 0
    exported = hodor.load_predictor(str(tmp_path / "export"), device="cpu").propagate(frames, mask)
    for outs in (alone, explicit, exported):
        for a, b in zip(ref, outs):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="carries no config; pass"):
        hodor.load_predictor(bare, device="cpu")
    with pytest.raises(FileNotFoundError, match="no such run directory"):
        hodor.load_predictor(str(tmp_path / "nothing"))
    os.makedirs(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no checkpoint found"):
        hodor.load_predictor(str(tmp_path / "empty"))


def test_overrides_and_strict_loading(run_dir, tmp_path):
    p = hodor.load_predictor(
        run_dir, device="cpu", precision="bf16", INFERENCE__MIN_DIM=96, **{"INFERENCE.MAX_DIM": 160}
    )
    assert (p.cfg.INFERENCE.MIN_DIM, p.cfg.INFERENCE.MAX_DIM, p.cfg.INFERENCE.PRECISION) == (96, 160, "bf16")
    with pytest.raises(TypeError, match="INFERENCE__MIN_DIM"):
        hodor.load_predictor(run_dir, device="cpu", min_dim=96)
    # a config of another architecture: refused, naming the file (never a silently random model)
    with pytest.raises(ValueError, match="does not match the model"):
        hodor.load_predictor(run_dir, device="cpu", MODEL__DECODER__NUM_LAYERS=2)


def test_input_forms_agree(predictor, bike_copy):
    frames, mask = _bike()
    ref = predictor.propagate(frames, mask)  # uint8 array [T,H,W,3] + index map for frame 0
    assert len(ref) == 4 and all(m.shape == (480, 854) and m.dtype == np.uint8 for m in ref)
    as_dict = {oid: mask == oid for oid in (1, 2)}
    jpgs = sorted(str(p) for p in (bike_copy / "JPEGImages").iterdir())
    variants = [
        (list(frames), {0: mask}),  # list of arrays, {frame: index map}
        (str(bike_copy / "JPEGImages"), {0: str(bike_copy / "Annotations" / "00000.png")}),  # folder + PNG path
        (jpgs, {0: as_dict}),  # list of paths, {frame: {id: mask}}
        (torch.from_numpy(frames), torch.from_numpy(mask.astype(np.int64))),  # tensors
    ]
    for f, m in variants:
        for a, b in zip(ref, predictor.propagate(f, m)):
            np.testing.assert_array_equal(a, b)


def test_type_errors_are_clear(predictor):
    frames, mask = _bike()
    frames = frames[:2]
    with pytest.raises(TypeError, match=r"looks like \{object id: bool mask\}"):
        predictor.propagate(frames, {1: mask == 1, 2: mask == 2})
    with pytest.raises(TypeError, match="must be uint8 RGB"):
        predictor.propagate(frames.astype(np.float32) / 255, mask)
    with pytest.raises(TypeError, match="integer object ids"):
        predictor.propagate(frames, mask.astype(np.float32))
    with pytest.raises(TypeError, match="positive integers"):
        predictor.propagate(frames, {0: {"bike": mask == 1}})
    with pytest.raises(TypeError, match="frames: expected"):
        predictor.propagate(12, mask)
    with pytest.raises(ValueError, match="frame 5, but the video has only 2 frames"):
        predictor.propagate(frames, {0: mask, 5: mask})
    with pytest.raises(DataError, match="mask is 480x853.*--mask-resize nearest"):
        predictor.propagate(frames, mask[:, :853])
    # the streaming predictor itself refuses float frames too (its docstring says uint8)
    with pytest.raises(TypeError, match="expected uint8"):
        predictor.video_predictor().step(frames[0].astype(np.float64))


def test_late_object_and_binary_mask(predictor, tmp_path):
    frames, mask = _bike()
    later = np.zeros(mask.shape, np.uint8)
    later[300:360, 100:160] = 7
    out = predictor.propagate(frames, {0: mask == 1, 2: later})  # bool map at frame 0 = object 1
    assert 7 not in out[0] and 7 not in out[1]
    np.testing.assert_array_equal(out[2] == 7, later == 7)  # the given mask, exactly
    assert set(np.unique(out[0])) == {0, 1}
    binary = np.where(mask == 1, 255, 0).astype(np.uint8)
    save_index_png(str(tmp_path / "bin.png"), binary)
    out_bin = predictor.propagate(frames[:2], str(tmp_path / "bin.png"))
    np.testing.assert_array_equal(out_bin[0], (mask == 1).astype(np.uint8))
