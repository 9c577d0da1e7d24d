"""eval_record.json contents: video list hash, counts, checkpoint hash and annotation cost (read by
hodor.checkpoint.identity, passed to build_eval_record)."""

import hashlib
import json
import os

import torch
from safetensors.torch import save_file

from hodor.checkpoint.identity import checkpoint_info
from hodor.evaluation.record import build_eval_record, video_list_hash, write_eval_record


def test_record_contents_and_annotation_cost(tmp_path):
    ckpt = str(tmp_path / "model.safetensors")
    cost = {"labelled_frames": 3471, "images": 118287}
    save_file({"w": torch.zeros(2)}, ckpt, metadata={"hodor_training": json.dumps({"annotation_cost": cost})})
    rec = build_eval_record(
        dataset="davis_2017_val",
        split="val",
        evaluator="davis",
        videos_scored=["b", "a"],
        videos_present=["a", "b", "c"],
        frames_scored=10,
        frames_present=14,
        metrics={"J&F-Mean": 0.5},
        inference={"precision": "fp32"},
        checkpoint=checkpoint_info(ckpt),
    )
    assert rec["videos"] == ["a", "b"] and rec["videos_not_scored"] == ["c"]
    assert rec["videos_sha256"] == hashlib.sha256(b"a\nb").hexdigest() == video_list_hash(["b", "a"])
    assert rec["num_videos_scored"] == 2 and rec["num_videos_present"] == 3
    assert rec["num_frames_scored"] == 10 and rec["num_frames_present"] == 14
    assert rec["checkpoint"]["sha256"] == hashlib.sha256(open(ckpt, "rb").read()).hexdigest()
    assert rec["checkpoint"]["annotation_cost"] == cost
    assert rec["hodor"]["version"]
    path = write_eval_record(str(tmp_path / "out"), rec)
    assert os.path.basename(path) == "eval_record.json"
    assert json.load(open(path))["metrics"] == {"J&F-Mean": 0.5}


def test_checkpoint_without_metadata_and_pth(tmp_path):
    plain = str(tmp_path / "plain.safetensors")
    save_file({"w": torch.zeros(1)}, plain)
    assert checkpoint_info(plain)["annotation_cost"] is None
    pth = str(tmp_path / "model.pth")
    torch.save({"model": {"w": torch.zeros(1)}, "training_metadata": {"annotation_cost": {"labelled_frames": 7}}}, pth)
    assert checkpoint_info(pth)["annotation_cost"] == {"labelled_frames": 7}
    assert checkpoint_info(None) == {"path": None, "sha256": None, "annotation_cost": None}
    rec = build_eval_record(
        dataset="d", split="s", evaluator="davis", videos_scored=["v"], videos_present=["v"],
        frames_scored=1, frames_present=1,
    )  # fmt: skip
    assert rec["checkpoint"] == {"path": None, "sha256": None, "annotation_cost": None}
