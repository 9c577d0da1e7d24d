"""Run exported HODOR graphs with onnxruntime behind the predictor's backend interface.

:class:`OnnxBackend` implements :class:`hodor.inference.backend.PredictorBackend`, so the
streaming procedure is the one :class:`hodor.inference.VideoPredictor` runs for the torch model;
only the three network calls go to onnxruntime. Inputs are checked against the manifest's
symbolic shapes before each call, so a wrong size is reported with the graph file and both shapes
instead of an onnxruntime kernel message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from .manifest import ExportError, Manifest, check_shapes

_NP_DTYPES = {"float32": np.float32, "float16": np.float16, "bool": np.bool_}


def import_onnxruntime():
    """onnxruntime, or an error that says how to install it (it is an optional extra)."""
    try:
        import onnxruntime
    except ImportError as e:
        raise ExportError(
            "the onnx backend needs onnxruntime, which hodor does not install by default; install the export "
            "extra: pip install -c constraints.txt -e '.[export]' (or pip install 'hodor[export]')"
        ) from e
    return onnxruntime


class OnnxBackend:
    """The three graphs of an export directory in onnxruntime sessions (outputs as float32 CPU tensors).

    Args:
        export_dir: directory written by ``hodor-export`` (graphs + manifest.json).
        providers: onnxruntime execution providers (default CPU).
        num_threads: intra-op threads (0 = onnxruntime's default).
        verify_hash: check each graph's sha256 against the manifest (catches mixed exports).
    """

    def __init__(
        self,
        export_dir: str,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        num_threads: int = 0,
        verify_hash: bool = True,
    ) -> None:
        ort = import_onnxruntime()
        self.export_dir = export_dir
        self.manifest = Manifest.read(export_dir)
        self.paths = self.manifest.check_files(export_dir, verify_hash=verify_hash)
        self.num_bg_descriptors = int(self.manifest.num_bg_descriptors)
        self.device = torch.device("cpu")
        opts = ort.SessionOptions()
        if num_threads:
            opts.intra_op_num_threads = int(num_threads)
        self.sessions = {}
        for name, path in self.paths.items():
            try:
                sess = ort.InferenceSession(path, sess_options=opts, providers=list(providers))
            except Exception as e:  # onnxruntime raises its own exception types
                raise ExportError(f"{path}: onnxruntime cannot load the {name} graph: {e}") from e
            entry = self.manifest.graphs[name]
            got = [i.name for i in sess.get_inputs()]
            if sorted(got) != sorted(entry.inputs):
                raise ExportError(
                    f"{path}: graph inputs {got} differ from the manifest's {list(entry.inputs)}; "
                    "the directory mixes exports (export it again)"
                )
            self.sessions[name] = sess

    def session(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def _run(self, name: str, tensors: dict[str, Tensor], bound: dict[str, int] | None = None) -> list[Tensor]:
        entry = self.manifest.graphs[name]
        feeds = {
            k: t.detach().cpu().numpy().astype(_NP_DTYPES[entry.inputs[k].dtype], copy=False)
            for k, t in tensors.items()
        }
        check_shapes(self.paths[name], entry.inputs, feeds, {} if bound is None else bound)
        outs = self.sessions[name].run(list(entry.outputs), feeds)
        return [torch.from_numpy(np.asarray(o, dtype=np.float32)) for o in outs]

    def extract_features(self, image: Tensor) -> dict[int, Tensor]:
        """image [1,3,H,W] with H, W multiples of the manifest's size divisibility -> {4: f4, 8: f8}."""
        d = self.manifest.size_divisibility
        if image.dim() == 4 and (image.shape[-2] % d or image.shape[-1] % d):
            raise ExportError(
                f"{self.paths['backbone']}: image is {image.shape[-2]}x{image.shape[-1]}, but the graph was "
                f"exported for sizes that are multiples of {d} (pad the frame first)"
            )
        f4, f8 = self._run("backbone", {"image": image})
        return {4: f4, 8: f8}

    def encode(self, f8: Tensor, fg_masks: Tensor, bg_masks: Tensor) -> tuple[Tensor, Tensor]:
        fg, bg = self._run("encoder", {"f8": f8, "fg_masks": fg_masks, "bg_masks": bg_masks})
        return fg, bg

    def decode(self, fg: Tensor, bg: Tensor, f4: Tensor, f8: Tensor, fg_invalid: Tensor, bg_invalid: Tensor) -> Tensor:
        (logits,) = self._run(
            "decoder",
            {"fg_desc": fg, "bg_desc": bg, "f4": f4, "f8": f8, "fg_invalid": fg_invalid, "bg_invalid": bg_invalid},
        )
        return logits


def onnx_video_predictor(export_dir: str, num_threads: int = 0, verify_hash: bool = True, **overrides):
    """A :class:`~hodor.inference.VideoPredictor` on an export directory, configured from its manifest.

    ``overrides`` replace the manifest's settings (``temporal_window``, ``min_dim``, ``max_dim``,
    ``observer``); the normalisation and size divisibility are those the graphs were exported with.
    """
    from ..inference.predictor import VideoPredictor

    backend = OnnxBackend(export_dir, num_threads=num_threads, verify_hash=verify_hash)
    m = backend.manifest
    kw = dict(
        temporal_window=m.temporal_window,
        min_dim=m.min_dim,
        max_dim=m.max_dim,
        pixel_mean=m.pixel_mean,
        pixel_std=m.pixel_std,
        size_divisibility=m.size_divisibility,
        # post-processing, not part of the graphs: the given masks come back exactly, as with PyTorch
        exact_given_masks=True,
    )
    kw.update(overrides)
    return VideoPredictor(backend, **kw)


# INFERENCE keys a user may still override on the command line with the onnx backend (the
# normalisation and size divisibility are baked into how the graphs were exported).
_CLI_OVERRIDES = {
    "INFERENCE.TEMPORAL_WINDOW": "temporal_window",
    "INFERENCE.MIN_DIM": "min_dim",
    "INFERENCE.MAX_DIM": "max_dim",
}


def onnx_video_predictor_for_cli(export_dir: str, cfg, opts: Sequence[str]):
    """``hodor-infer-video --backend onnx``: the manifest's settings, except INFERENCE keys given as KEY VALUE."""
    if not export_dir:
        raise ExportError("--backend onnx needs --onnx-dir DIR (a directory written by hodor-export)")
    given = set(opts[0::2])
    kw = {arg: cfg[key.split(".")[0]][key.split(".")[1]] for key, arg in _CLI_OVERRIDES.items() if key in given}
    kw["exact_given_masks"] = bool(cfg.INFERENCE.EXACT_GIVEN_MASKS)
    return onnx_video_predictor(export_dir, **kw)
