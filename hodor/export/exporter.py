"""Export a HODOR checkpoint to three ONNX graphs + ``manifest.json``.

Exporter choice: ``torch.onnx.export(..., dynamo=True)`` (the ``torch.export`` path). With torch
2.14 it exports all three graphs with really dynamic height, width, object count and window
length: shapes are symbols, and code that would silently bake a traced size into the graph (the
Swin shifted-window masks, the sine position embedding, the background grid) either stays
symbolic or fails the export loudly. The TorchScript tracer records such sizes as constants
without an error, and it is deprecated in torch 2.x, so it is not used.

The graphs are those the streaming step calls (see :mod:`hodor.export.graphs`); everything between
them (windowing, thresholding, re-encoding) stays in :class:`hodor.inference.VideoPredictor`.
"""

from __future__ import annotations

import copy
import logging
import os
import time
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from .. import __version__
from ..modeling.decoder import DeformConvBlock
from ..utils.logger import get_logger
from .graphs import BackboneGraph, DecoderGraph, EncoderGraph, example_inputs, graph_specs
from .manifest import (
    GRAPH_NAMES,
    MIN_OPSET,
    ExportError,
    GraphEntry,
    Manifest,
    TensorSpec,
    sha256_file,
)

logger = get_logger(__name__)

DEFAULT_OPSET = 18
# Lower opsets only through onnx's version converter, which has no LayerNormalization before 17.
EXPORTER_MIN_OPSET = 18
PRECISIONS = ("fp32", "fp16")
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


