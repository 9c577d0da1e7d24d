#!/usr/bin/env python
"""Evaluate video object segmentation predictions on DAVIS 2017 (official-toolkit numbers).

    python tools/eval_vos.py --davis-root datasets/DAVIS --results out/results [--set val] [--out DIR] [--workers N]

See hodor/cli/eval_vos.py for the options; exit status 2 means the predictions could not be
evaluated (the message names the sequence and frame) and no CSV was written.
"""

import sys

from hodor.cli.eval_vos import main

if __name__ == "__main__":
    sys.exit(main())
