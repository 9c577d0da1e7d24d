"""Name -> object registries for backbones, datasets, training regimes and parity cases.

Configs refer to components by name; a registry turns the name into the class or function
and, for a wrong name, says which names exist (and which is closest).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .errors import UserError

T = TypeVar("T")


class UnknownNameError(UserError, KeyError):
    """A config names a component that is not registered (a typo, usually); the message lists the
    names that exist and the closest one. A ``KeyError`` for code that catches lookups, but printed
    as a plain sentence (``KeyError`` would print the message quoted)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Registry:
    """A named mapping from strings to objects, filled with the ``register`` decorator."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._objects: dict[str, Any] = {}

    def register(self, name: str | None = None, obj: Any = None) -> Any:
        """``@REG.register()``, ``@REG.register("name")`` or ``REG.register("name", obj)``."""
        if obj is not None:
            self._add(name or obj.__name__, obj)
            return obj

        def deco(fn: T) -> T:
            self._add(name or fn.__name__, fn)  # type: ignore[attr-defined]
            return fn

        return deco

    def _add(self, name: str, obj: Any) -> None:
        if name in self._objects:
            raise KeyError(f"{self.name} registry: '{name}' is already registered")
        self._objects[name] = obj

    def get(self, name: str) -> Any:
        if name not in self._objects:
            close = difflib.get_close_matches(name, list(self._objects), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            available = ", ".join(sorted(self._objects)) or "(none registered)"
            raise UnknownNameError(f"No {self.name} named '{name}'. Available: {available}.{hint}")
        return self._objects[name]

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Look up ``name`` and call it with the given arguments."""
        fn: Callable[..., Any] = self.get(name)
        return fn(*args, **kwargs)

    def names(self) -> list[str]:
        return sorted(self._objects)

    def __contains__(self, name: object) -> bool:
        return name in self._objects

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(sorted(self._objects.items()))

    def __len__(self) -> int:
        return len(self._objects)

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {self.names()})"
