#!/usr/bin/env bash
# One command from a fresh clone to a passing test suite: sets up .venv if needed, runs pytest.
# Extra arguments go to pytest (e.g. scripts/run_tests.sh -k config).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
set +e
.venv/bin/python -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "[run_tests] pytest collected no tests: treating as a failure" >&2
    exit 1
fi
exit "$rc"
