"""grokphase.testing's noise-aware assertions on synthetic estimates with known answers: a true
claim with honest errors passes; a wrong limit or slope, a model missing a 1/N^2 term, or standard
errors too small for the scatter fail."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from grokphase.testing import assert_finite_size_scaling, assert_statistically_equal, finite_size_fit

NS = np.array([32.0, 64.0, 128.0, 256.0, 512.0])


def _estimates(seed, a2=0.0, noise=0.01):
    """y(N) = 2 + 3/N + a2/N^2 + noise, with stderr that shrinks like 1/sqrt(N)."""
    se = noise * np.sqrt(64.0 / NS)
    return 2.0 + 3.0 / NS + a2 / NS**2 + se * np.random.default_rng(seed).standard_normal(NS.size), se


def test_fss_true_claim_passes_and_reports_the_fit():
    y, se = _estimates(0)
    r = assert_finite_size_scaling(NS, y, se, 2.0, 3.0)
    assert abs(r.limit - 2.0) < 4 * r.limit_se and abs(r.a1 - 3.0) < 4 * r.a1_se
    assert r.dof == 3 and 0 < r.p_fit < 1 and math.isnan(r.a2)
    assert r.z_limit == pytest.approx((r.limit - 2.0) / r.limit_se)


def test_fss_fails_on_a_wrong_limit_or_slope():
    y, se = _estimates(0)
    r = assert_finite_size_scaling(NS, y, se, 2.0)
    with pytest.raises(AssertionError, match="inconsistent") as err:
        assert_finite_size_scaling(NS, y, se, 2.0 + 5 * r.limit_se)
    assert all(f"{v:.10g}" in str(err.value) for v in y)
    with pytest.raises(AssertionError, match="a1 = 4.5"):
        assert_finite_size_scaling(NS, y, se, 2.0, 4.5)


def test_fss_fails_when_the_stderr_is_too_small():
    y, se = _estimates(1)
    assert_finite_size_scaling(NS, y, se, 2.0)
    with pytest.raises(AssertionError, match="does not fit"):
        assert_finite_size_scaling(NS, y, se / 10, 2.0)


def test_fss_fails_on_a_missing_correction_and_passes_with_it():
    y, se = _estimates(2, a2=300.0, noise=1e-3)
    with pytest.raises(AssertionError, match="does not fit"):
        assert_finite_size_scaling(NS, y, se, 2.0)
    r = assert_finite_size_scaling(NS, y, se, 2.0, 3.0, corrections=2)
    assert abs(r.a2 - 300.0) < 4 * r.a2_se and r.dof == 2


def test_fss_is_calibrated():
    """With a true claim and honest errors, both tests reject at about the stated rate."""
    sig, fails = 0.1, 0
    for seed in range(400):
        y, se = _estimates(100 + seed)
        try:
            assert_finite_size_scaling(NS, y, se, 2.0, 3.0, significance=sig)
        except AssertionError:
            fails += 1
    # P(reject) = 1 - (1 - 0.1)^2 = 0.19 (the fit and the claim tests are independent); binomial sd 0.02
    assert 0.12 < fails / 400 < 0.26


def test_fss_without_degrees_of_freedom_and_malformed_input():
    y, se = _estimates(3)
    r = assert_finite_size_scaling(NS[:2], y[:2], se[:2], 2.0)
    assert r.dof == 0 and math.isnan(r.p_fit)
    for bad in (dict(stderr=np.zeros(5)), dict(Ns=np.full(5, 64.0)), dict(corrections=3)):
        kw = dict(Ns=NS, estimates=y, stderr=se, limit=2.0) | bad
        with pytest.raises(ValueError):
            assert_finite_size_scaling(**kw)


def test_finite_size_fit_reports_what_the_assertion_rejects():
    """finite_size_fit returns the assertion's fit without raising: a wrong claim shows as a small
    p_claim, too small errors as a small p_fit; the fit is the weighted polyfit's."""
    y, se = _estimates(0)
    good = finite_size_fit(NS, y, se, 2.0, 3.0)
    np.testing.assert_equal(dataclasses.astuple(good), dataclasses.astuple(assert_finite_size_scaling(NS, y, se, 2.0, 3.0)))
    (a1, limit), cov = np.polyfit(1 / NS, y, 1, w=1 / se, cov="unscaled")
    assert (good.limit, good.a1) == pytest.approx((limit, a1), rel=1e-12)
    assert (good.limit_se, good.a1_se) == pytest.approx((np.sqrt(cov[1, 1]), np.sqrt(cov[0, 0])), rel=1e-10)
    wrong = finite_size_fit(NS, y, se, 2.0 + 5 * good.limit_se)
    assert wrong.p_claim < 1e-3 and wrong.z_limit == pytest.approx(-5.0 + good.z_limit, abs=1e-9)
    assert finite_size_fit(NS, y, se / 10, 2.0).p_fit < 1e-3
    with pytest.raises(ValueError, match="estimates must be finite"):
        finite_size_fit(NS, np.r_[y[:-1], np.nan], se, 2.0)


def test_statistically_equal_from_a_sample():
    x = np.random.default_rng(4).normal(3.0, 2.0, 400)        # se = 0.1
    z = assert_statistically_equal(x, None, 3.0)
    assert z == pytest.approx((x.mean() - 3.0) / (x.std(ddof=1) / 20))
    with pytest.raises(AssertionError, match="standard errors") as err:
        assert_statistically_equal(x, None, 3.5)
    assert f"{x.mean():.10g}" in str(err.value)


def test_statistically_equal_from_means_and_errors():
    assert_statistically_equal(1.03, 0.01, 1.0)
    with pytest.raises(AssertionError):
        assert_statistically_equal(1.03, 0.001, 1.0)            # stderr too small for the difference
    assert_statistically_equal(1.03, 0.005, 1.0, value_stderr=0.006)  # two independent estimates
    z = assert_statistically_equal(np.array([1.0, 2.0]), np.array([0.1, 0.1]), np.array([1.1, 1.8]), z=2.5)
    assert z.tolist() == pytest.approx([-1.0, 2.0])
    with pytest.raises(AssertionError):
        assert_statistically_equal(np.array([1.0, 2.0]), np.array([0.1, 0.1]), np.array([1.1, 1.8]), z=1.5)
    with pytest.raises(ValueError, match="standard error is 0"):
        assert_statistically_equal(1.0, 0.0, 1.0)


def test_statistically_equal_false_alarm_rate():
    """Means of 50 N(0, 1) draws: |z| > 2 in about 4.6% of 1000 seeded samples."""
    rng = np.random.default_rng(5)
    fails = 0
    for _ in range(1000):
        try:
            assert_statistically_equal(rng.standard_normal(50), None, 0.0, z=2.0)
        except AssertionError:
            fails += 1
    expected = 2 * stats.t.sf(2.0, 49)
    assert abs(fails / 1000 - expected) < 4 * math.sqrt(expected * (1 - expected) / 1000)
