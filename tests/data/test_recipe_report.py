"""tools/recipe_report.py: batch statistics that show whether the recipe is the original's."""

from __future__ import annotations

import json
import os
import runpy
import sys

import pytest
import torch

from hodor.structures.batch import ClipSample, collate_clips
from hodor.training.recipe_report import batch_stats

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _sample(h, w, n, orig=None):
    meta = {"orig_size": orig} if orig else {}
    return ClipSample(torch.zeros(3, 3, h, w), torch.zeros(3, h, w, dtype=torch.long), torch.ones(3, dtype=torch.bool),
                      torch.ones(3, n, dtype=torch.bool), meta)  # fmt: skip


def test_batch_stats_hand_worked():
    # 474x632 and 632x474 in one forward share a 640x640 canvas: 1 - 474*632/640^2 = 0.26865 each
    mixed = collate_clips([_sample(474, 632, 1), _sample(632, 474, 2)])
    alone = collate_clips([_sample(64, 96, 3), _sample(64, 96, 3)])
    r = batch_stats([mixed, alone])
    assert r["padding_fraction_max"] == pytest.approx(1 - 474 * 632 / 640**2)
    assert r["padding_fraction_mean"] == pytest.approx(2 * (1 - 474 * 632 / 640**2) / 4)
    assert r["padding_fraction_rounding_max"] == pytest.approx(1 - 474 * 632 / (480 * 640))
    assert r["aspect_ratio_spread_max"] == pytest.approx(632 / 474 - 474 / 632)
    assert r["objects_per_sample"] == {"1": 1, "2": 1, "3": 2}
    assert r["mixed_object_counts_in_a_forward"] == 1
    assert r["frames_per_clip"] == {"3": 2}
    assert r["resized_height"] == {"mean": (474 + 632 + 128) / 4, "min": 64, "max": 632}
    # the unresized size (meta) is what the grouping limits
    b = collate_clips([_sample(64, 96, 1, orig=(480, 640)), _sample(64, 90, 1, orig=(480, 600))])
    assert batch_stats([b])["aspect_ratio_spread_max"] == pytest.approx(0.8 - 0.75)


def test_report_on_synthetic_data_shows_the_original_recipe(syn_root, capsys, monkeypatch):
    cfg = os.path.join(REPO, "configs", "quick_schedules", "static_image_tiny.yaml")
    args = ["--config-file", cfg, "--num-batches", "6", "--json", "DATASETS.ROOT", syn_root,
            "TRAINING.NUM_INSTANCES", "4", "SOLVER.IMS_PER_BATCH", "4", "SOLVER.MAX_SAMPLES_PER_GPU", "2"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["recipe_report.py", *args])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(os.path.join(REPO, "tools", "recipe_report.py"), run_name="__main__")
    assert e.value.code == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["per_forward_batches"] == 12 and r["samples"] == 24 and r["forwards_per_step"] == 2
    assert r["mixed_object_counts_in_a_forward"] == 0
    assert r["aspect_ratio_spread_max"] <= 0.1
    assert r["padding_fraction_max"] <= r["padding_fraction_rounding_max"] + 0.15
    counts = list(r["sample_list_objects_per_sample"].values())
    assert len(counts) == 4 and max(counts) - min(counts) <= 1
    # without grouping (the old pipeline) the same data mixes counts and shapes
    from hodor.training.recipe_report import main

    assert main([*args[:-4], "DATALOADER.GROUP_BATCHES", "False", "SOLVER.IMS_PER_BATCH", "4",
                 "SOLVER.MAX_SAMPLES_PER_GPU", "2", "TRAINING.NUM_INSTANCES", "4"]) == 0  # fmt: skip
    old = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert old["mixed_object_counts_in_a_forward"] > 0 and old["aspect_ratio_spread_max"] > 0.1


def test_report_names_a_bad_dataset_in_one_line(capsys):
    """A typo in DATASETS.TRAIN is a user's mistake: one ``error:`` line with the name, exit status 2."""
    from hodor.training.recipe_report import main

    cfg = os.path.join(REPO, "configs", "quick_schedules", "static_image_tiny.yaml")
    assert main(["--config-file", cfg, "--num-batches", "1", "DATASETS.TRAIN", "['no_such_dataset']"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "no_such_dataset" in err and "Traceback" not in err
