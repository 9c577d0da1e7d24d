"""Typed seams between packages: what the training loop needs from the data side.

The data package implements them (:class:`hodor.data.build.TrainLoader`), the engine consumes
them (:class:`hodor.engine.trainer.Trainer`); neither imports the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from .batch import ClipBatch


@runtime_checkable
class ResumableLoader(Protocol):
    """An endless stream of batches whose position is saved in checkpoints and restored on resume.

    ``state_dict`` must describe the batches *consumed* so far (not those prefetched), as plain
    Python / tensor data that ``torch.load(weights_only=True)`` reads back.
    """

    def __iter__(self) -> Iterator[ClipBatch]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
