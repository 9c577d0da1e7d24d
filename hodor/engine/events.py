"""Per-iteration scalars shared between the training step and the writer hooks."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from statistics import median


class EventStorage:
    """Scalars of the current iteration plus a short history for smoothed console output.

    The step puts values (``put_scalar``); writer hooks read ``latest()`` (value of the last
    iteration that reported each name) and ``smoothed(name)`` (median over a window).
    """

    def __init__(self, window: int = 20) -> None:
        self.iter = 0
        self.window = int(window)  # iterations in the median of smoothed() (named in the log line)
        self._latest: dict[str, tuple[float, int]] = {}
        self._history: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=window))

    def put_scalar(self, name: str, value: float) -> None:
        value = float(value)
        self._latest[name] = (value, self.iter)
        if math.isfinite(value):
            self._history[name].append(value)

    def put_scalars(self, **kwargs: float) -> None:
        for k, v in kwargs.items():
            self.put_scalar(k, v)

    def latest(self) -> dict[str, tuple[float, int]]:
        """name -> (value, iteration it was reported at)."""
        return dict(self._latest)

    def smoothed(self, name: str) -> float:
        hist = self._history.get(name)
        return median(hist) if hist else float("nan")
