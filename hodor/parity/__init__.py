"""Parity checks against golden outputs of the original HODOR (tests/fixtures/hodor_parity).

A *case* is a named check registered in :data:`PARITY_CASES` by a module of this package:
``cases_abc.py`` (backbone, encoder, decoder), and -- written separately -- ``case_d.py``
(training forward/loss/gradients) and ``case_e.py`` (video inference). A case module does::

    from hodor.parity import ParityCase, register_case, compare_float

    def _present(ctx): return any(k.startswith("d_") for k in ctx.expected.files)
    def _run(ctx): ... return [compare_float("d_even_loss", got, ctx.expected["d_even_loss"]), ...]
    register_case(ParityCase("d", "training forward and loss", _present, _run))

and the runner (hodor/parity/runner.py) imports it if it exists. ``ctx`` is a
:class:`ParityContext`: fixture arrays, cases.json, and the model with the fixture's weights
(converted with our converter, eval mode). Tolerances follow the fixture README
("Recommended tolerances"); the comparison helpers below implement them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..utils.registry import Registry

PARITY_CASES = Registry("parity case")

# Recommended tolerances of the fixture README.
FLOAT_RTOL = 1e-4  # max|a-b| <= 1e-4 * max(1, max|ref|)
LOSS_RTOL = 1e-5  # |a-b| <= 1e-5 * |ref|
GRAD_RTOL = 1e-2  # max|a-b| <= 1e-2 * max|ref|
MASK_MIN_EQUAL = 0.999  # fraction of equal pixels per frame


@dataclass
class ArrayCheck:
    """Result of comparing one array."""

    name: str
    error: float  # the measured quantity (relative error, or fraction of unequal entries)
    tol: float
    passed: bool
    kind: str = "rel"  # rel | loss | grad | exact | fraction
    note: str = ""

    def line(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        what = {
            "rel": "max rel err",
            "loss": "rel err",
            "grad": "max err / max|ref|",
            "exact": "unequal",
            "fraction": "min equal frac",
        }[self.kind]
        extra = f"  ({self.note})" if self.note else ""
        return f"    {self.name:<48s} {what} {self.error:.3e}  tol {self.tol:.1e}  {status}{extra}"


@dataclass
class ParityCase:
    """A registered case: ``present(ctx)`` says whether the fixture holds it, ``run(ctx)`` checks it."""

    name: str
    description: str
    present: Callable[[ParityContext], bool]
    run: Callable[[ParityContext], list[ArrayCheck]]


def register_case(case: ParityCase) -> ParityCase:
    PARITY_CASES.register(case.name, case)
    return case


@dataclass
class ParityContext:
    """Everything a case needs. ``model`` is built lazily by the runner (see ``get_model``)."""

    fixture_dir: str
    cases: dict
    inputs: Any  # np.lib.npyio.NpzFile
    expected: Any
    device: str = "cpu"
    model_factory: Callable[[], Any] | None = None
    _model: Any = field(default=None, repr=False)

    @classmethod
    def from_dir(cls, fixture_dir: str, device: str = "cpu") -> ParityContext:
        def need(name: str) -> str:
            p = os.path.join(fixture_dir, name)
            if not os.path.isfile(p):
                raise FileNotFoundError(f"{fixture_dir}: parity fixture lacks {name}")
            return p

        with open(need("cases.json"), encoding="utf-8") as fh:
            cases = json.load(fh)
        return cls(fixture_dir, cases, np.load(need("inputs.npz")), np.load(need("expected.npz")), device)

    @property
    def model(self):
        if self._model is None:
            if self.model_factory is None:
                raise RuntimeError("ParityContext has no model factory")
            self._model = self.model_factory()
        return self._model

    def tensor(self, key: str, source: str = "inputs"):
        """An input (or expected) array as a torch tensor on the context's device."""
        import torch

        arr = (self.inputs if source == "inputs" else self.expected)[key]
        return torch.from_numpy(np.ascontiguousarray(arr)).to(self.device)

    def has(self, *keys: str) -> bool:
        files = set(self.inputs.files) | set(self.expected.files)
        return all(k in files for k in keys)


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _shape_check(name: str, got: np.ndarray, ref: np.ndarray, kind: str, tol: float) -> ArrayCheck | None:
    if got.shape != ref.shape:
        return ArrayCheck(
            name, float("inf"), tol, False, kind, f"shape {list(got.shape)} != expected {list(ref.shape)}"
        )
    return None


