#!/usr/bin/env python
"""Export a HODOR checkpoint to ONNX graphs + manifest.json (needs the export extra).

    python tools/export_onnx.py --weights model_final.pth --out export/ [--config-file cfg.yaml] \
        [--opset 18] [--precision fp32|fp16] [KEY VALUE ...]

See hodor/export/cli.py; exit status 2 = bad input (the message names the file).
"""

import sys

from hodor.export.cli import main

if __name__ == "__main__":
    sys.exit(main())
