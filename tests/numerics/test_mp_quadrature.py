"""MP quadrature vs independent references: adaptive mpmath integration and closed forms."""

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from grokphase.numerics.mp_quadrature import (mp_density, mp_edges, mp_log_laplace_moments,
                                              mp_resolvent_moments)
from grokphase.numerics.spectra import DiscreteSpectrum, MarchenkoPastur
from grokphase.testing import aspect_ratios, assert_tends_to, discrete_spectra
from grokphase.theory import linear_vi as T

LAMS = [1e-4, 0.2, 0.6, 0.9, 0.99, 0.9999]
XS = [0.0, 1e-3, 1.0, 30.0, 1e3, 1e5, 1e7, 1e9]


def _reference_log_moment(lam, x, p):
    """log E[nu^p e^{-x(nu - nu_-)}] by adaptive tanh-sinh quadrature at 30 digits.

    The interval is split at the scales where the integrand changes (1/x from the edge,
    and multiples of nu_- for the 1/nu factor), which is what "adaptive" needs here.
    """
    with mp.workdps(30):
        lam_, x_ = mp.mpf(lam), mp.mpf(x)
        r = mp.sqrt(lam_)
        lo, hi = (1 - r) ** 2, (1 + r) ** 2
        f = lambda v: v**p * mp.sqrt((hi - v) * (v - lo)) / (2 * mp.pi * lam_ * v) * mp.exp(-x_ * (v - lo))
        pts = {lo, hi}
        pts |= {lo + c / x_ for c in (0.01, 0.1, 1, 10, 100, 1000) if x > 0 and lo + c / x_ < hi}
        pts |= {lo * (1 + c) for c in (0.1, 1, 10, 100) if lo * (1 + c) < hi}
        return float(mp.log(mp.quad(f, sorted(pts))))


@pytest.mark.parametrize("lam", LAMS)
def test_against_adaptive_reference(lam):
    l0, l1 = mp_log_laplace_moments(lam, np.array(XS))
    for k, x in enumerate(XS):
        # requirement: 1e-6 relative at late times; we hold 1e-11 everywhere
        assert abs(math.expm1(l0[k] - _reference_log_moment(lam, x, 0))) < 1e-11, (lam, x)
        assert abs(math.expm1(l1[k] - _reference_log_moment(lam, x, 1))) < 1e-11, (lam, x)


def test_emp_moment_matches_bessel_closed_form():
    expr = T.emp_laplace_closed_form()
    x_sym = [s for s in expr.free_symbols if s.name == "x"][0]
    f = sp.lambdify((T.lam, x_sym), expr, "mpmath")
    with mp.workdps(40):
        for lam in (0.05, 0.5, 0.95):
            lo = (1 - mp.sqrt(mp.mpf(lam))) ** 2
            xs = np.array([1e-2, 1.0, 50.0, 1e4, 1e6])
            _, l1 = mp_log_laplace_moments(lam, xs)
            for k, x in enumerate(xs):
                ref = float(mp.log(f(mp.mpf(lam), mp.mpf(x))) + mp.mpf(x) * lo)
                assert abs(math.expm1(l1[k] - ref)) < 1e-11


@given(aspect_ratios(1e-3, 0.99))
def test_late_time_edge_asymptotics(lam):
    """x^{3/2} m_p(x) -> K_p (Laplace's method at the edge, derived in theory.edge_expansion)."""
    lo, _ = mp_edges(lam)
    K = [float(T.edge_expansion(p).subs({T.lam: lam, T.nu_minus: lo})) for p in (0, 1)]
    xs = np.array([1e2, 1e3, 1e4, 1e5, 1e6]) / lo          # x nu_- >> 1 is the asymptotic regime
    l0, l1 = mp_log_laplace_moments(lam, xs)
    for lp, Kp in zip((l0, l1), K):
        assert_tends_to(np.exp(lp + 1.5 * np.log(xs)), Kp, rtol=3e-5, slack=1e-9, xs=xs, name="x^(3/2) m_p")


@pytest.mark.parametrize("lam", [0.01, 0.3, 0.9, 0.999])
def test_resolvent_moments(lam):
    inv, one = mp_resolvent_moments(lam, 0.0)
    assert inv == pytest.approx(1.0 / (1.0 - lam), rel=1e-11)   # E[1/nu] for MP
    assert one == pytest.approx(1.0, rel=1e-13)
    lo, hi = mp_edges(lam)
    for shift in (1e-8, 1e-2, 3.0):
        g, h = mp_resolvent_moments(lam, shift)
        ref = mp.quad(lambda v: mp.sqrt((hi - v) * (v - lo)) / (2 * mp.pi * lam * v) / (v + shift),
                      mp.linspace(lo, hi, 20))
        assert g == pytest.approx(float(ref), rel=1e-10)
        assert h == pytest.approx(1.0 - shift * g, rel=1e-10)


def test_density_normalised():
    for lam in (0.1, 0.7):
        lo, hi = mp_edges(lam)
        nu = np.linspace(lo, hi, 200001)
        assert np.trapezoid(mp_density(nu, lam), nu) == pytest.approx(1.0, abs=2e-4)
        assert mp_density(np.array([lo - 0.1, hi + 0.1]), lam).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5, 1.5, float("nan")])
def test_bad_lam_raises(bad):
    with pytest.raises(ValueError, match="lam"):
        mp_log_laplace_moments(bad, np.array([1.0]))
    with pytest.raises(ValueError, match="lam"):
        MarchenkoPastur(bad)


def test_bad_x_raises():
    with pytest.raises(ValueError, match="x"):
        mp_log_laplace_moments(0.5, np.array([-1.0]))


@given(discrete_spectra(), st.lists(st.floats(0.0, 1e4), min_size=1, max_size=5))
def test_discrete_spectrum_matches_direct_sum(spec, xs):
    xs = np.array(xs)
    l0, l1 = spec.log_laplace_moments(xs)
    w = spec._w
    nus = spec.eigenvalues
    for k, x in enumerate(xs):
        # direct sum in extended precision (no shift by nu_min)
        with mp.workdps(30):
            m0 = sum(mp.mpf(wi) * mp.exp(-mp.mpf(x) * (mp.mpf(v) - mp.mpf(spec.nu_min))) for wi, v in zip(w, nus))
            m1 = sum(mp.mpf(wi) * mp.mpf(v) * mp.exp(-mp.mpf(x) * (mp.mpf(v) - mp.mpf(spec.nu_min))) for wi, v in zip(w, nus))
            assert abs(math.expm1(l0[k] - float(mp.log(m0)))) < 1e-12
            assert abs(math.expm1(l1[k] - float(mp.log(m1)))) < 1e-12


def test_discrete_spectrum_validation():
    with pytest.raises(ValueError, match="eigenvalues"):
        DiscreteSpectrum(np.array([1.0, -2.0]))
    with pytest.raises(ValueError, match="weights"):
        DiscreteSpectrum(np.array([1.0, 2.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="aspect_ratio"):
        DiscreteSpectrum(np.array([1.0]), aspect_ratio=2.0)
