"""ONNX export of the tiny model and the onnxruntime backend of the streaming predictor.

The reference is the same model run by PyTorch (the backend computing today's behaviour, itself
pinned to the original by the parity fixture); onnxruntime is an independent implementation of
every op. Needs the export extra (onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="needs the export extra: pip install -e '.[export]'")
pytest.importorskip("onnxscript", reason="needs the export extra: pip install -e '.[export]'")

from hodor.config import load_config  # noqa: E402
from hodor.config.config import cfg_to_dict  # noqa: E402
from hodor.export import ExportError, Manifest, OnnxBackend, onnx_video_predictor  # noqa: E402
from hodor.export.cli import main as export_main  # noqa: E402
from hodor.export.exporter import export_from_config  # noqa: E402
from hodor.export.manifest import MANIFEST_NAME  # noqa: E402
from hodor.inference import VideoPredictor  # noqa: E402
from hodor.modeling import build_model  # noqa: E402
from tests.inference.conftest import TINY_OPTS, box_mask, synthetic_video  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A Checkpointer-style checkpoint of the tiny model (config under "config") exported by the CLI."""
    root = tmp_path_factory.mktemp("onnx")
    cfg = load_config(None, list(TINY_OPTS))
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    ckpt = str(root / "model_final.pth")
    torch.save({"model": model.state_dict(), "iteration": 10, "config": cfg_to_dict(cfg)}, ckpt)
    out = str(root / "export")
    assert export_main(["--weights", ckpt, "--out", out]) == 0
    return {"cfg": cfg, "model": model, "ckpt": ckpt, "dir": out, "root": root}


def _run(predictor, frames, given):
    logits: dict[int, torch.Tensor] = {}
    predictor.observer = lambda ev, t, ts: (
        logits.__setitem__(t, ts["logits"].float().clone()) if ev == "decode" else None
    )
    outs = [predictor.step(f, given.get(t)) for t, f in enumerate(frames)]
    return np.stack(outs), logits


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    fin = torch.isfinite(b)
    assert torch.equal(fin, torch.isfinite(a)), "-inf channels (invalid descriptors) differ"
    return float((a[fin] - b[fin]).abs().max() / b[fin].abs().max())


@pytest.mark.slow
@pytest.mark.parametrize(
    "hw,given_spec",
    [
        # 64x96 video, one object from frame 0 and a late one from frame 3 (window 2 -> T grows 1..3)
        ((64, 96), {0: {1: (8, 28, 10, 34)}, 3: {7: (30, 54, 56, 80)}}),
        # another frame size (padded 96x160 after resizing) with three objects, one starting late
        ((72, 120), {1: {2: (8, 30, 10, 40), 3: (36, 60, 70, 110)}, 4: {4: (40, 70, 10, 50)}}),
    ],
)
def test_onnxruntime_equals_pytorch_on_video(tiny, hw, given_spec):
    h, w = hw
    frames = synthetic_video(7, h, w, seed=h)
    given = {t: {oid: box_mask(h, w, *box) for oid, box in objs.items()} for t, objs in given_spec.items()}
    ref_masks, ref_logits = _run(VideoPredictor.from_config(tiny["model"], tiny["cfg"]), frames, given)
    ort_masks, ort_logits = _run(onnx_video_predictor(tiny["dir"]), frames, given)

    assert sorted(ort_logits) == sorted(ref_logits) and len(ref_logits) >= 4
    num_channels = {a.shape[1] for a in ref_logits.values()}
    assert len(num_channels) == 2, "the video must change the object count (dynamic I)"
    for t in ref_logits:
        assert ort_logits[t].shape == ref_logits[t].shape
        assert _rel_err(ort_logits[t], ref_logits[t]) < 1e-4, f"frame {t}"
    equal = (ort_masks == ref_masks).mean(axis=(1, 2))
    assert equal.min() >= 0.999, equal
    assert len(np.unique(ref_masks[-1])) > 1  # the model segments something (not an empty test)


