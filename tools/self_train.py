#!/usr/bin/env python
"""Rounds of pseudo-labelling and self-training, each starting from the previous round's model.

    python tools/self_train.py --config-file configs/quickstart/self_training_r18.yaml \
        --weights out/sparse/model_final.pth --out out/self_training [KEY VALUE ...]

See hodor/cli/self_train.py; running the same command again continues an interrupted run.
"""

import sys

from hodor.cli.self_train import main

if __name__ == "__main__":
    sys.exit(main())
