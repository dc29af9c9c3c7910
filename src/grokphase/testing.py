"""Testing helpers: hypothesis strategies for the valid domain and for invalid inputs, an
asymptotic-ratio assertion, and a check that an invalid input is reported by name.

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
           "linear_vi_models", "discrete_spectra", "assert_ratio_tends_to", "non_numbers",
           "invalid_reals", "invalid_integers", "invalid_choices", "invalid_arrays",
           "assert_names_parameter"]


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


# --------------------------------------------------------------------------- invalid inputs

def non_numbers() -> st.SearchStrategy:
    """Values that are not a real number: None, bools, strings (numeric-looking ones too),
    sequences, dicts, complex numbers."""
    return st.one_of(st.none(), st.booleans(), st.text(max_size=6), st.just("1.0"), st.just("nan"),
                     st.lists(st.floats(allow_nan=False), min_size=0, max_size=3), st.just(()),
                     st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
                     st.complex_numbers(allow_nan=False, allow_infinity=False).filter(lambda z: z.imag != 0))


def invalid_reals(lo=None, hi=None, *, lo_open: bool = False, hi_open: bool = False,
                  numbers_only: bool = False) -> st.SearchStrategy:
    """Anything that a parameter taking a finite real in the given range must reject: NaN, +-inf,
    floats and integers outside [lo, hi] (open ends excluded), and (unless ``numbers_only``)
    ``non_numbers()``."""
    def outside(x) -> bool:
        if not math.isfinite(x):
            return True
        return ((lo is not None and (x <= lo if lo_open else x < lo))
                or (hi is not None and (x >= hi if hi_open else x > hi)))

    parts = [st.sampled_from([math.nan, math.inf, -math.inf])]
    if lo is not None:
        parts += [st.floats(max_value=lo, allow_nan=False).filter(outside), st.just(float(lo) if lo_open else
                                                                                    math.nextafter(lo, -math.inf))]
    if hi is not None:
        parts += [st.floats(min_value=hi, allow_nan=False).filter(outside), st.just(float(hi) if hi_open else
                                                                                    math.nextafter(hi, math.inf))]
    parts = [p.filter(outside) for p in parts]
    if not numbers_only:
        parts.append(non_numbers())
    return st.one_of(parts)


def invalid_integers(lo=None, hi=None, *, numbers_only: bool = False) -> st.SearchStrategy:
    """What an integer parameter in [lo, hi] must reject: non-integral and non-finite floats (no
    truncation), integers outside the range and (unless ``numbers_only``) ``non_numbers()``."""
    parts = [st.floats().filter(lambda x: not (math.isfinite(x) and x.is_integer()))]
    if lo is not None:
        parts.append(st.integers(max_value=lo - 1))
    if hi is not None:
        parts.append(st.integers(min_value=hi + 1))
    if not numbers_only:
        parts.append(non_numbers())
    return st.one_of(parts)


def invalid_choices(options) -> st.SearchStrategy:
    """Values outside the string options: other strings (case variants included), None, numbers."""
    opts = tuple(options)
    return st.one_of(st.text(max_size=8), st.sampled_from([o.upper() for o in opts] + [o + " " for o in opts]),
                     st.none(), st.integers(), st.floats()).filter(lambda v: not (isinstance(v, str) and v in opts))


def invalid_arrays(ndim: int = 1, *, lo=None, hi=None) -> st.SearchStrategy:
    """What an ndim-d array of finite numbers (in [lo, hi] where given) must reject: a wrong number
    of dimensions, an empty array, NaN or inf entries, entries out of range, strings, None."""
    import hypothesis.extra.numpy as hnp

    def shapes(d):
        return hnp.array_shapes(min_dims=d, max_dims=d, min_side=1, max_side=4)

    wrong_dims = [d for d in (1, 2, 3) if d != ndim]
    bad_value = [math.nan, math.inf, -math.inf]
    if lo is not None:
        bad_value.append(lo - 1.0 - abs(lo))
    if hi is not None:
        bad_value.append(hi + 1.0 + abs(hi))

    @st.composite
    def with_bad_entry(draw):
        shape = draw(shapes(ndim))
        ok = lo if lo is not None else (hi if hi is not None else 0.0)
        x = np.full(shape, float(ok))
        x[tuple(draw(st.integers(0, n - 1)) for n in shape)] = draw(st.sampled_from(bad_value))
        return x

    return st.one_of(st.sampled_from(wrong_dims).flatmap(lambda d: shapes(d).map(np.ones)),
                     st.just(np.zeros((0,) * max(ndim, 1))), with_bad_entry(),
                     st.sampled_from([None, "abc", [["a"]]]))


def assert_names_parameter(call, name: str, exc: type = ValueError) -> str:
    """Call ``call()`` and assert that it raises ``exc`` whose message names ``name`` (as a word:
    ``s_qk`` matches "s_qk must be ...", not "s_qkx"); returns the message."""
    import re

    try:
        out = call()
    except exc as err:
        msg = str(err)
        if not re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", msg):
            raise AssertionError(f"the message does not name {name!r}: {msg!r}") from None
        return msg
    raise AssertionError(f"no {exc.__name__} for an invalid {name}; returned {out!r:.200}")