def test_manifest_round_trip(tiny):
    path = os.path.join(tiny["dir"], MANIFEST_NAME)
    m = Manifest.read(tiny["dir"])
    assert json.loads(m.to_json()) == json.load(open(path))
    cfg = tiny["cfg"]
    assert m.pixel_mean == list(cfg.INPUT.PIXEL_MEAN) and m.pixel_std == list(cfg.INPUT.PIXEL_STD)
    assert (m.size_divisibility, m.temporal_window, m.min_dim, m.max_dim) == (32, 2, 64, 96)
    assert m.num_bg_descriptors == 9 and m.hidden_dim == 64 and m.opset == 18 and m.precision == "fp32"
    import hashlib

    assert m.checkpoint["sha256"] == hashlib.sha256(open(tiny["ckpt"], "rb").read()).hexdigest()
    assert m.graphs["decoder"].inputs["fg_desc"].shape == [1, "I", "T", 64]
    assert m.graphs["backbone"].inputs["image"].shape == [1, 3, "H", "W"]
    # the names recorded are the graphs' real input/output names
    import onnx

    for name, g in m.graphs.items():
        proto = onnx.load(os.path.join(tiny["dir"], g.file), load_external_data=False)
        assert [i.name for i in proto.graph.input] == list(g.inputs), name
        assert [o.name for o in proto.graph.output] == list(g.outputs), name
        ops = {n.op_type for n in proto.graph.node}
        assert not any(op.startswith(("ATen", "PythonOp")) for op in ops), ops
        assert proto.opset_import[0].version == 18
    decoder_ops = {n.op_type for n in onnx.load(os.path.join(tiny["dir"], "decoder.onnx")).graph.node}
    assert "GridSample" in decoder_ops  # the deformable conv exported as GridSample, no custom op
    # writing the parsed manifest gives the same file
    copy = tiny["root"] / "copy"
    copy.mkdir(exist_ok=True)
    assert Manifest.from_dict(json.load(open(path)), path).write(str(copy))
    assert open(copy / MANIFEST_NAME).read() == open(path).read()


def _copy_export(tiny, name):
    dst = str(tiny["root"] / name)
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(tiny["dir"], dst)
    return dst


