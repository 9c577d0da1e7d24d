"""``inference_on_dataset``: predict every video of a split and feed its evaluator.

One driver serves the evaluation CLI (which also writes the benchmark's PNGs) and the trainer's
``EvalHook`` (which scores in memory: no PNG round trip). Under ``torchrun`` the videos are
sharded over the ranks (``records[rank::world]``); each rank scores its own videos with the
evaluator, the per-video scores (small, never masks) are gathered, and rank 0 aggregates them
in the split's order, so the tables are identical to a single-process run.

Semi-supervised protocol: each object is given to the predictor once, at its first annotated
frame (``run_dataset.first_appearance_masks``).
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn
from tqdm import tqdm

from ..checkpoint.identity import checkpoint_info
from ..data.catalog import get_dataset_spec
from ..data.records import VideoRecord
from ..evaluation.base import (
    EVALUATOR_REGISTRY,
    BenchmarkResults,
    EvaluationError,
    VOSEvaluator,
    build_evaluator,
    write_index_pngs,
)
from ..evaluation.record import build_eval_record, write_eval_record
from ..utils import comm
from ..utils.logger import get_logger
from .predictor import VideoPredictor
from .run_dataset import first_appearance_masks

logger = get_logger(__name__)


def predict_video(predictor: VideoPredictor, record: VideoRecord) -> dict[str, np.ndarray]:
    """``{frame stem: id map uint8/int32 [H, W]}`` for every frame of one video."""
    prompts = first_appearance_masks(record)
    predictor.reset()
    names = record.frame_names
    out: dict[str, np.ndarray] = {}
    for i in range(len(record)):
        pred = predictor.step(record.load_frame(i), prompts.get(i))
        out[names[i]] = pred.astype(np.uint8) if pred.size and int(pred.max()) < 256 else pred
    return out


@dataclass
class InferenceOutput:
    """What ``inference_on_dataset`` returns (``results`` only on rank 0 and with an evaluator)."""

    results: BenchmarkResults | None
    videos: list[str]  # every video of the run, split order
    frames_predicted: int
    predict_seconds: float  # summed over ranks
    wall_seconds: float
    world_size: int
    frames_scored: int = 0
    frame_sizes: list[tuple[int, int]] = field(default_factory=list)

    @property
    def seconds_per_frame(self) -> float:
        return self.predict_seconds / self.frames_predicted if self.frames_predicted else float("nan")


def inference_on_dataset(
    model: nn.Module,
    cfg,
    records: Sequence[VideoRecord],
    evaluator: VOSEvaluator | None,
    results_dir: str | None = None,
    progress: bool = True,
) -> InferenceOutput:
    """Predict ``records`` (this rank's shard under torchrun), score them with ``evaluator`` and,
    with ``results_dir``, write the predictions in the evaluator's results layout (index PNGs
    ``<results_dir>/<video>/<frame>.png`` without an evaluator).

    Must be called on every rank when distributed. Returns the aggregated results on rank 0.
    """
    rank, world = comm.get_rank(), comm.get_world_size()
    shard = list(records)[rank::world]
    predictor = VideoPredictor.from_config(model, cfg)
    if evaluator is not None:
        evaluator.reset()
    n_frames, seconds, sizes = 0, 0.0, set()
    t_wall = time.perf_counter()
    bar = tqdm(shard, desc=f"videos (rank {rank})" if world > 1 else "videos", unit="video", disable=not progress)
    error: str | None = None
    try:
        for rec in bar:
            bar.set_postfix_str(rec.video_id)
            t0 = time.perf_counter()
            preds = predict_video(predictor, rec)
            seconds += time.perf_counter() - t0
            n_frames += len(preds)
            sizes.add(tuple(int(x) for x in next(iter(preds.values())).shape))
            if results_dir is not None:
                if evaluator is not None:
                    evaluator.write_video(rec.video_id, preds, results_dir)
                else:
                    write_index_pngs(rec.video_id, preds, results_dir)
            if evaluator is not None:
                evaluator.process(rec.video_id, preds)
            del preds
    except Exception as e:
        if world == 1:
            raise
        error = f"rank {rank}: {type(e).__name__}: {e}"  # raised on every rank after the gather
    local: dict[str, Any] = {
        "scores": evaluator.video_results() if evaluator is not None else {},
        "frames": n_frames,
        "seconds": seconds,
        "sizes": sorted(sizes),
        "error": error,
    }
    gathered = comm.all_gather_object(local)
    errors = [g["error"] for g in gathered if g["error"]]
    if errors:
        raise RuntimeError("; ".join(errors))
    wall = time.perf_counter() - t_wall
    out = InferenceOutput(
        results=None,
        videos=[r.video_id for r in records],
        frames_predicted=sum(g["frames"] for g in gathered),
        predict_seconds=sum(g["seconds"] for g in gathered),
        wall_seconds=wall,
        world_size=world,
        frame_sizes=sorted({tuple(s) for g in gathered for s in g["sizes"]}),
    )
    if evaluator is not None and comm.is_main_process():
        for g in gathered:
            evaluator.add_video_results(g["scores"])
        out.results = evaluator.evaluate()
        out.frames_scored = evaluator.frames_scored()
    return out


def score_results_dir(evaluator: VOSEvaluator, videos: Sequence[str], results_dir: str) -> BenchmarkResults | None:
    """Score ``results_dir/<video>`` for every video (scoring only), sharded over the ranks when
    distributed (``torchrun ... eval_vos.py --dataset NAME --results DIR`` scores with N processes).

    Returns the aggregated results on rank 0, None on the other ranks.
    """
    rank, world = comm.get_rank(), comm.get_world_size()
    evaluator.reset()
    error: str | None = None
    try:
        for video in list(videos)[rank::world]:
            evaluator.process(video, os.path.join(results_dir, video))
    except EvaluationError as e:  # every rank must reach the gather, or the others hang
        error = str(e)
    gathered = comm.all_gather_object({"scores": evaluator.video_results(), "error": error})
    errors = [g["error"] for g in gathered if g["error"]]
    if errors:
        raise EvaluationError(errors[0])
    if not comm.is_main_process():
        return None
    for g in gathered:
        evaluator.add_video_results(g["scores"])
    return evaluator.evaluate()


# --------------------------------------------------------------------------------------------
# Named datasets
# --------------------------------------------------------------------------------------------


def dataset_gt_root(name: str, records: Sequence[VideoRecord]) -> str:
    """The folder holding ``<video>/`` ground truth (the parent of every record's ``source``)."""
    parents = {os.path.dirname(os.path.normpath(r.source)) for r in records if r.source}
    if len(parents) != 1:
        raise EvaluationError(f"dataset {name}: cannot tell its ground-truth folder (video sources: {sorted(parents)})")
    return parents.pop()


def build_dataset_evaluator(
    name: str, records: Sequence[VideoRecord], workers: int = 1, **options: Any
) -> VOSEvaluator | None:
    """The evaluator the dataset spec names, over ``records`` (None: no local ground truth).

    ``options``: evaluator-specific arguments given by the user (e.g. YouTube-VOS's
    ``seen_categories``); an option the evaluator does not take is an error."""
    spec = get_dataset_spec(name)
    if not spec.evaluator:
        return None
    kwargs: dict[str, Any] = {"gt_root": dataset_gt_root(name, records), "videos": [r.video_id for r in records]}
    for key, value in options.items():
        if key not in inspect.signature(EVALUATOR_REGISTRY.get(spec.evaluator)).parameters:
            raise EvaluationError(f"dataset {name}: its evaluator {spec.evaluator!r} takes no option {key!r}")
        kwargs[key] = value
    cls = EVALUATOR_REGISTRY.get(spec.evaluator)
    if workers > 1 and "workers" in inspect.signature(cls).parameters:  # thread-parallel evaluators
        kwargs["workers"] = workers
    return build_evaluator(spec.evaluator, **kwargs)


def inference_settings(cfg, out: InferenceOutput, device: str) -> dict[str, Any]:
    """The ``inference`` block of eval_record.json."""
    fps = 1.0 / out.seconds_per_frame if out.frames_predicted and out.predict_seconds > 0 else None
    return {
        "frame_sizes_hw": [list(s) for s in out.frame_sizes],
        "inference_min_dim": int(cfg.INFERENCE.MIN_DIM),
        "inference_max_dim": int(cfg.INFERENCE.MAX_DIM),
        "temporal_window": int(cfg.INFERENCE.TEMPORAL_WINDOW),
        "precision": str(cfg.INFERENCE.PRECISION),
        "device": device,
        "world_size": out.world_size,
        "frames_predicted": out.frames_predicted,
        "seconds_per_frame": out.seconds_per_frame if out.frames_predicted else None,
        "fps": fps,
        "wall_seconds": out.wall_seconds,
    }


def record_for_run(
    name: str,
    split: str,
    evaluator: VOSEvaluator,
    out: InferenceOutput,
    records_present: Sequence[VideoRecord],
    cfg,
    device: str,
    checkpoint: str | None,
) -> dict[str, Any]:
    """eval_record.json contents for an inference + scoring run (rank 0)."""
    assert out.results is not None
    scored = set(out.videos)
    return build_eval_record(
        dataset=name,
        split=split,
        evaluator=evaluator.name,
        videos_scored=out.videos,
        videos_present=[r.video_id for r in records_present],
        frames_scored=out.frames_scored,
        frames_present=sum(len(r) for r in records_present if r.video_id in scored),
        metrics=out.results.global_metrics(),
        inference=inference_settings(cfg, out, device),
        checkpoint=checkpoint_info(checkpoint) if checkpoint else None,
    )


def write_record(out_dir: str, record: dict[str, Any]) -> str:
    path = write_eval_record(out_dir, record)
    logger.info("wrote %s", path)
    return path


def split_of(name: str, default: str = "val") -> str:
    """The split a registered name ends with (``davis_2017_val`` -> ``val``, ``sav_test`` -> ``test``)."""
    if name.startswith("davis_folder:"):
        return default
    tail = name.split(":", 1)[0].rsplit("_", 1)[-1]  # youtube_vos_2019_train:<list> -> train
    return tail if tail in ("train", "val", "valid", "test", "test-dev", "testdev") else default


def load_eval_records(
    name: str, datasets_root: str = "", split: str = "val", resolution: str = "480p"
) -> list[VideoRecord]:
    """Records of a registered video dataset, or of ``davis_folder:<path>`` (its
    ``ImageSets/2017/<split>.txt`` when that file exists, else every video; ``resolution``
    folder under JPEGImages/ and Annotations/ when it exists)."""
    from ..data.catalog import load_dataset
    from ..data.davis import load_davis_folder

    if name.startswith("davis_folder:"):
        path = name.split(":", 1)[1]
        has_split = os.path.isfile(os.path.join(path, "ImageSets", "2017", f"{split}.txt"))
        return load_davis_folder(path, split if has_split else None, name, resolution)
    spec = get_dataset_spec(name)
    if spec.kind != "video":
        raise ValueError(f"dataset {name} holds images, not videos; it cannot be evaluated as VOS")
    return list(load_dataset(name, datasets_root))
