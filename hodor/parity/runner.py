"""Run the parity cases of a fixture directory against our model.

Steps: read ``cases.json`` (seed), regenerate the original-layout weights with the fixture's own
``make_weights.py`` (run as a subprocess, so nothing of it is imported here) and check their
digest against ``cases.json``, convert them with our converter, build and strictly load the
model, then run every registered case whose data the fixture holds.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass, field

from . import PARITY_CASES, ArrayCheck, ParityContext

ALL_CASES = ["a", "b", "c", "d", "e"]
# Modules that register cases; absent optional modules mean "not implemented".
CASE_MODULES = {
    "a": "hodor.parity.cases_abc",
    "b": "hodor.parity.cases_abc",
    "c": "hodor.parity.cases_abc",
    "d": "hodor.parity.case_d",
    "e": "hodor.parity.case_e",
}


@dataclass
class CaseResult:
    name: str
    status: str  # PASS | FAIL | SKIP
    checks: list[ArrayCheck] = field(default_factory=list)
    message: str = ""


def import_case_modules() -> dict[str, str]:
    """Import every case module that exists; returns {module: error} for those that failed to import."""
    errors: dict[str, str] = {}
    for mod in sorted(set(CASE_MODULES.values())):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:  # the module exists but one of its imports is missing
                errors[mod] = f"{type(e).__name__}: {e}"
        except Exception as e:  # a broken case module must not hide the others
            errors[mod] = f"{type(e).__name__}: {e}"
    return errors


def regenerate_weights(fixture_dir: str, out_path: str, seed: int, expected_digest: str | None) -> None:
    """Run the fixture's make_weights.py; raise if it fails or the digest differs from cases.json."""
    script = os.path.join(fixture_dir, "make_weights.py")
    manifest = os.path.join(fixture_dir, "manifest.json")
    for p in (script, manifest):
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{fixture_dir}: parity fixture lacks {os.path.basename(p)}")
    proc = subprocess.run(
        [sys.executable, script, manifest, out_path, "--seed", str(seed)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    m = re.search(r"sha256:\s*([0-9a-f]{64})", proc.stdout)
    if expected_digest and m and m.group(1) != expected_digest:
        raise RuntimeError(f"{script}: regenerated weights digest {m.group(1)} != cases.json {expected_digest}")


def build_fixture_model(weights_path: str, device: str = "cpu"):
    """Original-layout weights -> our converted, strictly loaded HODOR model in eval mode."""
    from ..checkpoint.loading import checkpoint_config, load_model_weights
    from ..modeling import build_model

    model = build_model(checkpoint_config(weights_path))  # the original architecture (convert.original_config)
    load_model_weights(model, weights_path, strict=True)
    return model.to(device).eval()


def _configure_torch(device: str) -> None:
    import torch

    if device.startswith("cuda"):  # TF32 would exceed the tolerances
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def run_parity(
    fixture_dir: str,
    cases: list[str] | None = None,
    require: list[str] | None = None,
    device: str = "cpu",
    log=print,
) -> list[CaseResult]:
    """Run the selected (default: all) cases; a required case that cannot run is a FAIL."""
    selected = list(cases) if cases else list(ALL_CASES)
    required = set(require or [])
    unknown = [c for c in selected + sorted(required) if c not in CASE_MODULES]
    if unknown:
        raise ValueError(f"unknown parity case(s) {unknown}; known: {ALL_CASES}")
    import_errors = import_case_modules()
    _configure_torch(device)
    ctx = ParityContext.from_dir(fixture_dir, device=device)

    with tempfile.TemporaryDirectory(prefix="hodor_parity_") as tmp:
        weights = os.path.join(tmp, "original_weights.pth")

        def factory():
            regenerate_weights(fixture_dir, weights, int(ctx.cases.get("seed", 1234)), ctx.cases.get("weights_sha256"))
            return build_fixture_model(weights, device)

        ctx.model_factory = factory
        results = []
        for name in selected:
            mod = CASE_MODULES[name]
            is_req = name in required
            if mod in import_errors:
                res = CaseResult(name, "FAIL", message=f"case module {mod} failed to import: {import_errors[mod]}")
            elif name not in PARITY_CASES:
                res = CaseResult(name, "FAIL" if is_req else "SKIP", message="not implemented")
            else:
                case = PARITY_CASES.get(name)
                if not case.present(ctx):
                    res = CaseResult(name, "FAIL" if is_req else "SKIP", message="not in this fixture")
                else:
                    try:
                        checks = case.run(ctx)
                        ok = bool(checks) and all(c.passed for c in checks)
                        res = CaseResult(name, "PASS" if ok else "FAIL", checks, "" if checks else "no arrays compared")
                    except Exception as e:
                        res = CaseResult(
                            name, "FAIL", message=f"error: {type(e).__name__}: {e}\n{traceback.format_exc()}"
                        )
            results.append(res)
            log(f"case {name}: {res.status}" + (f" ({res.message.strip()})" if res.message else ""))
            for c in res.checks:
                log(c.line())
    return results
