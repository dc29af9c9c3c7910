"""Testing helpers for asymptotic claims: hypothesis strategies and an asymptotic-ratio assertion.

Needs the ``test`` extra (hypothesis).  Example::

    import numpy as np
    from hypothesis import given
    from grokphase.testing import aspect_ratios, linear_vi_models, assert_ratio_tends_to

    @given(linear_vi_models(lam=aspect_ratios(0.01, 0.95)))
    def test_late_time_ratio(model):
        # [78]: L_gen / L_emp -> (1 - sqrt(lam))^{-2} once x = 2 (n/sigma^2) t >> 1 / min(nu_-, Delta)
        x = np.array([1e2, 1e3, 1e4]) / min(model.spectrum.nu_min, 4 * model.lam ** 0.5)
        log_emp, log_gen = model.log_excess_risk(x / (2 * model.n_over_sigma2))
        assert_ratio_tends_to(np.exp(log_gen - log_emp), np.ones(3),
                              (1 - model.lam ** 0.5) ** -2, rtol=1e-3)
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

__all__ = ["aspect_ratios", "n_over_sigma2s", "prior_precisions", "thresholds",
           "linear_vi_models", "discrete_spectra", "assert_ratio_tends_to"]


def aspect_ratios(min_value: float = 1e-3, max_value: float = 0.995) -> st.SearchStrategy[float]:
    """lam = d/n in [min_value, max_value] within (0, 1)."""
    if not (0.0 < min_value <= max_value < 1.0):
        raise ValueError("need 0 < min_value <= max_value < 1")
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)


def _log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: float(10.0**e))


def n_over_sigma2s(lo: float = 1e2, hi: float = 1e10) -> st.SearchStrategy[float]:
    """n / sigma^2, log-uniform in [lo, hi]."""
    return _log_uniform(lo, hi)


def prior_precisions(lo: float = 1e-3, hi: float = 1e6, flat_prob: bool = True) -> st.SearchStrategy[float]:
    """1/tau^2: 0 (flat prior) or log-uniform in [lo, hi]."""
    s = _log_uniform(lo, hi)
    return st.one_of(st.just(0.0), s) if flat_prob else s


def thresholds(lo: float = 1e-8, hi: float = 1e-1) -> st.SearchStrategy[float]:
    """Success thresholds eps, log-uniform in [lo, hi]."""
    return _log_uniform(lo, hi)


@st.composite
def linear_vi_models(draw, lam=None, n_over_sigma2=None, inv_tau2=None, eps=None, C0=None):
    """``grokphase.LinearVIModel`` instances over the valid domain (each field overridable)."""
    from grokphase.linear_vi import LinearVIModel

    return LinearVIModel(
        lam=draw(lam if lam is not None else aspect_ratios()),
        n_over_sigma2=draw(n_over_sigma2 if n_over_sigma2 is not None else n_over_sigma2s()),
        inv_tau2=draw(inv_tau2 if inv_tau2 is not None else prior_precisions()),
        eps=draw(eps if eps is not None else thresholds()),
        C0=draw(C0 if C0 is not None else _log_uniform(1e-2, 1e2)),
    )


@st.composite
def discrete_spectra(draw, max_size: int = 40):
    """``DiscreteSpectrum`` with 1..max_size eigenvalues in [1e-3, 10] and positive weights."""
    from grokphase.numerics.spectra import DiscreteSpectrum

    k = draw(st.integers(1, max_size))
    eig = draw(st.lists(_log_uniform(1e-3, 10.0), min_size=k, max_size=k))
    w = draw(st.lists(_log_uniform(1e-3, 1.0), min_size=k, max_size=k))
    return DiscreteSpectrum(np.array(eig), np.array(w))


def assert_ratio_tends_to(f, g, limit: float = 1.0, *, rtol: float, monotone: bool = True,
                          slack: float = 1e-12) -> None:
    """Assert that f_k / g_k -> limit along a sequence (arrays of shape (K,), K >= 2).

    Checks that the last ratio is within ``rtol`` (relative) of ``limit`` and, if ``monotone``,
    that the distance |f_k/g_k - limit| does not increase along the sequence (up to ``slack``,
    relative).  Raises AssertionError with the whole sequence of ratios otherwise.
    """
    f = np.asarray(f, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if f.shape != g.shape or f.ndim != 1 or f.size < 2:
        raise ValueError("f and g must be 1-d arrays of the same length >= 2")
    ratio = f / g
    dist = np.abs(ratio / limit - 1.0)
    if not np.all(np.isfinite(ratio)):
        raise AssertionError(f"non-finite ratios along the sequence: {ratio}")
    if monotone and np.any(np.diff(dist) > slack * (1.0 + dist[:-1])):
        raise AssertionError(f"|f/g - {limit}| is not non-increasing: ratios {ratio}")
    if dist[-1] > rtol:
        raise AssertionError(f"f/g ends {dist[-1]:.3g} away from {limit} (rtol {rtol}): ratios {ratio}")
