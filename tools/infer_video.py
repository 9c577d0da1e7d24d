#!/usr/bin/env python
"""Segment objects in your own video (frame folder or video file) from annotated frames.

    python tools/infer_video.py clip.mp4 --mask 0:first.png [--mask 12:later.png] --output out/clip \
        [--config-file cfg.yaml] MODEL.WEIGHTS model_final.pth [KEY VALUE ...]

See hodor/cli/infer_video.py for the options; exit status 2 = bad input (message names the file).
"""

import sys

from hodor.cli.infer_video import main

if __name__ == "__main__":
    sys.exit(main())
