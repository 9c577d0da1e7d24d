"""Fixtures of the reliability tests: one tiny synthetic dataset root for the whole package."""

import pytest


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    from hodor.data.synthetic import make_all

    root = tmp_path_factory.mktemp("reliability_data")
    make_all(str(root), preset="tiny")
    return root
