"""Evaluation: one evaluator protocol (``base.VOSEvaluator``) with a registry; DAVIS 2017 J&F
identical to the official toolkit (also MOSEv1), MOSEv2 J&F_new, VOST J / J_last, LVOS J / F / V, SA-V J&F,
YouTube-VOS J / F seen / unseen on local ground truth (protocol as published, not the server's code); eval_record.json;
the YouTube-VOS submission writer."""

from ..utils.palette import davis_palette, save_index_png
from .base import EVALUATOR_REGISTRY, BenchmarkResults, EvaluationError, VOSEvaluator, build_evaluator
from .davis_evaluator import (
    DavisEvalError,
    DavisEvaluator,
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
from .lvos import LvosEvaluator, LvosResults
from .mose_v2 import MoseV2Evaluator, MoseV2Results
from .record import build_eval_record, write_eval_record
from .results_io import MaskReadError, read_index_png
from .sav import SavEvaluator, SavResults
from .vost import VostEvaluator, VostResults
from .youtube_vos import (
    SubmissionError,
    expected_frames_from_jpegs,
    write_annotations,
    write_submission,
    zip_submission,
)
from .youtube_vos_local import YoutubeVosEvaluator, YtvosResults

__all__ = [
    "EVALUATOR_REGISTRY",
    "BenchmarkResults",
    "DavisEvaluator",
    "EvaluationError",
    "LvosEvaluator",
    "LvosResults",
    "MoseV2Evaluator",
    "MoseV2Results",
    "SavEvaluator",
    "SavResults",
    "VOSEvaluator",
    "VostEvaluator",
    "VostResults",
    "YoutubeVosEvaluator",
    "YtvosResults",
    "build_eval_record",
    "build_evaluator",
    "write_eval_record",
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
