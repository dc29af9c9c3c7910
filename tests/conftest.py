"""Shared test configuration: reproducible seeds and a deterministic hypothesis profile."""

import logging
import random

import numpy as np
import pytest
from hypothesis import settings

# Deterministic example generation so CI runs are reproducible; no deadline because the
# first call of a Numba kernel in a process may load its cache.
settings.register_profile("grokphase", deadline=None, derandomize=True, max_examples=40,
                          print_blob=True)
settings.load_profile("grokphase")

SEED = 20261122


@pytest.fixture(autouse=True)
def _global_seed():
    """Seed Python's and NumPy's global generators before every test."""
    random.seed(SEED)
    np.random.seed(SEED % 2**32)
    yield


@pytest.fixture(autouse=True)
def _package_logging():
    """Restore the ``grokphase`` logger after every test: a CLI test (``main`` calls
    ``configure_logging``) must not leave a stderr handler that writes into later tests' output."""
    log = logging.getLogger("grokphase")
    handlers, level = list(log.handlers), log.level
    yield
    log.handlers[:] = handlers
    log.setLevel(level)


@pytest.fixture
def rng():
    """A fresh seeded Generator for tests that draw random numbers."""
    return np.random.default_rng(SEED)
