#!/usr/bin/env python
"""Pseudo-label a video dataset's unlabelled frames with a trained checkpoint.

    python tools/pseudo_label.py --weights CKPT --dataset youtube_vos_2019_train --out out/pseudo [KEY VALUE ...]

See hodor/cli/pseudo_label.py for the options; the folder reads back as the dataset ``pseudo:DIR``.
"""

import sys

from hodor.cli.pseudo_label import main

if __name__ == "__main__":
    sys.exit(main())
