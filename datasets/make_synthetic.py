"""Write the synthetic COCO / DAVIS / YouTube-VOS datasets used by the tests and the quick start.

    python datasets/make_synthetic.py --out datasets/synthetic --preset quickstart --seed 0
    python datasets/make_synthetic.py --out /tmp/syn --preset tiny --layouts davis --davis-val 3

See ``hodor/data/synthetic.py`` for what is generated; ``--help`` lists every flag.
"""

import os
import sys

if __name__ == "__main__":
    # run from a checkout without installing: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from hodor.data.synthetic import cli

    if status := cli():  # bad arguments: one message, exit 2 (--debug for the traceback)
        sys.exit(status)
