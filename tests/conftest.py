"""Shared pytest setup: the ``gpu`` marker is skipped automatically without CUDA."""

import os

import pytest
import torch

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA (no GPU on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def _deterministic_threads():
    """Keep tests reproducible and polite on 2-core CI machines."""
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield
