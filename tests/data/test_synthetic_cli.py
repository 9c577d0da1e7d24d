"""datasets/make_synthetic.py on an existing folder: a one-line error and exit status 2, no traceback."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_existing_folder_without_overwrite(tmp_path):
    cmd = [sys.executable, os.path.join(REPO, "datasets", "make_synthetic.py"), "--out", str(tmp_path / "s")]
    cmd += ["--preset", "tiny", "--layouts", "davis", "--davis-train", "0", "--davis-val", "1", "--davis-frames", "3"]
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}
    assert subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300).returncode == 0
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 2
    assert again.stderr.startswith("error: ") and "--overwrite" in again.stderr and "Traceback" not in again.stderr
