"""Uncertainty decomposition against closed forms."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grokphase.validation import uncertainty_decomposition


def test_agreeing_samples_have_zero_eu():
    p = np.tile(np.array([0.2, 0.5, 0.3]), (7, 4, 1))
    tu, au, eu = uncertainty_decomposition(p)
    assert tu.shape == (4,) and np.allclose(eu, 0.0, atol=1e-15)
    assert tu[0] == pytest.approx(-(0.2 * math.log(0.2) + 0.5 * math.log(0.5) + 0.3 * math.log(0.3)))


def test_confident_disagreeing_samples_give_eu_log_k():
    """Each of K samples puts all mass on a different class: AU = 0 (safe at p = 0), TU = EU = log K."""
    K = 5
    tu, au, eu = uncertainty_decomposition(np.eye(K)[:, None, :])
    assert au[0] == 0.0 and tu[0] == pytest.approx(math.log(K)) and eu[0] == pytest.approx(math.log(K))


@given(st.integers(2, 6), st.integers(2, 5), st.integers(0, 10_000))
def test_bounds(S, K, seed):
    p = np.random.default_rng(seed).dirichlet(np.ones(K) * 0.3, size=(S, 3))
    tu, au, eu = uncertainty_decomposition(p)
    assert np.all(eu >= 0) and np.all(tu <= math.log(K) + 1e-12) and np.allclose(tu, au + eu)


def test_invalid_input():
    with pytest.raises(ValueError, match="probs"):
        uncertainty_decomposition(np.array([[0.5, 0.6]]))
