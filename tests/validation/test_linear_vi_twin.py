"""Finite-size twin: exact flow vs ODE integration, spectral vs matrix risks, n -> inf limit."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from grokphase import LinearVIModel
from grokphase.validation.linear_vi_twin import sample_data, vi_flow_twin

NBAR = 5e7


def test_closed_form_flow_matches_ode_integration(rng):
    n, d = 12, 4
    data = sample_data(n, d, sigma_eps=0.3, seed=1)
    sigma2, inv_tau2 = 0.5, 0.7
    mu0 = rng.standard_normal(d)
    B = rng.standard_normal((d, d))
    Sigma0 = B @ B.T + 0.1 * np.eye(d)
    tw = vi_flow_twin(data, sigma2=sigma2, inv_tau2=inv_tau2, init="explicit", mu0=mu0, Sigma0=Sigma0)
    A = data.X.T @ data.X / sigma2 + inv_tau2 * np.eye(d)
    b = data.X.T @ data.y / sigma2

    def rhs(_, z):                                   # [3]-[4] integrated directly
        mu, S = z[:d], z[d:].reshape(d, d)
        return np.concatenate([b - A @ mu, (2 * np.eye(d) - A @ S - S @ A).ravel()])

    ts = np.array([0.0, 0.01, 0.05, 0.3])
    sol = solve_ivp(rhs, (0, ts[-1]), np.concatenate([mu0, Sigma0.ravel()]), t_eval=ts,
                    rtol=1e-11, atol=1e-12, method="DOP853")
    np.testing.assert_allclose(tw.means(ts), sol.y[:d].T, rtol=1e-8, atol=1e-9)
    for k, t in enumerate(ts):
        np.testing.assert_allclose(tw.covariance(t), sol.y[d:, k].reshape(d, d), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("inv_tau2, sigma_eps, init", [(0.0, 0.0, "even"), (3.0, 0.5, "prior"),
                                                        (50.0, 0.2, "prior")])
def test_general_spectral_form_equals_matrix_risks(inv_tau2, sigma_eps, init):
    data = sample_data(300, 120, sigma_eps=sigma_eps, seed=2)
    tw = vi_flow_twin(data, sigma2=0.3, inv_tau2=inv_tau2, init=init, sigma0_sq=2.0)
    t = np.logspace(-4, 1, 12)
    e, g = tw.excess_risks(t)
    se, sg = tw.spectral_excess_risks(t)
    for a, b in ((e, se), (g, sg)):
        np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-10 * np.max(np.abs(a)))
    if inv_tau2 > 0:
        # cross terms are really exercised: dropping them breaks the identity
        matched_emp = 0.5 * np.exp(-2 * np.outer(t, tw.a)) @ (tw.nu * (tw.dbar**2 + np.diag(tw.Sbar)))
        assert np.max(np.abs(matched_emp - e)) > 1e-6 * np.max(np.abs(e))


@pytest.mark.parametrize("lam", [0.2, 0.6, 0.9])
def test_mp_curves_are_the_large_n_limit(lam):
    """Twin (n = 4000, gaps spread evenly) vs MP within a tolerance derived from d.

    With even gaps the twin's normalised risk is a linear spectral statistic (1/d) sum_i f(nu_i),
    f = nu^p e^{-x nu}; for Wishart matrices such statistics deviate from their MP mean by O(1/d)
    (fluctuation and bias both; Bai-Silverstein CLT), with a constant set by the variation of f
    relative to its mean, ~ (1 + x)^{3/2} on the MP support.  Tolerance: 3 (1 + x)^{3/2} / d.
    """
    n = 4000
    d = int(lam * n)
    tw = vi_flow_twin(sample_data(n, d, seed=11), sigma2=n / NBAR, init="even", gap=1.0, cov_gap=0.5)
    x = np.array([0.1, 0.3, 1.0, 3.0, 10.0])
    t = x / (2 * NBAR)
    m = LinearVIModel(d / n, NBAR, C0=tw.C0)
    for twin, theory in zip(tw.excess_risks(t), m.excess_risk(t)):
        assert np.all(np.abs(twin / theory - 1) < 3 * (1 + x) ** 1.5 / d)


def test_twin_converges_towards_mp_with_n():
    """The mean relative deviation over seeds shrinks with n (here at x = 3, where it is O(1/d))."""
    lam, x = 0.5, 3.0
    devs = []
    for n in (250, 1000, 4000):
        d = int(lam * n)
        m = LinearVIModel(d / n, NBAR, C0=1.0)
        ref = m.excess_risk(x / (2 * NBAR))[1]
        vals = [vi_flow_twin(sample_data(n, d, seed=s), sigma2=n / NBAR, gap=1.0, cov_gap=1.0)
                .excess_risks([x / (2 * NBAR)])[1][0] for s in range(3)]
        devs.append(abs(np.mean(vals) / ref - 1))
    assert devs[2] < devs[1] < devs[0]


def test_regression_eu_formula_against_twin_covariance():
    """EU [92] of the model (matched noise) vs 1/2 log(1 + Tr Sigma_t / sigma^2) of the twin.

    Tolerance 5/d on the EU (the traces are linear spectral statistics, O(1/d) relative), at
    x = 2 Nbar t <= 10 (as in the risk comparison) and in the converged limit.
    """
    n, lam = 3000, 0.6
    d = int(lam * n)
    sigma2 = n / NBAR
    gap2, cov_gap = 0.6 * sigma2 * d, 0.4 * sigma2 * d       # excess risk comparable to the noise
    tw = vi_flow_twin(sample_data(n, d, seed=5), sigma2=sigma2, init="even", gap=math.sqrt(gap2),
                      cov_gap=cov_gap)
    t = np.append(np.array([0.01, 0.1, 1.0, 3.0, 10.0]) / (2 * NBAR), 1e-3)
    tr_emp, tr_gen = tw.predictive_variance_traces(t)
    m = LinearVIModel(d / n, NBAR, C0=tw.C0)
    emp, gen = m.eu_regression(t, sigma2=sigma2, cov_share=0.5 * cov_gap / tw.C0)
    np.testing.assert_allclose(gen, 0.5 * np.log1p(tr_gen / sigma2), atol=5 / d)
    np.testing.assert_allclose(emp, 0.5 * np.log1p(tr_emp / sigma2), atol=5 / d)


def test_exact_accuracy_86_against_closure_95():
    """Exact success probability on fresh population points vs the closure [95].

    Targets are the converged predictor's (matched regime, no noise).  Deviation budget:
    Monte Carlo over m test points (<= 3 * 0.5/sqrt(m)) plus finite-d concentration of
    x^T Sigma x and of the spectral averages (~1/sqrt(d)).  Compared while the closure is < 0.9,
    before the posterior-variance floor x^T Sigma_inf x (absent from the closure) matters.
    """
    n, lam, eps = 2000, 0.6, 1e-3
    d = int(lam * n)
    tw = vi_flow_twin(sample_data(n, d, seed=3), sigma2=n / NBAR, init="even", gap=math.sqrt(1.6),
                      cov_gap=0.4)
    m = LinearVIModel(d / n, NBAR, C0=tw.C0, eps=eps)
    t = np.logspace(-8.5, -6.5, 5)
    rng = np.random.default_rng(0)
    n_test = 3000
    Xt = rng.standard_normal((n_test, d))
    exact = tw.accuracy(t, Xt, Xt @ tw.mu_inf, eps)
    closure = m.accuracy(t)[1]
    keep = closure < 0.9
    assert keep.sum() >= 3
    tol = 3 * 0.5 / math.sqrt(n_test) + 1 / math.sqrt(d)
    assert np.all(np.abs(exact[keep] - closure[keep]) < tol)


def test_gradient_flow_special_case():
    """Sigma frozen (Levi et al.): the covariance never moves; the excess risk is the mean part."""
    n, lam = 2000, 0.6
    d = int(lam * n)
    data = sample_data(n, d, seed=7)
    tw = vi_flow_twin(data, sigma2=n / NBAR, init="even", gap=1.0, cov_gap=0.3, freeze_cov=True)
    np.testing.assert_allclose(tw.covariance(0.0), tw.covariance(1e-6), rtol=1e-12)
    assert tw.C0 == pytest.approx(0.5)
    x = np.array([0.3, 1.0, 3.0])
    m = LinearVIModel(d / n, NBAR, C0=tw.C0)
    for twin, theory in zip(tw.excess_risks(x / (2 * NBAR)), m.excess_risk(x / (2 * NBAR))):
        assert np.all(np.abs(twin / theory - 1) < 3 * (1 + x) ** 1.5 / d)
    # Levi et al.'s delay is [80] with n/sigma^2 = 2 eta0 and a flat prior
    from grokphase.numerics.linear_vi_closed_forms import levi_gd_delay
    eta0 = 1.3e4
    assert levi_gd_delay(0.6, eta0) == pytest.approx(
        LinearVIModel(0.6, 2 * eta0).delay_asymptotic(), rel=1e-14)
    assert levi_gd_delay(0.6, eta0) == pytest.approx(
        math.log(1 / (1 - math.sqrt(0.6))) / (2 * eta0 * (1 - math.sqrt(0.6)) ** 2), rel=1e-14)


def test_bad_inputs():
    with pytest.raises(ValueError, match="d < n"):
        sample_data(10, 10)
    data = sample_data(10, 3)
    with pytest.raises(ValueError, match="sigma2"):
        vi_flow_twin(data, sigma2=0.0)
    with pytest.raises(ValueError, match="init"):
        vi_flow_twin(data, sigma2=1.0, init="nope")
    with pytest.raises(ValueError, match="t must"):
        vi_flow_twin(data, sigma2=1.0).means([-1.0])
