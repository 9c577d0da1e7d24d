"""ONNX export of the streaming predictor's graphs and an onnxruntime predictor backend.

Importing this package needs only torch; onnx/onnxscript (export) and onnxruntime (running) are
the optional ``export`` extra, imported when used.
"""

from .exporter import ExportResult, export_from_config, export_model
from .manifest import MANIFEST_NAME, MIN_OPSET, ExportError, Manifest
from .ort_backend import OnnxBackend, onnx_video_predictor

__all__ = [
    "MANIFEST_NAME",
    "MIN_OPSET",
    "ExportError",
    "ExportResult",
    "Manifest",
    "OnnxBackend",
    "export_from_config",
    "export_model",
    "onnx_video_predictor",
]
