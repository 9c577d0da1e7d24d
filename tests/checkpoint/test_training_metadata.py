"""Training metadata (annotation cost) written by the Checkpointer and by the weights export is
exactly what the evaluation record reads back."""

from __future__ import annotations

import importlib.util
import os

import torch

from hodor.checkpoint.checkpointer import Checkpointer
from hodor.checkpoint.formats import WEIGHTS_NAME
from hodor.checkpoint.identity import checkpoint_info, read_training_metadata
from hodor.config import cfg_to_dict
from hodor.evaluation.record import build_eval_record
from hodor.modeling import build_model
from tests.helpers import REPO, tiny_cfg

COST = {
    "labelled_images": 0,
    "labelled_video_frames": 3,
    "pseudo_labelled_frames": 0,
    "mode": "sparse_video",
    "datasets": {"youtube_vos_2019_train": {"labelled_images": 0, "labelled_video_frames": 3, "videos": 3}},
}


def _export_main():
    spec = importlib.util.spec_from_file_location("export_weights", os.path.join(REPO, "tools", "export_weights.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def test_checkpoint_and_export_carry_annotation_cost_into_eval_record(tmp_path):
    cfg = tiny_cfg(tmp_path / "run", "MODEL.BACKBONE.WEIGHTS", "")
    model = build_model(cfg)
    ck = Checkpointer(model, str(tmp_path / "run"), training_metadata={"annotation_cost": COST})
    path = ck.save("model_final", 1, config=cfg_to_dict(cfg))
    assert torch.load(path, weights_only=True)["training_metadata"] == {"annotation_cost": COST}
    record = build_eval_record(
        dataset="d", split="s", evaluator="davis", videos_scored=["v"], videos_present=["v"],
        frames_scored=1, frames_present=1, checkpoint=checkpoint_info(path),
    )  # fmt: skip
    assert record["checkpoint"]["annotation_cost"] == COST

    assert _export_main()([path, str(tmp_path / "exp")]) == 0
    exported = str(tmp_path / "exp" / "model.safetensors")
    assert checkpoint_info(exported)["annotation_cost"] == COST
    assert read_training_metadata(str(tmp_path / "exp")) == {"annotation_cost": COST}
    # MODEL.WEIGHTS may name the exported directory: the record resolves it like the loader does
    assert os.path.basename(exported) == WEIGHTS_NAME
    info = checkpoint_info(str(tmp_path / "exp"))
    assert info["annotation_cost"] == COST and info["path"] == os.path.abspath(exported)


def test_checkpoint_without_metadata_reads_as_none(tmp_path):
    ck = Checkpointer(torch.nn.Linear(2, 2), str(tmp_path))
    path = ck.save("model_final", 1)
    assert checkpoint_info(path)["annotation_cost"] is None


def test_metadata_read_from_legacy_and_zip_pth_files(tmp_path):
    """The metadata reader maps zip checkpoints (only the small entry is read) and still reads
    files saved in torch's legacy non-zip format, which cannot be mapped."""
    obj = {"model": {"w": torch.zeros(4)}, "training_metadata": {"annotation_cost": COST}}
    zipped, legacy = str(tmp_path / "zip.pth"), str(tmp_path / "legacy.pth")
    torch.save(obj, zipped)
    torch.save(obj, legacy, _use_new_zipfile_serialization=False)
    assert read_training_metadata(zipped) == read_training_metadata(legacy) == {"annotation_cost": COST}
