"""grokphase.testing's sequence assertions on synthetic sequences with known answers: true claims
pass, and false ones (wrong limit, wrong order or exponent, non-monotone approach) fail."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grokphase.testing import assert_power_law, assert_rate, assert_ratio_tends_to, assert_tends_to

XS = 10.0 * 2.0 ** np.arange(8)          # 10 .. 1280


def _shows_sequence(err, values):
    msg = str(err.value)
    assert all(f"{v:.10g}" in msg for v in values), msg


# ------------------------------------------------------------------------------- assert_tends_to

def test_tends_to_passes_and_fails_on_the_last_point():
    v = 2.0 + 1.0 / np.arange(1, 11)
    assert_tends_to(v, 2.0, atol=0.101)
    assert_tends_to(v, 2.0, rtol=0.0505)
    with pytest.raises(AssertionError, match="ends") as err:
        assert_tends_to(v, 2.0, atol=0.09)
    _shows_sequence(err, v)
    with pytest.raises(AssertionError, match="ends"):
        assert_tends_to(v, 2.2, atol=0.05, monotone=False)   # wrong limit


def test_tends_to_detects_a_non_monotone_approach():
    v = np.array([1.0, 0.1, 0.5, 1e-4])
    assert_tends_to(v, 0.0, atol=1e-3, monotone=False)
    with pytest.raises(AssertionError, match="k = 1 to k = 2") as err:
        assert_tends_to(v, 0.0, atol=1e-3)
    _shows_sequence(err, v)


def test_tends_to_one_sided_approach():
    below, above = 1.0 - 0.5 ** np.arange(6), 1.0 + 0.5 ** np.arange(6)
    assert_tends_to(below, 1.0, atol=0.04, monotone="increasing")
    assert_tends_to(above, 1.0, atol=0.04, monotone="decreasing")
    with pytest.raises(AssertionError, match="not increasing"):
        assert_tends_to(above, 1.0, atol=0.04, monotone="increasing")


def test_tends_to_rounding_slack_and_non_finite():
    v = np.array([1.0 + 1e-3, 1.0 + 1e-15, 1.0 + 2e-15])        # distance grows at rounding level only
    assert_tends_to(v, 1.0, atol=1e-12)
    with pytest.raises(AssertionError, match="grows"):
        assert_tends_to(v, 1.0, atol=1e-12, slack=0.0)
    with pytest.raises(AssertionError, match="non-finite"):
        assert_tends_to([1.0, np.nan, 1.0], 1.0, atol=1.0)


@pytest.mark.parametrize("kw", [{}, {"rtol": 1e-3}, {"atol": 1e-3, "monotone": "sideways"}])
def test_tends_to_rejects_malformed_claims(kw):
    with pytest.raises(ValueError):
        assert_tends_to([1.0, 0.5], 0.0, **kw)


@given(st.floats(-5, 5), st.floats(0.1, 10), st.floats(0.3, 3.0), st.sampled_from([-1.0, 1.0]))
def test_tends_to_property(L, C, p, sign):
    """L + C x^-p: passes at 1.01 x its final distance, fails at 0.5 x."""
    v = L + sign * C * XS ** -p
    final = C * XS[-1] ** -p
    assert_tends_to(v, L, atol=1.01 * final, monotone="decreasing" if sign > 0 else "increasing")
    with pytest.raises(AssertionError):
        assert_tends_to(v, L, atol=0.5 * final)


def test_ratio_form():
    f = np.array([3.0, 2.5, 2.1, 2.01])
    assert_ratio_tends_to(f, np.ones(4), 2.0, rtol=0.006)
    with pytest.raises(AssertionError, match="f/g"):
        assert_ratio_tends_to(f, np.ones(4), 2.0, rtol=0.004)
    with pytest.raises(AssertionError, match="grows"):
        assert_ratio_tends_to(np.array([3.0, 2.1, 2.5, 2.01]), np.ones(4), 2.0, rtol=0.006)


# ----------------------------------------------------------------------------------- assert_rate

def test_rate_true_claim_and_richardson_limit():
    v = 1.0 + 2.0 / XS + 5.0 / XS**2
    r = assert_rate(XS, v, 1.0, 1)
    assert r.local_orders[-1] == pytest.approx(1.0, abs=5e-3) and r.order_fit == pytest.approx(1.0, abs=5e-3)
    assert r.prefactor == pytest.approx(2.0, rel=2e-3)
    # Richardson removes the 2/x term: what is left is O(1/x^2) ~ 5/(640 * 1280)
    assert abs(r.limit_extrapolated - 1.0) < 1e-5 < abs(v[-1] - 1.0)
    assert abs(r.limit_extrapolated - 1.0) < r.limit_error


def test_rate_fails_on_a_wrong_order():
    v = 1.0 + 2.0 / XS**1.5
    assert_rate(XS, v, 1.0, 1.5, order_atol=1e-9)
    with pytest.raises(AssertionError, match="local orders") as err:
        assert_rate(XS, v, 1.0, 1.0)
    _shows_sequence(err, v)


def test_rate_fails_on_a_wrong_limit_even_below_the_distance():
    v = 1.0 + 2.0 / XS + 5.0 / XS**2
    with pytest.raises(AssertionError, match="vanishes or changes sign|local orders"):
        assert_rate(XS, v, 1.01, 1)                       # a gross error: the error changes sign
    # 1e-4 is 15 x smaller than the final distance: the local orders still look right (1.05),
    # Richardson's limit (1 - 6e-6 +- 2e-5) does not
    assert_rate(XS, v, 1.0 + 1e-4, 1, err_factor=0.0, atol=2e-4)
    with pytest.raises(AssertionError, match="Richardson"):
        assert_rate(XS, v, 1.0 + 1e-4, 1)


def test_rate_fails_on_oscillation_and_exact_hits():
    v = 1.0 + (-1.0) ** np.arange(8) / XS
    with pytest.raises(AssertionError, match="changes sign"):
        assert_rate(XS, v, 1.0, 1)
    with pytest.raises(AssertionError, match="vanishes"):
        assert_rate(XS, np.ones(8), 1.0, 1)
    with pytest.raises(ValueError, match="xs"):
        assert_rate(XS[::-1], v, 1.0, 1)


@given(st.floats(-3, 3), st.floats(0.1, 10), st.floats(0.5, 3.0), st.floats(-1, 1))
def test_rate_property(L, C, p, D):
    """L + C x^-p (1 + D/x) passes with the true (L, p), fails with p +- 0.3."""
    v = L + C * XS ** -p * (1 + D / XS)
    assert_rate(XS, v, L, p)
    for wrong in (p - 0.3, p + 0.3):
        with pytest.raises(AssertionError):
            assert_rate(XS, v, L, wrong)


# ------------------------------------------------------------------------------ assert_power_law

def test_power_law_reports_the_asymptotic_window():
    x = np.logspace(0, 6, 13)
    y = 3.0 * x**-1.5 * (1 + 10.0 / x)
    r = assert_power_law(x, y, -1.5, atol=0.01)
    assert r.window[1] == x[-1] and 100 < r.window[0] < x[-1] and r.n_points == np.sum(x >= r.window[0])
    assert r.exponent_fit == pytest.approx(-1.5, abs=0.01) and r.prefactor == pytest.approx(3.0, rel=0.02)
    with pytest.raises(AssertionError, match="not within"):
        assert_power_law(x, y, -1.5, atol=0.01, window=13)        # the pre-asymptotic start is not a power law


def test_power_law_critical_exponent_towards_zero():
    d = np.logspace(-1, -6, 6)                                     # beta - beta_c -> 0
    y = np.sqrt(d) * (1 + 2 * d)
    assert_power_law(d, y, 0.5, atol=0.01, monotone=True)
    with pytest.raises(AssertionError, match="only over") as err:
        assert_power_law(d, y, 0.25, atol=0.01)                   # wrong exponent
    _shows_sequence(err, y)
    assert_power_law(d, -y, 0.5, atol=0.01)                        # negative prefactor


def test_power_law_fails_on_sign_changes_and_a_crossover_not_reached():
    x = np.logspace(0, 3, 7)
    with pytest.raises(AssertionError, match="sign"):
        assert_power_law(x, np.sin(x), 0.0)
    y = x**-1.0 * (1 + 1e4 / x)                                   # still in the x^-2 regime
    with pytest.raises(AssertionError, match="only over"):
        assert_power_law(x, y, -1.0, atol=0.1)
    assert_power_law(x, y, -2.0, atol=0.1)


def test_power_law_monotone_convergence_of_slopes():
    x = 2.0 ** np.arange(8)
    y = x**0.5 * np.exp(0.01 * (-1.0) ** np.arange(8))             # slopes wobble by +-0.03
    assert_power_law(x, y, 0.5, atol=0.05)
    with pytest.raises(AssertionError, match="monotonically"):
        assert_power_law(x, y, 0.5, atol=0.05, monotone=True)


def test_power_law_least_squares_for_noisy_data():
    rng = np.random.default_rng(3)
    x = np.logspace(1, 4, 10)
    y = x**-1.0 * np.exp(0.2 * rng.standard_normal(10))
    with pytest.raises(AssertionError):
        assert_power_law(x, y, -1.0, atol=0.3)                     # single slopes scatter
    r = assert_power_law(x, y, -1.0, atol=0.3, local=False)
    assert r.n_points == 10
    with pytest.raises(AssertionError, match="log-log fit"):
        assert_power_law(x, y, -0.5, atol=0.3, local=False)


@given(st.floats(-3, 3).filter(lambda a: abs(a) > 1e-3), st.floats(0.01, 100), st.floats(-2, 2))
def test_power_law_property(a, C, D):
    """C x^a (1 + D/x) on x = 10 .. 1e6 passes for a and fails for a +- 0.1."""
    x = np.logspace(1, 6, 11)
    y = C * x**a * (1 + D / x)
    assert_power_law(x, y, a, atol=0.05)
    for wrong in (a - 0.1, a + 0.1):
        with pytest.raises(AssertionError):
            assert_power_law(x, y, wrong, atol=0.05)
