#!/usr/bin/env python
"""Statistics of the training batches a config produces (padding, aspect-ratio spread, objects
per sample, mixed object counts, clip length, resized sizes); see hodor/data/recipe_report.py.

    python tools/recipe_report.py --config-file configs/quickstart/static_image_r18.yaml \
        --num-batches 50 --json DATASETS.ROOT datasets/synthetic

Also installed as ``hodor-recipe-report``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hodor.training.recipe_report import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
