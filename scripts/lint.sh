#!/usr/bin/env bash
# The exact lint/format checks CI runs. Fix automatically with: scripts/lint.sh --fix
set -euo pipefail
cd "$(dirname "$0")/.."
RUFF=.venv/bin/ruff
if [ "${1:-}" = "--fix" ]; then
    "$RUFF" check --fix .
    "$RUFF" format .
else
    "$RUFF" check .
    "$RUFF" format --check .
fi
