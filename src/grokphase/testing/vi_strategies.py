"""Hypothesis strategies for the Bayesian linear model under Gaussian VI (``grokphase.linear_vi``).

Every field of ``linear_vi_models`` can be overridden by a strategy or a fixed value; the default
ranges are the model's valid domain (``docs/linear_vi.md``).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from grokphase.testing._fields import field, log_uniform

__all__ = ["aspect_ratios", "n_over_sigma2s", "prior_precisions", "thresholds", "linear_vi_models",
           "discrete_spectra"]


def aspect_ratios(min_value: float = 1e-3, max_value: float = 0.995) -> st.SearchStrategy[float]:
    """lam = d/n, uniform in [min_value, max_value] within (0, 1)."""
    if not (0.0 < min_value <= max_value < 1.0):
        raise ValueError(f"aspect ratio range needs 0 < min_value <= max_value < 1, got ({min_value}, {max_value})")
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)


def n_over_sigma2s(lo: float = 1e2, hi: float = 1e10) -> st.SearchStrategy[float]:
    """n / sigma^2 (samples over noise variance), log-uniform in [lo, hi]."""
    return log_uniform(lo, hi)


def prior_precisions(lo: float = 1e-3, hi: float = 1e6, flat_prob: bool = True) -> st.SearchStrategy[float]:
    """1/tau^2: 0 (flat prior, when ``flat_prob``) or log-uniform in [lo, hi]."""
    s = log_uniform(lo, hi)
    return st.one_of(st.just(0.0), s) if flat_prob else s


def thresholds(lo: float = 1e-8, hi: float = 1e-1) -> st.SearchStrategy[float]:
    """Success thresholds eps, log-uniform in [lo, hi]."""
    return log_uniform(lo, hi)


@st.composite
def linear_vi_models(draw, lam=None, n_over_sigma2=None, inv_tau2=None, eps=None, C0=None):
    """``grokphase.LinearVIModel`` instances over the valid domain.

    Each field is a strategy, a fixed value, or None for its default:

    ============== ========================================== =========================
    field          meaning                                    default
    ============== ========================================== =========================
    lam            aspect ratio d/n                           ``aspect_ratios()``: [1e-3, 0.995]
    n_over_sigma2  n / sigma^2                                log-uniform [1e2, 1e10]
    inv_tau2       prior precision 1/tau^2                    0 or log-uniform [1e-3, 1e6]
    eps            success threshold                          log-uniform [1e-8, 1e-1]
    C0             initial excess risk                        log-uniform [1e-2, 1e2]
    ============== ========================================== =========================
    """
    from grokphase.linear_vi import LinearVIModel

    return LinearVIModel(
        lam=draw(field(lam, aspect_ratios())),
        n_over_sigma2=draw(field(n_over_sigma2, n_over_sigma2s())),
        inv_tau2=draw(field(inv_tau2, prior_precisions())),
        eps=draw(field(eps, thresholds())),
        C0=draw(field(C0, log_uniform(1e-2, 1e2))),
    )


@st.composite
def discrete_spectra(draw, max_size: int = 40):
    """``DiscreteSpectrum`` with 1..max_size eigenvalues, log-uniform in [1e-3, 10], and positive
    weights, log-uniform in [1e-3, 1]."""
    from grokphase.numerics.spectra import DiscreteSpectrum

    k = draw(st.integers(1, max_size))
    eig = draw(st.lists(log_uniform(1e-3, 10.0), min_size=k, max_size=k))
    w = draw(st.lists(log_uniform(1e-3, 1.0), min_size=k, max_size=k))
    return DiscreteSpectrum(np.array(eig), np.array(w))
