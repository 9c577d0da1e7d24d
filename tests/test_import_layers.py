"""The import graph of ``hodor/``: no circles, and no import from a lower package to a higher one.

Every ``import`` statement counts, at module level, inside functions and under
``TYPE_CHECKING`` alike: a lazy import is still an arrow. The graph is read from the source with
``ast`` (nothing is imported), so the test also sees imports on paths no other test runs.
"""

from __future__ import annotations

import ast
import os

import pytest

HODOR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hodor")

# The floors of the house, ground first. A module may import from its own package and from
# packages on lower floors; packages on the same floor do not import each other. A package is
# named by its longest prefix here. hodor.checkpoint sits above modeling: it maps upstream and
# pretrained key layouts with modeling's key tables, and modeling reads no weight file.
LAYERS: list[list[str]] = [
    ["hodor"],  # the package face and hodor._moved (old import paths, resolved from strings)
    ["hodor.utils"],
    ["hodor.config"],
    ["hodor.structures"],
    ["hodor.solver", "hodor.evaluation"],
    ["hodor.modeling"],
    ["hodor.data", "hodor.checkpoint"],
    ["hodor.engine", "hodor.inference"],
    ["hodor.training"],  # HODOR's method on the generic engine; its in-training evaluation runs inference
    ["hodor.parity", "hodor.export"],  # export: the streaming predictor's networks as ONNX graphs
    ["hodor.api"],  # the Python API (load_predictor, propagate) over inference and checkpoint
    ["hodor.cli", "hodor.demo"],  # entry points: command lines and the browser demo
]
FLOOR = {pkg: i for i, floor in enumerate(LAYERS) for pkg in floor}


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, os.path.dirname(HODOR))[: -len(".py")].split(os.sep)
    return ".".join(rel[:-1] if rel[-1] == "__init__" else rel)


def _modules() -> dict[str, str]:
    out = {}
    for root, _, files in os.walk(HODOR):
        for f in files:
            if f.endswith(".py"):
                out[_module_name(os.path.join(root, f))] = os.path.join(root, f)
    return out


def _imports(name: str, path: str, known: set[str]) -> set[str]:
    """hodor modules that ``name`` imports (a ``from pkg import sub`` names the submodule)."""
    is_pkg = path.endswith("__init__.py")
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "hodor"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "hodor":
                continue
            subs = {f"{target}.{a.name}" for a in node.names} & known
            found |= subs or {target}
    found = {m for m in found if m in known}
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path, set(mods)) for name, path in mods.items()}


def _package(module: str) -> str:
    best = max((p for p in FLOOR if module == p or module.startswith(p + ".")), key=len)
    return best


def test_every_package_has_a_floor():
    packages = {d for d in os.listdir(HODOR) if os.path.isfile(os.path.join(HODOR, d, "__init__.py"))}
    unplaced = sorted(d for d in packages if _package(f"hodor.{d}") == "hodor")
    assert unplaced == [], f"packages missing from LAYERS: {unplaced}"


def test_no_import_runs_up_or_sideways():
    bad = []
    for src, targets in _graph().items():
        a = _package(src)
        for dst in targets:
            b = _package(dst)
            if a != b and FLOOR[b] >= FLOOR[a]:
                bad.append(f"{src} (floor {FLOOR[a]}) -> {dst} (floor {FLOOR[b]})")
    assert bad == [], "imports against the layering:\n" + "\n".join(sorted(bad))


def test_no_import_circles():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n) :] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert cycles == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("leaf", ["hodor.evaluation", "hodor.data"])
def test_evaluation_and_data_import_nothing_from_inference_or_engine(leaf):
    graph = _graph()
    bad = [
        f"{src} -> {dst}"
        for src, targets in graph.items()
        if _package(src) == leaf
        for dst in targets
        if _package(dst) in ("hodor.inference", "hodor.engine", "hodor.training", "hodor.cli")
    ]
    assert bad == []
