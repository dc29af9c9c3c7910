"""Finite-N copy-task posterior: exact gradient, and HMC against analytic truths."""

import math

import numpy as np
import pytest

from grokphase.testing import assert_statistically_equal
from grokphase.validation.copy_attention import (CopyModel, data_statistic, neg_log_posterior, observables,
                                                  prior_draw)
from grokphase.validation.copy_posterior import copy_posterior_means
from grokphase.validation.samplers import effective_sample_size, split_rhat


@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_gradient_matches_finite_differences(rng, kind):
    m = CopyModel(L=4, N=6, kind=kind)
    th = prior_draw(m, 3, rng)
    C = np.stack([data_statistic(4, 50, rng) for _ in range(3)])
    U, G = neg_log_posterior(m, th, C)
    h = 1e-5
    for t, gt in zip(th, G):
        flat = t.reshape(-1)
        for idx in rng.choice(flat.size, 6, replace=False):
            c = np.unravel_index(idx, t.shape)[0]
            old = flat[idx]
            flat[idx] = old + h
            up = neg_log_posterior(m, th, C, False)[0][c]
            flat[idx] = old - h
            um = neg_log_posterior(m, th, C, False)[0][c]
            flat[idx] = old
            assert (up - um) / (2 * h) == pytest.approx(gt.reshape(-1)[idx], rel=1e-6, abs=1e-8)


def test_energy_is_the_population_loss_for_whitened_data(rng):
    """Tr[(Pi - gA) C (Pi - gA)^T]/(2 sigma^2) with C = P I equals P l(S, g) / (2 sigma^2)."""
    m = CopyModel(L=5, N=8, sigma2=2.0)
    th = prior_draw(m, 2, rng)
    U, _ = neg_log_posterior(m, th, data_statistic(5, 30), with_grad=False)
    U0, _ = neg_log_posterior(m, th, data_statistic(5, 0), with_grad=False)
    obs = observables(m, th)
    np.testing.assert_allclose(U - U0, 30 * 5 * obs["eps"] / (2 * 2.0), rtol=1e-12)


def test_hmc_samples_the_prior_at_beta_zero():
    """No data: g = u.v/N has mean 0 and variance s_uv^2/N exactly; kappa_hat has mean 0."""
    N, s_uv = 16, 9.0
    r = copy_posterior_means(0.0, N=N, L=4, s_qk=0.25, s_uv=s_uv, n_chains=8, n_iter=600, seed=1)
    assert r.acceptance > 0.6
    assert_statistically_equal(r["g"].mean, r["g"].se, 0.0, z=4)
    assert_statistically_equal(r["kappa_hat"].mean, r["kappa_hat"].se, 0.0, z=4)
    assert r["g"].rhat < 1.1


def test_hmc_variance_of_g_under_the_prior():
    from grokphase.validation.samplers import hmc

    N, L = 16, 4
    m = CopyModel(L=L, N=N, s_u=3.0, s_v=3.0)
    rng = np.random.default_rng(2)
    res = hmc(m, prior_draw(m, 8, rng), data_statistic(L, 0), rng, n_iter=600)
    g = res.draws["g"]
    var = float((g**2).mean())
    # standard error of the second moment from its own effective sample size
    se = float((g**2).std() / np.sqrt(effective_sample_size(g**2)))
    assert_statistically_equal(var, se, 81.0 / N, z=4)
    assert split_rhat(g) < 1.1


def test_diagnostics_on_known_draws(rng):
    iid = rng.standard_normal((4, 2000))
    assert split_rhat(iid) == pytest.approx(1.0, abs=0.01)
    assert effective_sample_size(iid) == pytest.approx(8000, rel=0.15)
    shifted = iid + np.arange(4)[:, None]
    assert split_rhat(shifted) > 1.5
    ar = np.zeros((4, 4000))
    for t in range(1, 4000):  # AR(1) with phi = 0.9: ESS = n (1 - phi) / (1 + phi)
        ar[:, t] = 0.9 * ar[:, t - 1] + rng.standard_normal(4)
    assert effective_sample_size(ar) == pytest.approx(16000 * 0.1 / 1.9, rel=0.3)


