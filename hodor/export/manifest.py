"""``manifest.json``: what an exported HODOR directory holds and how to feed it.

Written by the exporter next to the graphs, read back (and checked) by the onnxruntime backend.
It records each graph's file, size and sha256 (so a graph from another export is caught), input
and output names with symbolic shapes, the preprocessing (normalisation, test size, size
divisibility), the temporal window, the hodor version and the source checkpoint's sha256.
Plain JSON: a deployment needs no torch to read it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..checkpoint.identity import sha256_file
from ..utils.errors import UserError

MANIFEST_NAME = "manifest.json"
FORMAT = "hodor-onnx"
FORMAT_VERSION = 1
GRAPH_NAMES = ("backbone", "encoder", "decoder")
MIN_OPSET = 16  # ONNX GridSample (the deformable convolution's sampling) exists from opset 16


class ExportError(UserError, ValueError):
    """Bad export input or a bad exported directory; the message names the file and the problem."""


@dataclass
class TensorSpec:
    """Shape entries are ints (fixed) or symbols: ``H``/``W`` padded frame size, ``H/4`` etc.,
    ``I`` objects, ``T`` window slots, sums such as ``1+9+I`` (outputs only)."""

    shape: list[int | str]
    dtype: str


@dataclass
class GraphEntry:
    file: str
    sha256: str
    bytes: int
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]


@dataclass
class Manifest:
    hodor_version: str
    torch_version: str
    opset: int
    precision: str
    checkpoint: dict[str, str]  # {"file": basename, "sha256": ...}
    hidden_dim: int
    num_bg_descriptors: int
    backbone: str
    pixel_mean: list[float]
    pixel_std: list[float]
    size_divisibility: int
    min_dim: int
    max_dim: int
    temporal_window: int
    graphs: dict[str, GraphEntry] = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def write(self, out_dir: str) -> str:
        path = os.path.join(out_dir, MANIFEST_NAME)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(self.to_json() + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> Manifest:
        """Rebuild from parsed JSON; any missing or ill-typed field is an :class:`ExportError`."""
        if not isinstance(data, dict):
            raise ExportError(f"{source}: manifest must be a JSON object")
        fmt, ver = data.get("format"), data.get("format_version")
        if fmt != FORMAT:
            raise ExportError(f"{source}: not a hodor ONNX manifest (format {fmt!r}, expected {FORMAT!r})")
        if ver != FORMAT_VERSION:
            raise ExportError(
                f"{source}: manifest format version {ver!r} is not the one this hodor reads ({FORMAT_VERSION}); "
                "export the checkpoint again with this version (hodor-export)"
            )
        try:
            graphs = {
                name: GraphEntry(
                    file=g["file"],
                    sha256=g["sha256"],
                    bytes=int(g["bytes"]),
                    inputs={k: TensorSpec(**v) for k, v in g["inputs"].items()},
                    outputs={k: TensorSpec(**v) for k, v in g["outputs"].items()},
                )
                for name, g in data["graphs"].items()
            }
            rest = {k: v for k, v in data.items() if k != "graphs"}
            m = cls(graphs=graphs, **rest)
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            raise ExportError(f"{source}: malformed manifest ({type(e).__name__}: {e})") from e
        missing = [g for g in GRAPH_NAMES if g not in m.graphs]
        if missing:
            raise ExportError(f"{source}: manifest lists no graph for {missing}")
        return m

    @classmethod
    def read(cls, export_dir: str) -> Manifest:
        path = os.path.join(export_dir, MANIFEST_NAME)
        if not os.path.isdir(export_dir):
            raise ExportError(f"{export_dir}: no such ONNX export directory (create one with hodor-export)")
        if not os.path.isfile(path):
            raise ExportError(
                f"{path}: missing; {export_dir} is not a hodor ONNX export (create one with hodor-export)"
            )
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except json.JSONDecodeError as e:
            raise ExportError(f"{path}: not valid JSON ({e})") from e
        return cls.from_dict(data, path)

    def check_files(self, export_dir: str, verify_hash: bool = True) -> dict[str, str]:
        """Paths of the three graphs; each must exist and (``verify_hash``) match its recorded sha256."""
        from .. import __version__

        manifest_path = os.path.join(export_dir, MANIFEST_NAME)
        if self.hodor_version != __version__:
            raise ExportError(
                f"{manifest_path}: written by hodor {self.hodor_version}, this is hodor {__version__}; "
                "export the checkpoint again with this version (hodor-export)"
            )
        paths = {}
        for name in GRAPH_NAMES:
            entry = self.graphs[name]
            path = os.path.join(export_dir, entry.file)
            if not os.path.isfile(path):
                raise ExportError(f"{path}: {name} graph listed in {manifest_path} is missing")
            if verify_hash and sha256_file(path) != entry.sha256:
                raise ExportError(
                    f"{path}: sha256 differs from the one recorded in {manifest_path}; the {name} graph "
                    "comes from another export (export the whole directory again)"
                )
            paths[name] = path
        return paths


_SYMBOL = re.compile(r"^([A-Za-z]\w*)(?:/(\d+))?$")


def check_shapes(graph_file: str, specs: dict[str, TensorSpec], arrays: dict[str, Any], bound: dict[str, int]) -> None:
    """Check arrays against symbolic input shapes, binding symbols on first use (``bound`` is updated).

    An entry ``X`` binds X to the size; ``X/k`` binds X = k * size. Raises :class:`ExportError`
    naming the graph file, the input and both shapes on the first mismatch.
    """
    for name, spec in specs.items():
        if name not in arrays:
            raise ExportError(f"{graph_file}: input {name!r} was not given")
        shape = tuple(arrays[name].shape)
        if len(shape) != len(spec.shape):
            raise ExportError(f"{graph_file}: input {name!r} has shape {list(shape)}, expected {spec.shape}")
        for axis, (size, want) in enumerate(zip(shape, spec.shape)):
            if isinstance(want, int):
                ok, why = size == want, f"axis {axis} must be {want}"
            else:
                m = _SYMBOL.match(want)
                if m is None:
                    raise ExportError(f"{graph_file}: manifest shape entry {want!r} of {name!r} is not understood")
                sym, k = m.group(1), int(m.group(2) or 1)
                if sym not in bound:
                    bound[sym] = size * k
                ok = bound[sym] == size * k
                why = f"axis {axis} is {want} = {bound[sym] // k} from the inputs checked before"
                if bound[sym] % k:
                    ok, why = False, f"{sym} = {bound[sym]} is not a multiple of {k}"
            if not ok:
                raise ExportError(
                    f"{graph_file}: input {name!r} has shape {list(shape)}, expected {spec.shape} ({why})"
                )
