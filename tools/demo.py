#!/usr/bin/env python
"""Interactive browser demo: upload a clip, paint or upload masks, propagate, correct, download.

    python tools/demo.py --weights model_final.pth [--config-file cfg.yaml] [--port 7860] [KEY VALUE ...]

Needs ``pip install -e ".[demo]"``. See hodor/demo/cli.py for the options and hodor/demo/app.py for the HTTP API.
"""

import sys

from hodor.demo.cli import main

if __name__ == "__main__":
    sys.exit(main())