def test_linear_reduced_posterior_gradient(rng):
    from grokphase.validation import copy_reduced as R

    kw = dict(N=20, L=4, beta=0.4, s_q=0.5, s_k=0.5, s_u=3.0, s_v=3.0)
    z = (rng.standard_normal((3, 4)) * 0.3 - 1.4, rng.standard_normal(3) * 0.1 + 2.2, rng.standard_normal(3) + 2)
    U, G = R.neg_log_posterior(z, **kw)
    h = 1e-6
    for t, gt in zip(z, G):
        flat = t.reshape(-1)
        for idx in range(min(4, flat.size)):
            c = np.unravel_index(idx, t.shape)[0]
            old = flat[idx]
            flat[idx] = old + h
            up = R.neg_log_posterior(z, **kw)[0][c]
            flat[idx] = old - h
            um = R.neg_log_posterior(z, **kw)[0][c]
            flat[idx] = old
            assert (up - um) / (2 * h) == pytest.approx(gt.reshape(-1)[idx], rel=1e-6, abs=1e-7)


def test_linear_reduced_posterior_is_the_theory_expression(rng):
    """U(a, r, g) = -log p of ``linear_reduced_log_posterior`` (all L(L-1)/2 Vandermonde factors
    written out symbolically) minus the Jacobian sum(a) + r, up to no constant."""
    import sympy as sp

    from grokphase.theory import attention_copy as T
    from grokphase.validation import copy_reduced as R

    L = 3
    kw = dict(N=20, L=L, beta=0.4, s_q=0.5, s_k=0.7, s_u=3.0, s_v=2.0)
    lp = T.linear_reduced_log_posterior(L)
    lam, rho, g, N, beta, s_q, s_k, s_u, s_v = lp["symbols"]
    f = sp.lambdify((*lam, rho, g), lp["log_posterior"].subs({N: 20, beta: 0.4, s_q: 0.5, s_k: 0.7, s_u: 3.0,
                                                               s_v: 2.0}), "math")
    w = sp.lambdify((*lam, g), lp["w_mean"].subs({beta: 0.4, s_k: 0.7}), "math")
    z = (rng.standard_normal((4, L)) * 0.3 - 1.4, rng.standard_normal(4) * 0.1 + 2.2, rng.standard_normal(4) + 2)
    U = R.neg_log_posterior(z, **kw)[0]
    ref = [-f(*np.exp(a), math.exp(r), gg) - a.sum() - r for a, r, gg in zip(*z)]
    np.testing.assert_allclose(U, ref, rtol=1e-13)
    np.testing.assert_allclose(R.w_given(z, beta=0.4, s_k=0.7), [w(*np.exp(a), gg) for a, gg in zip(z[0], z[2])],
                               rtol=1e-13)


def test_linear_reduced_sampler_agrees_with_full_hmc():
    """Spec §8: at equal N the exact reduced posterior and full HMC give the same w, within the
    combined statistical error (4 sigma)."""
    beta = 0.5
    red = copy_posterior_means(beta, N=24, L=4, kind="linear", sampler="reduced", n_chains=8, n_iter=1000, seed=3)
    full = copy_posterior_means(beta, N=24, L=4, kind="linear", sigma2=10.0, start="copy", n_chains=8,
                                n_iter=1000, seed=4)
    assert red["w"].rhat < 1.1 and full["w"].rhat < 1.1
    assert_statistically_equal(red["w"].mean, red["w"].se, full["w"].mean, value_stderr=full["w"].se, z=4)
    # linear attention: w = g c and g kappa_hat have the same posterior mean (the off-copy scores
    # average to zero), which is why the reduced sampler's w also estimates g_kappa_hat
    g_kh = full["g_kappa_hat"]
    assert_statistically_equal(g_kh.mean, g_kh.se, full["w"].mean, value_stderr=full["w"].se, z=4)
    assert set(red.estimates) == {"w"} and set(full.estimates) == {"c", "g", "eps", "w", "kappa_hat", "g_kappa_hat"}
    with pytest.raises(ValueError, match="sampler"):
        copy_posterior_means(beta, N=24, L=4, kind="softmax", sampler="gibbs")