def require_export_deps() -> None:
    """Fail with the install command when the optional ``export`` extra is missing."""
    missing = []
    for mod in ("onnx", "onnxscript"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        raise ExportError(
            f"ONNX export needs {', '.join(missing)}, which hodor does not install by default; "
            "install the export extra: pip install -c constraints.txt -e '.[export]' (or pip install 'hodor[export]')"
        )


def _dynamic_shapes():
    from torch.export import Dim

    # Padded frame size = 32 * (h32, w32) -- the predictor pads to INPUT.SIZE_DIVISIBILITY (a
    # multiple of 32 for every backbone), so stride-4/8 sizes are exact and need no guards.
    h32, w32 = Dim("h32", min=1, max=512), Dim("w32", min=1, max=512)
    objects, slots = Dim("I", min=1, max=4096), Dim("T", min=1, max=1024)
    h4, w4, h8, w8 = 8 * h32, 8 * w32, 4 * h32, 4 * w32
    return {
        "backbone": {"image": {2: 32 * h32, 3: 32 * w32}},
        "encoder": {"f8": {2: h8, 3: w8}, "fg_masks": {1: objects, 2: h8, 3: w8}, "bg_masks": {2: h8, 3: w8}},
        "decoder": {
            "fg_desc": {1: objects, 2: slots},
            "bg_desc": {2: slots},
            "f4": {2: h4, 3: w4},
            "f8": {2: h8, 3: w8},
            "fg_invalid": {1: objects, 2: slots},
            "bg_invalid": {2: slots},
        },
    }


def _check_opset(path: str, opset: int) -> None:
    """The written graph must use the requested opset (the exporter silently keeps its own otherwise)."""
    import onnx

    proto = onnx.load(path, load_external_data=False)
    got = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if got != [opset]:
        raise ExportError(f"{path}: graph uses opset {got}, not the requested {opset}")


@dataclass
class ExportResult:
    manifest: Manifest
    manifest_path: str
    seconds: dict[str, float]


def export_model(
    model: nn.Module,
    out_dir: str,
    *,
    pixel_mean: list[float],
    pixel_std: list[float],
    size_divisibility: int,
    min_dim: int,
    max_dim: int,
    temporal_window: int,
    backbone_name: str = "",
    checkpoint_path: str = "",
    opset: int = DEFAULT_OPSET,
    precision: str = "fp32",
) -> ExportResult:
    """Export ``model`` (a HODOR module) to ``out_dir/{backbone,encoder,decoder}.onnx`` + manifest.json."""
    require_export_deps()
    if opset < MIN_OPSET:
        raise ExportError(
            f"--opset {opset} is too old: the deformable convolution needs ONNX GridSample, available from "
            f"opset {MIN_OPSET}; use --opset {DEFAULT_OPSET} (default)"
        )
    if opset < EXPORTER_MIN_OPSET:
        raise ExportError(
            f"--opset {opset}: torch's ONNX exporter implements opset {EXPORTER_MIN_OPSET} and later only; its "
            "down-conversion fails on the encoder's and decoder's LayerNormalization (opset 17+), so "
            f"use --opset {EXPORTER_MIN_OPSET} or later"
        )
    if precision not in PRECISIONS:
        raise ExportError(f"--precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if size_divisibility % 32:
        raise ExportError(f"INPUT.SIZE_DIVISIBILITY must be a multiple of 32 for export, got {size_divisibility}")
    os.makedirs(out_dir, exist_ok=True)
    dtype = _DTYPES[precision]
    # A copy: the caller's model keeps its device, dtype and train/eval mode.
    model = copy.deepcopy(model).eval().to(device="cpu", dtype=dtype)
    # The deformable convolutions export as ONNX GridSample: the CPU default kernel (an
    # embedding-bag gather) has no ONNX counterpart, the grid_sample one computes the same maths
    # with the same parameters (tests/modeling/test_deform_conv.py).
    for module in model.modules():
        if isinstance(module, DeformConvBlock):
            module.impl = "grid_sample"
    dim, num_bg = int(model.decoder.dim), int(model.num_bg_descriptors)
    modules = {"backbone": BackboneGraph(model), "encoder": EncoderGraph(model), "decoder": DecoderGraph(model)}
    specs = graph_specs(dim, num_bg)
    examples = example_inputs(dim, num_bg)
    dynamic = _dynamic_shapes()
    entries: dict[str, GraphEntry] = {}
    seconds: dict[str, float] = {}
    for name in GRAPH_NAMES:
        spec = specs[name]
        args = tuple(a.to(dtype) if a.is_floating_point() else a for a in examples[name])
        path = os.path.join(out_dir, spec.filename)
        t0 = time.perf_counter()
        logger.info("exporting %s graph to %s (opset %d, %s)", name, path, opset, precision)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's axis-renaming chatter
            try:
                torch.onnx.export(
                    modules[name].eval(),
                    args,
                    path,
                    dynamo=True,
                    input_names=list(spec.inputs),
                    output_names=list(spec.outputs),
                    dynamic_shapes=dynamic[name],
                    opset_version=opset,
                    external_data=False,
                    verbose=False,
                )
            except Exception as e:  # the exporter raises many types; name the graph and the cause
                raise ExportError(f"{path}: exporting the {name} graph failed: {type(e).__name__}: {e}") from e
        seconds[name] = time.perf_counter() - t0
        _check_opset(path, opset)
        io_dtype = "float16" if precision == "fp16" else "float32"
        entries[name] = GraphEntry(
            file=spec.filename,
            sha256=sha256_file(path),
            bytes=os.path.getsize(path),
            inputs={
                k: TensorSpec(shape, io_dtype if spec.input_dtypes[k] == "float32" else spec.input_dtypes[k])
                for k, shape in spec.inputs.items()
            },
            outputs={k: TensorSpec(shape, io_dtype) for k, shape in spec.outputs.items()},
        )
        logger.info("%s: %.1f MB in %.1f s", path, entries[name].bytes / 1e6, seconds[name])
    manifest = Manifest(
        hodor_version=__version__,
        torch_version=torch.__version__,
        opset=opset,
        precision=precision,
        checkpoint={
            "file": os.path.basename(checkpoint_path) if checkpoint_path else "",
            "sha256": sha256_file(checkpoint_path) if checkpoint_path and os.path.isfile(checkpoint_path) else "",
        },
        hidden_dim=dim,
        num_bg_descriptors=num_bg,
        backbone=backbone_name,
        pixel_mean=[float(v) for v in pixel_mean],
        pixel_std=[float(v) for v in pixel_std],
        size_divisibility=int(size_divisibility),
        min_dim=int(min_dim),
        max_dim=int(max_dim),
        temporal_window=int(temporal_window),
        graphs=entries,
    )
    return ExportResult(manifest, manifest.write(out_dir), seconds)


def export_from_config(cfg, model: nn.Module, out_dir: str, checkpoint_path: str = "", **kw) -> ExportResult:
    """:func:`export_model` with the preprocessing and window read from a hodor config."""
    return export_model(
        model,
        out_dir,
        pixel_mean=list(cfg.INPUT.PIXEL_MEAN),
        pixel_std=list(cfg.INPUT.PIXEL_STD),
        size_divisibility=cfg.INPUT.SIZE_DIVISIBILITY,
        min_dim=cfg.INFERENCE.MIN_DIM,
        max_dim=cfg.INFERENCE.MAX_DIM,
        temporal_window=cfg.INFERENCE.TEMPORAL_WINDOW,
        backbone_name=cfg.MODEL.BACKBONE.NAME,
        checkpoint_path=checkpoint_path,
        **kw,
    )


def quiet_exporter_logs() -> None:
    """The dynamo exporter logs every step at INFO/WARNING; keep the console to hodor's lines."""
    for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "torch.fx.experimental.symbolic_shapes"):
        logging.getLogger(name).setLevel(logging.ERROR)
