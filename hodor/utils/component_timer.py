"""Per-component wall time of a model, measured with forward hooks (no change to the model code).

Why hooks: the benchmark has to time the real ``VideoPredictor`` and the real training regimes,
not a copy of their loops. A forward pre-hook and a forward hook on each named submodule record a
timestamp (``time.perf_counter`` on the CPU, a CUDA event on a GPU, so asynchronous kernels are
attributed to the module that launched them); ``mark`` adds the boundaries of an outer region
(one predictor step, one backward pass). ``resolve`` turns all of it into intervals in seconds.

Nested modules (``backbone`` and ``backbone.trunk``) are both timed; a component's time is
inclusive of its children. Time inside a region that falls in no hooked module is attributed by
the caller (e.g. "before the backbone" = pre-processing).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Interval:
    name: str
    start: float  # seconds since the timer's origin
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


class ComponentTimer:
    """Records forward intervals of ``modules`` (name -> module) and named marks.

    Use ``with timer:`` (or ``attach`` / ``detach``) to install the hooks; call ``resolve`` once
    the region of interest is finished (it synchronises CUDA). Re-entrant calls of the same module
    (a module calling itself) are not supported and raise.
    """

    def __init__(
        self, modules: Mapping[str, nn.Module], device: torch.device | str = "cpu", clock: str = "wall"
    ) -> None:
        if clock not in ("wall", "cpu"):
            raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
        self.modules = dict(modules)
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        # "cpu": process CPU seconds (time.process_time). On a machine shared with other jobs this
        # measures the work done rather than the wait for a core; with one thread it equals the wall
        # time of an idle machine, with N threads it sums them.
        self._clock = time.process_time if clock == "cpu" else time.perf_counter
        self._handles: list = []
        self._open: dict[str, object] = {}
        self._events: list[tuple[str, object, object]] = []
        self._origin = self._now()

    def _now(self):
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            return ev
        return self._clock()

    def _seconds(self, stamp) -> float:
        if self.cuda:
            return self._origin.elapsed_time(stamp) / 1000.0  # type: ignore[union-attr]
        return float(stamp) - float(self._origin)  # type: ignore[arg-type]

    def attach(self) -> None:
        for name, mod in self.modules.items():
            self._handles.append(mod.register_forward_pre_hook(self._pre(name)))
            self._handles.append(mod.register_forward_hook(self._post(name), always_call=True))

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __enter__(self) -> ComponentTimer:
        self.attach()
        return self

    def __exit__(self, *exc) -> None:
        self.detach()

    def _pre(self, name: str):
        def hook(module, args):
            if name in self._open:
                raise RuntimeError(f"re-entrant call of {name} is not supported by ComponentTimer")
            self._open[name] = self._now()

        return hook

    def _post(self, name: str):
        def hook(module, args, output):
            start = self._open.pop(name, None)
            if start is not None:
                self._events.append((name, start, self._now()))

        return hook

    def begin(self, name: str) -> None:
        """Start an outer region (not a module), e.g. "step" or "backward"."""
        self._pre(name)(None, None)

    def end(self, name: str) -> None:
        self._post(name)(None, None, None)

    def resolve(self) -> list[Interval]:
        """All finished intervals so far (seconds from the origin), and forget them."""
        if self.cuda:
            torch.cuda.synchronize(self.device)
        out = [Interval(n, self._seconds(a), self._seconds(b)) for n, a, b in self._events]
        self._events.clear()
        return out


def totals(intervals: list[Interval]) -> dict[str, float]:
    """Sum of seconds per name."""
    acc: dict[str, float] = {}
    for iv in intervals:
        acc[iv.name] = acc.get(iv.name, 0.0) + iv.seconds
    return acc


def uncovered(region: Interval, inner: list[Interval], before: float | None = None) -> float:
    """Seconds of ``region`` covered by none of ``inner`` (optionally only up to time ``before``)."""
    end = region.end if before is None else min(region.end, before)
    spans = sorted((max(iv.start, region.start), min(iv.end, end)) for iv in inner)
    covered, cursor = 0.0, region.start
    for a, b in spans:
        a = max(a, cursor)
        if b <= a:
            continue
        covered += b - a
        cursor = b
    return max(end - region.start - covered, 0.0)
