"""Evaluation: DAVIS 2017 J&F identical to the official toolkit, YouTube-VOS submission writer."""

from ..utils.palette import davis_palette, save_index_png
from .davis_evaluator import (
    DavisEvalError,
    DavisResults,
    ObjectResult,
    PredictionAbortError,
    evaluate_davis,
    evaluate_predictions,
    format_table,
    read_sequence_list,
    write_csvs,
)
from .davis_metrics import boundary_f, boundary_map, boundary_radius, region_similarity, statistics
from .results_io import MaskReadError, read_index_png
from .youtube_vos import (
    SubmissionError,
    expected_frames_from_jpegs,
    write_annotations,
    write_submission,
    zip_submission,
)

__all__ = [
    "DavisEvalError",
    "DavisResults",
    "MaskReadError",
    "ObjectResult",
    "SubmissionError",
    "PredictionAbortError",
    "boundary_f",
    "boundary_map",
    "boundary_radius",
    "davis_palette",
    "expected_frames_from_jpegs",
    "evaluate_davis",
    "evaluate_predictions",
    "format_table",
    "read_index_png",
    "read_sequence_list",
    "region_similarity",
    "save_index_png",
    "statistics",
    "write_annotations",
    "write_csvs",
    "write_submission",
    "zip_submission",
]