def test_value_integrated_gradient_and_agreement_with_full_hmc(rng):
    """Spec §2.3: the value path integrated out exactly; gradient by finite differences, and
    the same posterior means as full HMC at equal N within the combined error (4 sigma)."""
    from grokphase.validation import copy_reduced as R

    m = CopyModel(L=4, N=6)
    Q, K, u, v = prior_draw(m, 3, rng)
    z = (Q, K, np.log(np.full(3, 9.0)) + 0.1 * rng.standard_normal(3))
    C = data_statistic(4, 40, rng)
    U, G = R.value_integrated_neg_log_posterior(m, z, C)
    h = 1e-6
    for t, gt in zip(z, G):
        flat = t.reshape(-1)
        for idx in range(3):
            c = np.unravel_index(idx, t.shape)[0]
            old = flat[idx]
            flat[idx] = old + h
            up = R.value_integrated_neg_log_posterior(m, z, C)[0][c]
            flat[idx] = old - h
            um = R.value_integrated_neg_log_posterior(m, z, C)[0][c]
            flat[idx] = old
            assert (up - um) / (2 * h) == pytest.approx(gt.reshape(-1)[idx], rel=1e-6, abs=1e-7)
    full = copy_posterior_means(16.0, N=16, L=4, start="copy", n_chains=8, n_iter=800, seed=5)
    red = copy_posterior_means(16.0, N=16, L=4, start="copy", sampler="reduced", n_chains=8, n_iter=800, seed=6)
    keys = ("c", "g", "eps", "w")
    assert_statistically_equal([full[k].mean for k in keys], [full[k].se for k in keys], [red[k].mean for k in keys],
                               value_stderr=[red[k].se for k in keys], z=4)


def test_posterior_means_is_a_frozen_result_with_its_draws():
    """The result object: frozen, typed request, estimates recomputable from its own draws, w = g c
    (the observable attention.solve calls w), converged iff every split R-hat < 1.1."""
    import dataclasses

    from grokphase.validation.copy_posterior import RHAT_MAX, CopyPosteriorMeans

    r = copy_posterior_means(13.0, N=16, L=4, start="copy", n_chains=4, n_iter=200, seed=2)
    assert isinstance(r, CopyPosteriorMeans) and (r.beta, r.N, r.L, r.kind, r.sampler) == (13.0, 16, 4, "softmax", "hmc")
    assert r.P == round(13.0 * 16) and type(r.N) is int
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.beta = 1.0
    with pytest.raises(TypeError):
        r.estimates["c"] = None
    post = r.run.posterior
    assert post.attrs["beta"] == 13.0 and post.attrs["start"] == "copy" and post.c.dims == ("chain", "draw")
    for name in ("c", "w", "g_kappa_hat"):
        x = post[name].values
        assert r[name].mean == x.mean() and r[name].rhat == split_rhat(x)
        assert r[name].se == pytest.approx(x.std(ddof=1) / np.sqrt(effective_sample_size(x)), rel=1e-15)
    np.testing.assert_array_equal(post.w, post.g * post.c)
    assert r.converged == (max(e.rhat for e in r.estimates.values()) < RHAT_MAX) and r.rhat_max >= r["c"].rhat
    lin = copy_posterior_means(0.5, N=24, L=4, kind="linear", sampler="reduced", n_chains=4, n_iter=100, seed=2)
    with pytest.raises(KeyError, match="estimates w"):
        lin["c"]
    with pytest.raises(ValueError, match="beta"):
        copy_posterior_means(float("nan"), N=24, L=4, kind="linear", sampler="reduced")


def test_linear_reduced_sampler_starts_for_every_N_above_L_plus_1():
    """The reduced sampler's start exists for every N > L + 1 (the old one, log(1 - 1.8 sqrt(L/N)),
    was undefined for N <= 25 at L = 8 and gave w = NaN): at N = 16, L = 8 the exact reduced
    posterior and full HMC give the same w within 4 combined standard errors; N = L + 2 is finite."""
    red = copy_posterior_means(0.3, N=16, L=8, kind="linear", sampler="reduced", n_chains=8, n_iter=2000, seed=1)
    full = copy_posterior_means(0.3, N=16, L=8, kind="linear", sigma2=10.0, start="copy", n_chains=8,
                                n_iter=2000, seed=2)
    assert np.isfinite(red["w"].mean) and red["w"].rhat < 1.1 and full["w"].rhat < 1.1
    assert abs(red["w"].mean - full["w"].mean) < 4 * np.hypot(red["w"].se, full["w"].se)
    edge = copy_posterior_means(0.3, N=10, L=8, kind="linear", sampler="reduced", n_iter=400)
    assert all(np.isfinite(v) for v in (edge["w"].mean, edge["w"].se, edge["w"].rhat)) and edge.acceptance > 0.3
    with pytest.raises(ValueError, match=r"N must be an integer >= 10"):
        copy_posterior_means(0.3, N=9, L=8, kind="linear", sampler="reduced")
