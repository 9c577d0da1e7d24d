"""tools/visualize_data.py writes one grid image per augmented clip."""

from __future__ import annotations

import os
import runpy

from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_visualize_writes_grids(syn_root, tmp_path):
    mod = runpy.run_path(os.path.join(REPO, "tools", "visualize_data.py"), run_name="visualize")
    out = tmp_path / "vis"
    argv = ["--num", "2", "--out", str(out), "DATASETS.ROOT", syn_root, "DATASETS.TRAIN", "['davis_2017_train']"]
    argv += ["TRAINING.MODE", "sparse_video", "INPUT.MIN_DIM", "64", "INPUT.MAX_DIM", "128"]
    argv += ["TRAINING.MIN_REF_MASK_AREA", "20", "TRAINING.MIN_REF_MASK_DIM", "3"]
    assert mod["main"](argv) == 0
    files = sorted(os.listdir(out))
    assert files == ["sample_0000.png", "sample_0001.png"]
    w, h = Image.open(out / files[0]).size
    assert w == 3 * 96 + 2 * 4 and (h - 64 - 4) % 14 == 0 and h >= 64 + 18  # 3 frames under a title strip


def test_title_has_no_empty_fields_and_wraps():
    import numpy as np

    mod = runpy.run_path(os.path.join(REPO, "tools", "visualize_data.py"), run_name="visualize")
    title = mod["sample_title"]({"dataset": "coco_2017_train", "image_id": 7, "object_ids": [1, 2], "recipe": "basic"})
    assert title == "coco_2017_train 7 objs=[1, 2] basic" and "frames=" not in title
    long = title + " flip=True frames=[0, 3, 5] and more words to wrap"
    grid = mod["render_sample"](np.zeros((2, 32, 40, 3), np.uint8), np.zeros((2, 32, 40), int), [True, False], long)
    assert grid.size[1] > 32 + 18  # several header lines on an 84-px-wide grid, nothing cut
