"""Sampler output in ArviZ's layout (posterior + sample_stats, dims (chain, draw)) and the package's
split R-hat / ESS against ArviZ's on seeded chains."""

import warnings

import numpy as np
import pytest

from grokphase.testing import assert_statistically_equal
from grokphase.validation.copy_attention import CopyModel, data_statistic, neg_log_posterior, prior_draw
from grokphase.validation.samplers import (HMCResult, SamplerRun, effective_sample_size, estimate, hmc, langevin,
                                           split_rhat)


def _ar1(rng, phi, m, n, offsets=0.0):
    """m stationary AR(1) chains of length n (unit innovations), shifted by ``offsets``."""
    x = np.empty((m, n))
    x[:, 0] = rng.standard_normal(m) / np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + rng.standard_normal(m)
    return x + np.reshape(offsets, (-1, 1))


@pytest.fixture(scope="module")
def run():
    m = CopyModel(L=4, N=16)
    rng = np.random.default_rng(7)
    C = data_statistic(4, 160)
    return m, C, hmc(m, prior_draw(m, 4, rng), C, rng, n_iter=400)


def test_hmc_result_is_in_arviz_layout(run):
    m, C, res = run
    assert isinstance(res, HMCResult) and isinstance(res, SamplerRun)
    post, stats = res.posterior, res.sample_stats
    assert post["c"].dims == ("chain", "draw") and post.sizes == {"chain": 4, "draw": 200}
    assert set(post.data_vars) == {"c", "g", "eps", "kappa_hat", "self_weight", "w", "g_kappa_hat"}
    assert set(stats.data_vars) == {"acceptance_rate", "step_size", "energy", "lp", "diverging"}
    assert post.attrs["L"] == 4 and type(post.attrs["L"]) is int and post.attrs["s_u"] == 3.0
    assert post.attrs["n_iter"] == 400 and post.attrs["warmup"] == 200 and post.attrs["umbrella"] is False
    # one name, one observable: w = g c as in attention.solve; g kappa_hat has its own name
    np.testing.assert_array_equal(post.w, post.g * post.c)
    np.testing.assert_array_equal(post.g_kappa_hat, post.g * post.kappa_hat)
    # the old attributes still work
    np.testing.assert_array_equal(res.draws["g"], post.g.values)
    assert res.acceptance.shape == (4,) and res.step_size.shape == (4,)
    # sample_stats are consistent with the sampler: lp of the last draw is -U of the final state,
    # energy = -lp + kinetic >= -lp, the used steps are the adapted ones jittered by +-20%
    U, _ = neg_log_posterior(m, res.final, C, with_grad=False)
    np.testing.assert_allclose(stats.lp.values[:, -1], -U, rtol=1e-12)
    assert np.all(stats.energy.values + stats.lp.values >= 0)
    ratio = stats.step_size.values / res.step_size[:, None]
    assert ratio.min() >= 0.8 and ratio.max() <= 1.2
    a, div = stats.acceptance_rate.values, stats.diverging.values
    assert a.min() >= 0 and a.max() <= 1 and np.all(a[div] == 0.0) and div.mean() < 0.05
    # mean Metropolis probability and the accepted fraction estimate the same acceptance
    assert abs(a.mean() - res.acceptance.mean()) < 0.05


