"""Shared fixtures of the modeling tests."""

import importlib.util
import json
import os

import pytest

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "hodor_parity")


@pytest.fixture(scope="session")
def original_sd():
    """The parity fixture's synthetic original-HODOR weights, regenerated with its make_weights.py."""
    spec = importlib.util.spec_from_file_location("hodor_parity_make_weights", os.path.join(FIXTURE, "make_weights.py"))
    make_weights = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_weights)
    with open(os.path.join(FIXTURE, "manifest.json")) as fh:
        manifest = json.load(fh)
    with open(os.path.join(FIXTURE, "cases.json")) as fh:
        seed = json.load(fh)["seed"]
    return make_weights.build_state_dict(manifest, seed)
