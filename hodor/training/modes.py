"""Training modes: the one registration of each ``TRAINING.MODE``.

A mode ties together what used to be keyed by the mode name in three separate tables: the
regime that computes a training step, the kind of data it trains on (``"image"`` datasets or
``"video"`` datasets) and the mapper that turns a dataset record into a clip. Registering all
three at once means a new mode cannot be half-added (a regime without a mapper, a mapper on the
wrong kind of data), and the data package, which sits below training, never looks a mode up: the
caller hands ``build_train_loader`` the mapper and the data kind (``build_train_data`` here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from ..config import CfgNode
from ..data.augment import AugConfig
from ..data.build import DATA_KINDS, DataKind, TrainLoader, build_train_loader
from ..data.clips import ClipMapper, ClipParams, PseudoClipMapper, VideoClipMapper
from ..data.self_training_clips import SelfTrainingClipMapper
from ..utils.registry import Registry
from .regimes import ClipRegime, DenseVideoRegime, SelfTrainingRegime, SparseVideoRegime, StaticImageRegime

__all__ = ["MODES", "TrainingMode", "build_regime", "build_train_data", "get_mode", "register_mode"]


@dataclass(frozen=True)
class TrainingMode:
    """One ``TRAINING.MODE``: its regime, its data kind and its mapper.

    Attributes:
        name: the ``TRAINING.MODE`` string.
        regime: config -> the regime that runs one training step (usually a ``ClipRegime.from_config``).
        data_kind: ``"image"`` or ``"video"``: which registered datasets the mode can train on.
        make_mapper: (clip settings, augmentation settings) -> the record -> ``ClipSample`` mapper.
    """

    name: str
    regime: Callable[[CfgNode], ClipRegime]
    data_kind: DataKind
    make_mapper: Callable[[ClipParams, AugConfig], ClipMapper]

    def __post_init__(self) -> None:
        if self.data_kind not in DATA_KINDS:
            raise ValueError(
                f"training mode {self.name!r}: data_kind must be one of {DATA_KINDS}, got {self.data_kind!r}"
            )

    def build_regime(self, cfg: CfgNode) -> ClipRegime:
        return self.regime(cfg)

    def build_mapper(self, cfg: CfgNode) -> ClipMapper:
        """The mapper with the config's TRAINING.* / INPUT.* clip and augmentation settings."""
        return self.make_mapper(ClipParams.from_config(cfg), AugConfig.from_config(cfg))


MODES = Registry("training mode")
MODES.__doc__ = "TRAINING.MODE -> TrainingMode (regime, data kind, mapper)."


def register_mode(mode: TrainingMode) -> TrainingMode:
    """Add ``mode`` under ``mode.name`` (a name registered twice is an error)."""
    return MODES.register(mode.name, mode)


def get_mode(name_or_cfg: str | CfgNode) -> TrainingMode:
    """The mode of a name or of a config's TRAINING.MODE; an unknown name raises
    :class:`~hodor.utils.registry.UnknownNameError` listing the registered modes."""
    name = name_or_cfg if isinstance(name_or_cfg, str) else name_or_cfg.TRAINING.MODE
    return MODES.get(name)


def build_regime(cfg: CfgNode) -> ClipRegime:
    """The regime of the config's TRAINING.MODE."""
    return get_mode(cfg).build_regime(cfg)


def build_train_data(
    cfg: CfgNode,
    samples_per_forward: int | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    start: int | dict = 0,
) -> TrainLoader:
    """The training loader of the config's datasets for its TRAINING.MODE (per-forward ClipBatches
    forever, resumable); the arguments are those of :func:`hodor.data.build_train_loader`."""
    mode = get_mode(cfg)
    return build_train_loader(
        cfg,
        mode.build_mapper(cfg),
        mode.data_kind,
        rank=rank,
        world_size=world_size,
        start=start,
        samples_per_forward=samples_per_forward,
    )


register_mode(TrainingMode("static_image", StaticImageRegime.from_config, "image", PseudoClipMapper))
register_mode(
    TrainingMode("dense_video", DenseVideoRegime.from_config, "video", partial(VideoClipMapper, sparse=False))
)
register_mode(
    TrainingMode("sparse_video", SparseVideoRegime.from_config, "video", partial(VideoClipMapper, sparse=True))
)
register_mode(TrainingMode("self_training", SelfTrainingRegime.from_config, "video", SelfTrainingClipMapper))
