#!/usr/bin/env bash
# Create .venv (if absent) with the pinned torch stack and hodor installed in editable mode.
# Re-running is cheap: the install is skipped while setup.py and constraints.txt are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "[setup_env] creating .venv with $($PY --version)"
    "$PY" -m venv .venv
fi
STAMP=.venv/.hodor-install-stamp
WANT=$(cat setup.py constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
    echo "[setup_env] installing torch stack + hodor (pinned by constraints.txt)"
    .venv/bin/python -m pip install -q --upgrade pip
    # torch first, pinned: nothing later may replace it with another build.
    .venv/bin/python -m pip install -q -c constraints.txt torch torchvision
    # the export extra (onnx, onnxscript, onnxruntime) too: the test suite checks the ONNX export.
    .venv/bin/python -m pip install -q -c constraints.txt -e ".[dev,export]"
    # the browser demo and its tests (tests/demo); chromium itself comes from .ci/run (apt)
    .venv/bin/python -m pip install -q -c constraints.txt -e ".[demo,demo-test]"
    echo "$WANT" > "$STAMP"
fi
.venv/bin/python -c "import torch, torchvision, timm, hodor; print('[setup_env] torch', torch.__version__, 'torchvision', torchvision.__version__, 'timm', timm.__version__, 'hodor', hodor.__version__)"
