#!/usr/bin/env bash
# The quick-start job: sets up .venv if needed, then runs tools/quickstart.py (synthetic data ->
# static-image training -> J&F vs baseline -> sparse-video fine-tuning -> J&F). Arguments go to
# tools/quickstart.py (e.g. --seed 1 --out output/qs1, or --fast for a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python tools/quickstart.py "$@"
