"""Public API LinearVIModel / SpectralVIModel: properties over the valid domain, special cases."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from grokphase import DiscreteSpectrum, LinearVIModel, MarchenkoPastur, SpectralVIModel
from grokphase.numerics import linear_vi_closed_forms as closed
from grokphase.testing import (aspect_ratios, assert_ratio_tends_to, assert_tends_to,
                               linear_vi_models, n_over_sigma2s, prior_precisions, thresholds)


def test_initial_values_and_known_numbers():
    m = LinearVIModel(0.6, 5e7, C0=2.5)
    emp, gen = m.excess_risk(0.0)
    assert gen == pytest.approx(2.5, rel=1e-13) and emp == pytest.approx(2.5, rel=1e-13)
    assert m.kappa == pytest.approx(2 * 5e7 * (1 - math.sqrt(0.6)) ** 2, rel=1e-14)
    assert m.K_gen / m.K_emp == pytest.approx((1 - math.sqrt(0.6)) ** -2, rel=1e-13)


@given(linear_vi_models())
def test_no_nan_anywhere_and_ranges(m):
    t = np.concatenate([[0.0], np.logspace(-14, 2, 60)])
    le, lg = m.log_excess_risk(t)
    assert np.all(np.isfinite(le)) and np.all(np.isfinite(lg))
    assert np.all(np.diff(le) <= 1e-12) and np.all(np.diff(lg) <= 1e-12)   # monotone decay
    for pair in (m.excess_risk(t), m.accuracy(t), m.eu_threshold(t), m.eu_regression(t)):
        for arr in pair:
            assert np.all(np.isfinite(arr))
    acc = m.accuracy(t)
    assert all(np.all((a >= 0) & (a <= 1)) for a in acc)
    assert all(np.all((e >= 0) & (e <= math.log(2) + 1e-15)) for e in m.eu_threshold(t))


@pytest.mark.parametrize("lam", [1e-12, 1e-6, 0.999999, 1 - 1e-12])
@pytest.mark.parametrize("Nbar, iota, eps", [(1e-6, 0.0, 1e-300), (1e15, 1e9, 10.0), (1.0, 1e-9, 1e-3)])
def test_extremes_of_the_valid_domain(lam, Nbar, iota, eps):
    """Regression: the compiled closed forms once cancelled catastrophically as lam -> 1."""
    m = LinearVIModel(lam, Nbar, iota, eps)
    t = np.concatenate([[0.0], np.logspace(-30, 30, 31)])
    for pair in (m.excess_risk(t), m.accuracy(t), m.eu_threshold(t), m.eu_regression(t)):
        assert all(np.all(np.isfinite(a)) for a in pair)
    assert m.delay() >= 0 and np.isfinite(m.delay_asymptotic()) and np.isfinite(m.K_gen)
    # rel 1e-9: at lam = 1e-12 both routes take log of a number 1e-6 from 1 (loses ~6 digits)
    assert m.delay_asymptotic() == pytest.approx(
        math.log(1 / (1 - math.sqrt(lam))) / (Nbar * (1 - math.sqrt(lam)) ** 2 + iota), rel=1e-9)


@given(linear_vi_models(eps=thresholds(1e-8, 1e-2)))
def test_generalisation_lags_training(m):
    assume(m.eps / 8 < m.C0 * (1 - math.sqrt(m.lam)) ** 2)   # both curves start above the level
    t_emp, t_gen = m.grokking_times()
    e_emp, e_gen = m.eu_peak_times()
    assert 0 < t_emp < t_gen and 0 < e_emp < e_gen
    assert e_gen < t_gen            # the EU peak precedes the 95% point [12]
    assert m.delay() == pytest.approx(t_gen - t_emp, rel=1e-14)


@given(aspect_ratios(0.01, 0.98), aspect_ratios(0.01, 0.98), n_over_sigma2s(), prior_precisions(),
       thresholds(1e-8, 1e-2))
def test_delay_increasing_in_lam(l1, l2, Nbar, iota, eps):
    assume(abs(l1 - l2) > 1e-3)
    lo, hi = sorted((l1, l2))
    a, b = LinearVIModel(lo, Nbar, iota, eps), LinearVIModel(hi, Nbar, iota, eps)
    assume(eps / 8 < (1 - math.sqrt(hi)) ** 2)
    assert a.delay() < b.delay()
    assert a.delay_asymptotic() < b.delay_asymptotic()


def _late_times(m):
    """x = 2 Nbar t with x min(nu_-, Delta) in 1e2..1e5: the first Laplace correction,
    at most (3/2)(1/2 + 1)/(x min(nu_-, Delta)), is then below 2.3e-5 at the last point."""
    lo = m.spectrum.nu_min
    scale = min(lo, 4 * math.sqrt(m.lam))
    return np.array([1e2, 1e3, 1e4, 1e5]) / (2 * m.n_over_sigma2 * scale)


@given(linear_vi_models(lam=aspect_ratios(1e-3, 0.98)))
def test_late_time_ratio_tends_to_inverse_edge(m):
    """L_gen / L_emp -> (1 - sqrt lam)^{-2} [78]; corrections are O(1/(kappa t))."""
    t = _late_times(m)
    le, lg = m.log_excess_risk(t)
    limit = (1 - math.sqrt(m.lam)) ** -2
    assert_tends_to(np.exp(lg - le), limit, rtol=5e-5, slack=1e-9, xs=t, name="L_gen/L_emp")


@given(linear_vi_models(lam=aspect_ratios(1e-3, 0.98)))
def test_late_time_prefactors(m):
    """L ~ K t^{-3/2} e^{-kappa t} with the explicit K_emp, K_gen (not only their ratio)."""
    t = _late_times(m)
    le, lg = m.log_excess_risk(t)
    for logL, K in ((le, m.K_emp), (lg, m.K_gen)):
        scaled = np.exp(logL + 1.5 * np.log(t) + m.kappa * t)
        assert_ratio_tends_to(scaled, np.full_like(t, K), 1.0, rtol=5e-5, slack=1e-9)


@given(linear_vi_models(eps=thresholds(1e-6, 1e-2)))
def test_eu_threshold_peaks_at_level(m):
    assume(1.1 * m.eps < m.C0 * (1 - math.sqrt(m.lam)) ** 2)
    for k, tp in enumerate(m.eu_peak_times()):
        L = m.excess_risk(tp)[k]
        assert L == pytest.approx(closed.eu_peak_level_ratio() * m.eps, rel=1e-8)
        assert m.eu_threshold(tp)[k] == pytest.approx(math.log(2), rel=1e-10)
        around = m.eu_threshold(tp * np.array([0.9, 1.1]))[k]
        assert np.all(around < math.log(2))


@given(aspect_ratios(0.05, 0.95), n_over_sigma2s(1e3, 1e9), prior_precisions())
def test_exact_over_asymptotic_delay_tends_to_one(lam, Nbar, iota):
    """Exact delay / [80] -> 1 as eps -> 0, monotonically.

    [80] drops two first-order terms: the prefactor corrections O(1/(x min(nu_-, Delta))), x = 2 Nbar t*,
    and (3/2) log(t_gen/t_emp) ~ (3/2) Dt/t*, relative O(1/(kappa t*)).  The final tolerance is
    3/(x min(nu_-, Delta)) + 3/(kappa t*) (median ~0.01 over this domain); a wrong leading
    formula (e.g. a factor 2) is an O(1) miss.
    """
    eps = np.array([1e-3, 1e-10, 1e-30, 1e-100, 1e-250])
    models = [LinearVIModel(lam, Nbar, iota, e) for e in eps]
    exact = np.array([m.delay() for m in models])
    asym = models[0].delay_asymptotic()
    t_star = models[-1].grokking_times()[1]
    xm = 2 * Nbar * t_star * min(models[0].spectrum.nu_min, 4 * math.sqrt(lam))
    rtol = 3 / xm + 3 / (models[0].kappa * t_star)
    assert_tends_to(exact, asym, rtol=rtol, slack=1e-6, xs=eps, name="exact delay")


def test_lambert_w_times_close_in_on_exact_times():
    m = LinearVIModel(0.6, 5e7, eps=1e-30)
    exact, lw = np.array(m.grokking_times()), np.array(m.laplace_grokking_times())
    assert np.all(np.abs(lw / exact - 1) < 1e-3)


def test_spectral_model_on_mp_equals_linear_model():
    a = LinearVIModel(0.7, 1e6, inv_tau2=3.0, eps=1e-4)
    b = SpectralVIModel(MarchenkoPastur(0.7), 1e6, inv_tau2=3.0, eps=1e-4)
    t = np.logspace(-8, -3, 20)
    np.testing.assert_allclose(a.excess_risk(t), b.excess_risk(t), rtol=1e-14)
    assert a.delay() == pytest.approx(b.delay(), rel=1e-12)
    # generic log(1/nu_min)/kappa is eq. [80] compiled from SymPy
    assert a.delay_asymptotic() == pytest.approx(b.delay_asymptotic(), rel=1e-13)


@given(st.floats(1e-3, 10.0), n_over_sigma2s(1e2, 1e8), prior_precisions(), thresholds(1e-8, 1e-3))
def test_single_eigenvalue_spectrum_closed_form(nu, Nbar, iota, eps):
    """One eigenvalue: L_gen = C0 e^{-2 a t}, so t_95 = log(8 C0 / eps) / (2 a)."""
    m = SpectralVIModel(DiscreteSpectrum(np.array([nu])), Nbar, iota, eps, C0=1.0)
    a = Nbar * nu + iota
    assert m.grokking_times()[1] == pytest.approx(math.log(8 / eps) / (2 * a), rel=1e-10)
    assume(eps / 8 < nu)
    assert m.grokking_times()[0] == pytest.approx(math.log(8 * nu / eps) / (2 * a), rel=1e-10)


def test_regression_eu_monotone_with_known_limit():
    for lam in (0.2, 0.6, 0.99):
        m = LinearVIModel(lam, 5e7)
        t = np.logspace(-10, -1, 300)
        emp, gen = m.eu_regression(t, sigma2=1.0, cov_share=0.7)
        assert np.all(np.diff(gen) <= 1e-15) and np.all(np.diff(emp) <= 1e-15)   # no peak
        assert gen[-1] == pytest.approx(-0.5 * math.log(1 - lam), rel=1e-10)  # Tr Sigma_inf = lam/(1-lam)
        # emp limit: lam E[nu/nu] = lam
        assert emp[-1] == pytest.approx(0.5 * math.log1p(lam), rel=1e-10)


@pytest.mark.parametrize("kwargs, name", [
    (dict(lam=0.0, n_over_sigma2=1.0), "lam"), (dict(lam=1.0, n_over_sigma2=1.0), "lam"),
    (dict(lam=-0.2, n_over_sigma2=1.0), "lam"), (dict(lam=float("nan"), n_over_sigma2=1.0), "lam"),
    (dict(lam=0.5, n_over_sigma2=0.0), "n_over_sigma2"), (dict(lam=0.5, n_over_sigma2=-3.0), "n_over_sigma2"),
    (dict(lam=0.5, n_over_sigma2=1.0, inv_tau2=-1.0), "inv_tau2"),
    (dict(lam=0.5, n_over_sigma2=1.0, eps=0.0), "eps"), (dict(lam=0.5, n_over_sigma2=1.0, eps=-1e-3), "eps"),
    (dict(lam=0.5, n_over_sigma2=1.0, C0=0.0), "C0"),
])
def test_bad_parameters_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        LinearVIModel(**kwargs)


def test_bad_times_and_options_raise():
    m = LinearVIModel(0.5, 1e3)
    for call in (m.excess_risk, m.accuracy, m.eu_threshold, m.eu_regression):
        with pytest.raises(ValueError, match="t must"):
            call(np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="sigma2"):
        m.eu_regression(1.0, sigma2=0.0)
    with pytest.raises(ValueError, match="cov_share"):
        m.eu_regression(1.0, cov_share=1.5)
    with pytest.raises(ValueError, match="aspect_ratio"):
        SpectralVIModel(DiscreteSpectrum(np.array([1.0])), 1.0).eu_regression(1.0)


def test_model_is_frozen():
    m = LinearVIModel(0.5, 1e3)
    with pytest.raises(AttributeError):
        m.lam = 0.4


def test_curves_and_sweep_agree_with_methods(tmp_path):
    import xarray as xr

    from grokphase import sweep_lam
    from grokphase.results import load_dataset, save_dataset

    t = np.logspace(-9, -4, 50)
    lams = np.array([0.2, 0.6, 0.99])
    sw = sweep_lam(lams, t, n_over_sigma2=5e7, inv_tau2=1e3, eps=1e-4, C0=2.0, cov_share=0.3)
    assert sw.excess_gen.dims == ("lam", "t") and sw.lam.values.tolist() == lams.tolist()
    for i, lam in enumerate(lams):
        m = LinearVIModel(lam, 5e7, 1e3, 1e-4, 2.0)
        c = m.curves(t, cov_share=0.3)
        np.testing.assert_allclose(sw.excess_gen[i], m.excess_risk(t)[1], rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(sw.acc_emp[i], m.accuracy(t)[0], rtol=1e-13)
        np.testing.assert_allclose(sw.eu_th_gen[i], m.eu_threshold(t)[1], rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(sw.eu_reg_emp[i], m.eu_regression(t, cov_share=0.3)[0], rtol=1e-13)
        np.testing.assert_allclose(c["eu_reg_gen"], sw.eu_reg_gen[i], rtol=1e-13)
        assert float(sw.kappa[i]) == m.kappa
        # selection by name: the curve at (lam, t) is the model's value there
        assert float(sw.acc_gen.sel(lam=lam, t=t[7])) == pytest.approx(m.accuracy(t[7])[1], rel=1e-13)
    back = load_dataset(save_dataset(sw, tmp_path / "sweep.nc"))
    xr.testing.assert_identical(back, sw)
    np.testing.assert_array_equal(back.acc_gen, sw.acc_gen)
    assert back.attrs == sw.attrs == dict(n_over_sigma2=5e7, inv_tau2=1e3, eps=1e-4, C0=2.0, sigma2=1.0,
                                          cov_share=0.3, model=sw.attrs["model"])
    assert all(type(back.attrs[k]) is float for k in ("n_over_sigma2", "inv_tau2", "eps", "C0", "sigma2"))
    with pytest.raises(ValueError, match="lam"):
        sweep_lam([0.5, 1.0], t, n_over_sigma2=1.0)
