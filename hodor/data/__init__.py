"""Datasets: catalog, readers, pseudo-clips, video clips, batching and synthetic data generators."""

from ..structures.batch import ClipBatch, ClipSample, collate_clips
from .balance import Candidate, PlannedSample, SamplePlan
from .build import DATA_KINDS, build_train_loader, build_video_dataset, worker_init_fn
from .catalog import (
    DATASET_REGISTRY,
    load_dataset,
    register_davis_folder,
    register_hodor_json,
    resolve_root,
)
from .grouping import GroupedBatchSampler
from .io import DataError, read_image, read_index_mask
from .pseudo_labels import load_pseudo_dataset
from .records import ImageRecord, InstanceAnn, VideoRecord
from .sampler import MixtureSampler, SampleKey

__all__ = [
    "ClipBatch",
    "ClipSample",
    "collate_clips",
    "DATA_KINDS",
    "build_train_loader",
    "build_video_dataset",
    "worker_init_fn",
    "DATASET_REGISTRY",
    "load_dataset",
    "register_davis_folder",
    "register_hodor_json",
    "resolve_root",
    "DataError",
    "read_image",
    "read_index_mask",
    "load_pseudo_dataset",
    "ImageRecord",
    "InstanceAnn",
    "VideoRecord",
    "MixtureSampler",
    "SampleKey",
    "Candidate",
    "PlannedSample",
    "SamplePlan",
    "GroupedBatchSampler",
]
