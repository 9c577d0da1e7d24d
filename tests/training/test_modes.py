"""One registration per TRAINING.MODE: regime, data kind and mapper come from the same entry."""

from __future__ import annotations

import pytest

from hodor.config import load_config
from hodor.data.clips import PseudoClipMapper, VideoClipMapper
from hodor.data.self_training_clips import SelfTrainingClipMapper
from hodor.training.modes import MODES, TrainingMode, build_regime, build_train_data, get_mode, register_mode
from hodor.training.regimes import DenseVideoRegime, SelfTrainingRegime, SparseVideoRegime, StaticImageRegime
from hodor.utils.registry import UnknownNameError

# The original HODOR's three training modes (hodor-reference §2.3, §2.6): static images become
# dense pseudo-clips; dense video has ground truth on every clip frame; sparse video only on the
# reference frame, and only predictions that return to it are supervised.
EXPECTED = {
    "static_image": ("image", PseudoClipMapper, False, StaticImageRegime),
    "dense_video": ("video", VideoClipMapper, False, DenseVideoRegime),
    "sparse_video": ("video", VideoClipMapper, True, SparseVideoRegime),
    # beyond the paper (issue 18): sparse-video clips whose unlabelled frames take pseudo-labels
    "self_training": ("video", SelfTrainingClipMapper, True, SelfTrainingRegime),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_mode_registers_regime_kind_and_mapper_together(name):
    kind, mapper_type, sparse, regime_type = EXPECTED[name]
    cfg = load_config(None, ["TRAINING.MODE", name])
    mode = get_mode(cfg)
    assert mode is get_mode(name) and mode.name == name and mode.data_kind == kind
    mapper = mode.build_mapper(cfg)
    assert type(mapper) is mapper_type and mapper.sparse is sparse
    regime = build_regime(cfg)
    assert type(regime) is regime_type
    assert regime.supervise_only_reference is (sparse and name == "sparse_video")


def test_registered_modes_are_exactly_the_four():
    assert MODES.names() == sorted(EXPECTED)


def test_unknown_mode_lists_the_registered_modes():
    cfg = load_config(None, ["TRAINING.MODE", "static_imag"])
    for build in (build_regime, build_train_data):
        with pytest.raises(UnknownNameError) as e:
            build(cfg)
        msg = str(e.value)
        assert "No training mode named 'static_imag'" in msg
        assert (
            "Available: dense_video, self_training, sparse_video, static_image." in msg
            and "Did you mean 'static_image'?" in msg
        )


def test_a_mode_is_registered_once_and_with_a_known_data_kind():
    with pytest.raises(KeyError, match="already registered"):
        register_mode(TrainingMode("static_image", StaticImageRegime.from_config, "image", PseudoClipMapper))
    with pytest.raises(ValueError, match="data_kind must be one of"):
        TrainingMode("audio", StaticImageRegime.from_config, "audio", PseudoClipMapper)  # type: ignore[arg-type]


def test_old_build_regime_paths_serve_the_one_in_modes():
    import hodor.engine.regimes as old_module

    import hodor.training.regimes as regimes

    assert regimes.build_regime is build_regime and old_module.build_regime is build_regime
