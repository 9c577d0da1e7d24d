#!/usr/bin/env python
"""Train HODOR from a config (static images, sparse or dense video).

    python tools/train_net.py --config-file configs/static_image/coco_swin_t.yaml OUTPUT_DIR out/coco
    python tools/train_net.py --config-file configs/static_image/coco_swin_t.yaml --resume OUTPUT_DIR out/coco
    torchrun --nproc_per_node 4 tools/train_net.py --config-file configs/video/sparse_swin_t.yaml \\
        MODEL.WEIGHTS out/coco/model_final.pth OUTPUT_DIR out/sparse

Trailing KEY VALUE pairs override config keys. The same entry point is installed as the
``hodor-train`` console script (hodor.cli.train:train_main).
"""

import sys

from hodor.cli.train import train_main

if __name__ == "__main__":
    sys.exit(train_main())
