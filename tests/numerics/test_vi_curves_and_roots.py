"""Closures, EU and crossing-time root finding against independent computations."""

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grokphase.numerics import linear_vi_closed_forms as closed
from grokphase.numerics.log_time_roots import crossing_time
from grokphase.numerics.vi_curves import accuracy_closure, eu_threshold


@given(st.floats(-40.0, 5.0), st.floats(1e-8, 1.0))
def test_accuracy_closure_is_gaussian_probability(log_L, eps):
    # P(r^2 <= eps) for r ~ N(0, 2L), integrated as a normal CDF difference at 40 digits
    with mp.workdps(40):
        s = mp.sqrt(2 * mp.exp(mp.mpf(log_L)))
        root = mp.sqrt(mp.mpf(eps))
        direct = float(mp.ncdf(root / s) - mp.ncdf(-root / s))
    assert accuracy_closure(log_L, eps) == pytest.approx(direct, rel=1e-12, abs=1e-300)


def test_closure_levels():
    eps = 1e-3
    assert accuracy_closure(math.log(eps / 8), eps) == pytest.approx(math.erf(math.sqrt(2)), rel=1e-14)
    assert closed.grokking_level_ratio() == pytest.approx(1 / 8, rel=1e-15)


@given(st.floats(1e-10, 1e-1))
def test_thresholded_eu_peaks_at_1_0991_eps(eps):
    peak = closed.eu_peak_level_ratio() * eps
    logs = np.log(peak) + np.linspace(-0.5, 0.5, 2001)
    eu = eu_threshold(logs, eps)
    assert eu[1000] == pytest.approx(math.log(2), rel=1e-12)
    assert np.argmax(eu) == 1000
    assert np.all((eu >= 0) & (eu <= math.log(2) + 1e-15))


def test_eu_threshold_extremes_finite():
    eu = eu_threshold(np.array([-1e6, -50.0, 0.0, 50.0]), 1e-3)
    assert np.all(np.isfinite(eu)) and eu[0] == 0.0


@given(st.floats(1e-6, 1e6), st.floats(-300.0, -1e-3))
def test_crossing_time_of_exponential(k, log_level):
    res = crossing_time(lambda t: -k * t, log_level, 1.0)
    assert res.converged and res.iterations > 0
    assert res.t == pytest.approx(-log_level / k, rel=1e-11)
    assert abs(res.residual) < 1e-9


def test_crossing_time_reports_failure_and_zero():
    res = crossing_time(lambda t: np.zeros_like(t), -1.0, 1.0, max_expansions=20)
    assert not res.converged and math.isnan(res.t)
    res = crossing_time(lambda t: -t - 2.0, -1.0, 1.0)     # starts below the level
    assert res.converged and res.t == 0.0
    with pytest.raises(ValueError, match="t_scale"):
        crossing_time(lambda t: -t, -1.0, 0.0)
