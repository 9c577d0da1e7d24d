"""The CLI tests share the inference tests' tiny model (one definition of the tiny architecture)."""

from tests.inference.conftest import tiny_cfg, tiny_model  # noqa: F401  (fixtures)