def test_to_inference_data_agrees_with_our_diagnostics(run):
    az = pytest.importorskip("arviz")
    _, _, res = run
    idata = res.to_inference_data()
    assert set(idata.groups()) >= {"posterior", "sample_stats"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat = az.rhat(idata, method="split")
        bfmi = az.bfmi(idata)
    for name in ("c", "g", "eps"):
        assert float(rhat[name]) == pytest.approx(split_rhat(res.posterior[name].values), rel=1e-12)
    assert bfmi.shape == (4,) and np.all(np.isfinite(bfmi)) and np.all(bfmi > 0)


def test_split_rhat_equals_arviz_split_method():
    """Same estimator (BDA3 split R-hat on raw draws): equal to rounding for an even number of draws.
    (ArviZ's default method='rank' rank-normalises and folds, a different statistic.)"""
    az = pytest.importorskip("arviz")
    rng = np.random.default_rng(11)
    for phi, offsets in ((0.0, 0.0), (0.7, 0.0), (0.9, [0.0, 0.0, 0.5, 1.0]), (0.3, [0.0, 2.0, 0.0, 2.0])):
        x = _ar1(rng, phi, 4, 1000, offsets)
        ours = split_rhat(x)
        assert ours == pytest.approx(float(az.rhat(az.convert_to_dataset(x), method="split")["x"]), rel=1e-12)
    assert ours > 1.2          # the shifted chains are flagged by both


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_ess_agrees_with_arviz_and_with_the_ar1_truth(phi):
    """Our ESS against ``arviz.ess(method='identity')`` (no chain splitting, no rank normalisation:
    the same autocovariances, FFT-based and divided by n).  They still differ by construction:
    ArviZ normalises the autocorrelation by the pooled variance including the between-chain term
    (O(tau / n) per lag), pairs lags as Geyer's (2k, 2k + 1) with the initial monotone sequence,
    and truncates differently from our pairs (1, 2), (3, 4), ... stopped at the first negative
    pair.  On 4 x 4000 draws these differences are of the order of the ESS's own sampling error
    (a few percent; measured at most 6.6% over 20 seeds for phi <= 0.9), hence rel = 0.10.  Both
    must also be near the exact AR(1) value m n (1 - phi) / (1 + phi) (rel = 0.15)."""
    az = pytest.importorskip("arviz")
    rng = np.random.default_rng(int(100 * phi) + 5)
    x = _ar1(rng, phi, 4, 4000)
    ours = effective_sample_size(x)
    theirs = float(az.ess(az.convert_to_dataset(x), method="identity")["x"])
    assert ours == pytest.approx(theirs, rel=0.10)
    truth = 16000 * (1 - phi) / (1 + phi)
    assert ours == pytest.approx(truth, rel=0.15) and theirs == pytest.approx(truth, rel=0.15)


def test_estimate_combines_mean_se_and_rhat(rng):
    x = _ar1(rng, 0.5, 4, 2000) + 3.0
    e = estimate(x)
    assert e.mean == x.mean() and e.rhat == split_rhat(x) and e.ess == effective_sample_size(x)
    assert e.se == pytest.approx(x.std(ddof=1) / np.sqrt(e.ess), rel=1e-15)
    # the standard error is honest: |mean - 3| within 4 se
    assert_statistically_equal(e.mean, e.se, 3.0, z=4)


def test_langevin_trajectory_layout_and_time():
    m = CopyModel(L=4, N=16)
    rng = np.random.default_rng(4)
    C = data_statistic(4, 20)
    tr = langevin(m, prior_draw(m, 3, rng), C, rng, 1e-3, 500, 100)
    assert isinstance(tr, SamplerRun) and tr.posterior.c.dims == ("chain", "draw")
    np.testing.assert_allclose(tr.posterior.t.values, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert tr.posterior.attrs["eta"] == 1e-3 and tr.posterior.attrs["record_every"] == 100
    # the first record is the start: lp = -U(theta0)
    th0 = prior_draw(m, 3, np.random.default_rng(4))
    np.testing.assert_allclose(tr.sample_stats.lp.values[:, 0], -neg_log_posterior(m, th0, C, with_grad=False)[0],
                               rtol=1e-12)
    with pytest.raises(ValueError, match="name"):
        tr.estimate("nope")


def test_umbrella_run_pools_its_windows():
    from grokphase.validation.umbrella import UmbrellaRun, sample_windows

    r = sample_windows(16, n_iter=40, seed=0, kappa0=np.array([0.0, 0.5, 1.0]), chains_per=2, k_b=2.0)
    assert isinstance(r, UmbrellaRun) and r.posterior.sizes == {"chain": 6, "draw": 20}
    assert r.posterior.window.values.tolist() == [0, 0, 1, 1, 2, 2]
    assert r.posterior.kappa0.values.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
    np.testing.assert_array_equal(r.posterior.loss, 8 * r.posterior.eps)     # l = L eps, L = 8
    s = r.pooled()
    assert s.kappa0.tolist() == [0.0, 0.5, 1.0] and s.k_b == 2.0 and s.N == 16
    np.testing.assert_array_equal(s.kappa_hat, r.posterior.kappa_hat.values.ravel())
    assert np.bincount(s.window).tolist() == [40, 40, 40]
    assert s.alpha0 == r.posterior.attrs["alpha0"] == round(s.alpha0 * 16) / 16


def test_sampler_progress_bars_are_shown_only_when_asked_and_change_no_draw(capsys, monkeypatch):
    """progress=True: a bar on stderr; False: no output at all; None (not a terminal here): none.
    The bar draws no random numbers, so the chains are the same with and without it."""
    from grokphase._progress import progress_bar

    m = CopyModel(L=4, N=8)
    C = data_statistic(4, 40)
    runs = {}
    for flag in (True, False, None):
        rng = np.random.default_rng(3)
        theta = prior_draw(m, 2, rng)
        runs[flag] = (hmc(m, theta, C, rng, n_iter=20, n_leapfrog=3, progress=flag),
                      langevin(m, theta, C, rng, eta=1e-3, n_steps=30, record_every=10, progress=flag))
        captured = capsys.readouterr()
        assert captured.out == ""
        if flag:
            assert "HMC:" in captured.err and "/20" in captured.err and "Langevin:" in captured.err
        else:
            assert captured.err == ""
    for flag in (False, None):
        for a, b in zip(runs[True], runs[flag]):
            assert a.posterior.identical(b.posterior)
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)   # as if on a terminal
    rng = np.random.default_rng(3)
    hmc(m, prior_draw(m, 2, rng), C, rng, n_iter=20, n_leapfrog=3)          # None on a terminal: shown
    assert "HMC:" in capsys.readouterr().err
    with progress_bar(2, progress=True, desc="outer") as outer:         # a bar inside another: quiet by default
        hmc(m, prior_draw(m, 2, rng), C, rng, n_iter=20, n_leapfrog=3)
        outer.update(2)
    err = capsys.readouterr().err
    assert "outer" in err and "HMC" not in err
    hmc(m, prior_draw(m, 2, rng), C, rng, n_iter=20, n_leapfrog=3)          # the outer bar closed: shown again
    assert "HMC:" in capsys.readouterr().err
    with pytest.raises(ValueError, match="progress"):
        progress_bar(1, progress="yes")