def compare_float(name: str, got, ref, tol: float = FLOAT_RTOL) -> ArrayCheck:
    """max|a-b| / max(1, max|ref|) <= tol (float64 arithmetic). Non-finite values must coincide."""
    a, b = _np(got).astype(np.float64), _np(ref).astype(np.float64)
    bad = _shape_check(name, a, b, "rel", tol)
    if bad:
        return bad
    fin_a, fin_b = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fin_a, fin_b) or not np.array_equal(a[~fin_b], b[~fin_b]):
        return ArrayCheck(name, float("inf"), tol, False, "rel", "non-finite entries differ")
    if not fin_b.any():
        return ArrayCheck(name, 0.0, tol, True, "rel")
    scale = max(1.0, float(np.abs(b[fin_b]).max()))
    err = float(np.abs(a[fin_b] - b[fin_b]).max()) / scale if a[fin_b].size else 0.0
    return ArrayCheck(name, err, tol, err <= tol, "rel")


def compare_loss(name: str, got, ref, tol: float = LOSS_RTOL) -> ArrayCheck:
    """Element-wise |a-b| <= tol * |ref|; reports max |a-b| / |ref|."""
    a, b = _np(got).astype(np.float64), _np(ref).astype(np.float64)
    bad = _shape_check(name, a, b, "loss", tol)
    if bad:
        return bad
    diff = np.abs(a - b)
    ok = bool(np.all(diff <= tol * np.abs(b)))
    err = float(np.max(diff / np.maximum(np.abs(b), 1e-30))) if b.size else 0.0
    return ArrayCheck(name, err, tol, ok, "loss")


def compare_grad(name: str, got, ref, tol: float = GRAD_RTOL) -> ArrayCheck:
    """max|a-b| <= tol * max|ref|."""
    a, b = _np(got).astype(np.float64), _np(ref).astype(np.float64)
    bad = _shape_check(name, a, b, "grad", tol)
    if bad:
        return bad
    scale = float(np.abs(b).max()) if b.size else 0.0
    diff = float(np.abs(a - b).max()) if b.size else 0.0
    err = diff / scale if scale > 0 else diff
    return ArrayCheck(name, err, tol, diff <= tol * scale if scale > 0 else diff == 0, "grad")


def compare_exact(name: str, got, ref) -> ArrayCheck:
    """Bit-equal values (index arrays, booleans); reports the fraction of unequal entries."""
    a, b = _np(got), _np(ref)
    bad = _shape_check(name, a, b, "exact", 0.0)
    if bad:
        return bad
    frac = float(np.mean(a != b)) if b.size else 0.0
    return ArrayCheck(name, frac, 0.0, frac == 0.0, "exact")


def compare_fraction_equal(name: str, got, ref, min_equal: float = MASK_MIN_EQUAL) -> ArrayCheck:
    """Per leading index (frame), the fraction of equal entries must be >= min_equal; reports the minimum."""
    a, b = _np(got), _np(ref)
    bad = _shape_check(name, a, b, "fraction", min_equal)
    if bad:
        return bad
    per = (a == b).reshape(a.shape[0], -1).mean(axis=1) if a.ndim > 1 else np.array([(a == b).mean()])
    worst = float(per.min()) if per.size else 1.0
    return ArrayCheck(name, worst, min_equal, worst >= min_equal, "fraction")


__all__ = [
    "FLOAT_RTOL",
    "GRAD_RTOL",
    "LOSS_RTOL",
    "MASK_MIN_EQUAL",
    "PARITY_CASES",
    "ArrayCheck",
    "ParityCase",
    "ParityContext",
    "compare_exact",
    "compare_float",
    "compare_fraction_equal",
    "compare_grad",
    "compare_loss",
    "register_case",
]
