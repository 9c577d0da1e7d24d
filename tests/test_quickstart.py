"""The quick-start pipeline, shortened (tiny data, 2 iterations per stage): it must complete and
write every output the README promises. Accuracy is measured by the full run, not here."""

import glob
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_quickstart_fast_writes_all_outputs(tmp_path):
    out = tmp_path / "qs"
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "tools", "quickstart.py"),
            "--fast",
            "--out",
            str(out),
            "--num-videos",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| copy first-frame mask (baseline) |" in proc.stdout
    for stage in ("static_image", "sparse_video", "self_training/round_1/train"):
        assert os.path.isfile(out / stage / "model_final.pth")
        assert os.path.isfile(out / stage / "config.yaml")
        assert glob.glob(str(out / stage / "tb" / "events.out.tfevents.*")), f"no TensorBoard events for {stage}"
        assert os.path.isfile(out / stage / "metrics.json")
    for ev in ("eval_baseline_copy_first_frame", "eval_static_image", "eval_sparse_video", "eval_self_training"):
        assert os.path.isfile(out / ev / "global_results-val.csv")
        assert os.path.isfile(out / ev / "per-sequence_results-val.csv")
    videos = glob.glob(str(out / "videos" / "*.mp4"))
    assert len(videos) == 1 and os.path.getsize(videos[0]) > 0
    results = json.loads((out / "results.json").read_text())
    names = [r[0] for r in results["rows"]]
    assert names == [
        "copy first-frame mask (baseline)",
        "static-image training",
        "+ sparse-video fine-tuning",
        "+ self-training (1 pseudo-label round)",
    ]
    for _, metrics in results["rows"]:
        assert 0.0 <= metrics["J&F-Mean"] <= 1.0
    assert "J&F-Mean" in (out / "results.md").read_text()
    # labels used: the static stage's images, then + the sparse stage's labelled video frames
    labels = results["labels_used"]
    costs = {
        stage: json.loads((out / stage / "annotation_cost.json").read_text())
        for stage in ("static_image", "sparse_video", "self_training/round_1/train")
    }
    assert labels["copy first-frame mask (baseline)"] == 0
    assert labels["static-image training"] == costs["static_image"]["labelled_images"] > 0
    assert labels["+ sparse-video fine-tuning"] == (
        costs["static_image"]["labelled_images"] + costs["sparse_video"]["labelled_video_frames"]
    )
    assert costs["sparse_video"]["labelled_video_frames"] > 0 and "| labels used |" in (out / "results.md").read_text()
    # self-training: the same labelled frames as the sparse stage (no new labels), plus pseudo-labels
    st = costs["self_training/round_1/train"]
    assert st["mode"] == "self_training"
    assert st["labelled_video_frames"] == costs["sparse_video"]["labelled_video_frames"]
    assert labels["+ self-training (1 pseudo-label round)"] == labels["+ sparse-video fine-tuning"]
    assert results["pseudo_labels_used"]["+ self-training (1 pseudo-label round)"] == st["pseudo_labelled_frames"] > 0
    assert os.path.isfile(out / "self_training" / "round_1" / "pseudo_labels" / "pseudo_labels.json")
    rows = [json.loads(x) for x in open(out / "self_training" / "round_1" / "train" / "metrics.json")]
    assert all(r["labels/pseudo_frames"] == st["pseudo_labelled_frames"] for r in rows)