def test_bad_export_directories(tiny):
    with pytest.raises(ExportError, match="no such ONNX export directory"):
        OnnxBackend(str(tiny["root"] / "nope"))
    d = _copy_export(tiny, "missing_graph")
    os.remove(os.path.join(d, "encoder.onnx"))
    with pytest.raises(ExportError, match=r"encoder\.onnx: encoder graph .* is missing"):
        OnnxBackend(d)
    d = _copy_export(tiny, "no_manifest")
    os.remove(os.path.join(d, MANIFEST_NAME))
    with pytest.raises(ExportError, match=r"manifest\.json: missing"):
        OnnxBackend(d)
    d = _copy_export(tiny, "old_manifest")
    path = os.path.join(d, MANIFEST_NAME)
    data = json.load(open(path))
    data["format_version"] = 0
    json.dump(data, open(path, "w"))
    with pytest.raises(ExportError, match=r"manifest\.json: manifest format version 0"):
        OnnxBackend(d)
    data["format_version"] = 1
    data["hodor_version"] = "0.0.1"
    json.dump(data, open(path, "w"))
    with pytest.raises(ExportError, match=r"manifest\.json: written by hodor 0\.0\.1"):
        OnnxBackend(d)
    d = _copy_export(tiny, "mixed")
    with open(os.path.join(d, "decoder.onnx"), "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ExportError, match=r"decoder\.onnx: sha256 differs"):
        OnnxBackend(d)
    d = _copy_export(tiny, "bad_json")
    open(os.path.join(d, MANIFEST_NAME), "w").write("{")
    with pytest.raises(ExportError, match="not valid JSON"):
        OnnxBackend(d)


def test_mismatched_sizes_at_run_time(tiny):
    b = OnnxBackend(tiny["dir"])
    with pytest.raises(ExportError, match=r"backbone\.onnx: image is 64x90.*multiples of 32"):
        b.extract_features(torch.zeros(1, 3, 64, 90))
    f = b.extract_features(torch.zeros(1, 3, 64, 96))
    assert f[4].shape == (1, 64, 16, 24) and f[8].shape == (1, 64, 8, 12)
    with pytest.raises(ExportError, match=r"encoder\.onnx: input 'fg_masks' has shape \[1, 2, 8, 10\]"):
        b.encode(f[8], torch.zeros(1, 2, 8, 10), torch.zeros(1, 9, 8, 12))
    with pytest.raises(ExportError, match=r"encoder\.onnx: input 'bg_masks' has shape \[1, 4, 8, 12\].*must be 9"):
        b.encode(f[8], torch.zeros(1, 2, 8, 12), torch.zeros(1, 4, 8, 12))
    fg = torch.zeros(1, 2, 3, 64)
    with pytest.raises(ExportError, match=r"decoder\.onnx: input 'bg_desc'"):
        b.decode(fg, torch.zeros(1, 9, 2, 64), f[4], f[8], torch.zeros(1, 2, 3, dtype=torch.bool),
                 torch.zeros(1, 9, 2, dtype=torch.bool))  # fmt: skip
    with pytest.raises(ExportError, match=r"decoder\.onnx: input 'f8'"):
        b.decode(fg, torch.zeros(1, 9, 3, 64), f[4], torch.zeros(1, 64, 4, 6), torch.zeros(1, 2, 3, dtype=torch.bool),
                 torch.zeros(1, 9, 3, dtype=torch.bool))  # fmt: skip


def test_export_errors(tiny, tmp_path, capsys):
    cfg, model = tiny["cfg"], tiny["model"]
    with pytest.raises(ExportError, match=r"--opset 15 is too old.*GridSample.*opset 16"):
        export_from_config(cfg, model, str(tmp_path / "o"), opset=15)
    assert export_main(["--weights", tiny["ckpt"], "--out", str(tmp_path / "o"), "--opset", "13"]) == 2
    assert "GridSample" in capsys.readouterr().err
    with pytest.raises(ExportError, match=r"--opset 17: .*implements opset 18 and later"):
        export_from_config(cfg, model, str(tmp_path / "o"), opset=17)
    # a checkpoint whose stored config cannot be rebuilt
    bad = str(tmp_path / "bad_cfg.pth")
    broken = cfg_to_dict(cfg)
    broken["MODEL"]["NO_SUCH_KEY"] = 1
    torch.save({"model": model.state_dict(), "config": broken}, bad)
    assert export_main(["--weights", bad, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert bad in err and "cannot be rebuilt" in err and "NO_SUCH_KEY" in err
    # no config stored and none given
    bare = str(tmp_path / "bare.pth")
    torch.save({"model": model.state_dict()}, bare)
    assert export_main(["--weights", bare, "--out", str(tmp_path / "o")]) == 2
    assert "stores no config; pass the training config with --config-file" in capsys.readouterr().err
    # weights that do not fit the stored architecture
    wrong = cfg_to_dict(cfg)
    wrong["MODEL"]["HIDDEN_DIM"] = 32
    mism = str(tmp_path / "mismatch.pth")
    torch.save({"model": model.state_dict(), "config": wrong}, mism)
    assert export_main(["--weights", mism, "--out", str(tmp_path / "o")]) == 2
    assert mism in capsys.readouterr().err


def test_infer_video_cli_onnx_backend(tiny, tmp_path, capsys):
    """``infer_video --backend onnx --onnx-dir`` writes the same masks as the torch backend."""
    from hodor.cli.infer_video import main as infer_main
    from hodor.data.io import read_index_mask
    from hodor.utils.palette import save_index_png

    frames = synthetic_video(5, 64, 96, seed=3)
    (tmp_path / "frames").mkdir()
    from PIL import Image

    for i, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / "frames" / f"{i:03d}.png")
    m = np.zeros((64, 96), np.uint8)
    m[box_mask(64, 96, 8, 28, 10, 34)] = 4
    save_index_png(str(tmp_path / "first.png"), m)
    common = [str(tmp_path / "frames"), "--mask", str(tmp_path / "first.png"), "--no-overlay"]
    assert infer_main([*common, "--output", str(tmp_path / "t"), "MODEL.WEIGHTS", tiny["ckpt"], *TINY_OPTS]) == 0
    assert infer_main([*common, "--output", str(tmp_path / "o"), "--backend", "onnx", "--onnx-dir", tiny["dir"]]) == 0
    names = sorted(os.listdir(tmp_path / "t" / "masks"))
    assert names == sorted(os.listdir(tmp_path / "o" / "masks")) and len(names) == 5
    t = np.stack([read_index_mask(str(tmp_path / "t" / "masks" / n)) for n in names])
    o = np.stack([read_index_mask(str(tmp_path / "o" / "masks" / n)) for n in names])
    assert (t == o).mean() >= 0.999 and (o == 4).any()
    # a missing directory is a clear error (exit 2) naming it
    assert infer_main([*common, "--output", str(tmp_path / "x"), "--backend", "onnx", "--onnx-dir", "nope"]) == 2
    assert "nope: no such ONNX export directory" in capsys.readouterr().err
    assert infer_main([*common, "--output", str(tmp_path / "x"), "--backend", "onnx"]) == 2
    assert "--backend onnx needs --onnx-dir" in capsys.readouterr().err


def test_missing_extra_says_how_to_install(tiny, tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ExportError, match=r"needs onnxruntime.*pip install .*\.\[export\]"):
        OnnxBackend(tiny["dir"])
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    assert export_main(["--weights", tiny["ckpt"], "--out", str(tmp_path / "o")]) == 2
    assert "needs onnxscript" in capsys.readouterr().err


def test_bench_onnx_script_runs_both_backends(tiny):
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "bench_onnx.py")
    spec = importlib.util.spec_from_file_location("bench_onnx", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    args = mod.build_parser().parse_args(
        ["--onnx-dir", tiny["dir"], "--weights", tiny["ckpt"], "--height", "64", "--width", "96"]
        + ["--min-dim", "64", "--frames", "2", "--rounds", "2"]
    )
    res = mod.run(args)
    assert len(res["onnx_s_per_frame_all"]) == len(res["torch_s_per_frame_all"]) == 2
    assert res["onnx_over_torch"] > 0 and res["masks_equal_fraction"] >= 0.999
