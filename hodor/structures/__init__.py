"""Types that cross package borders: the training batch (data -> training) and shared constants.

Lives below ``data``, ``training`` and ``inference`` so each can name these types without
importing the others.
"""

from .batch import ClipBatch, ClipSample, collate_clips
from .protocols import ResumableLoader

__all__ = ["ClipBatch", "ClipSample", "ResumableLoader", "collate_clips"]
