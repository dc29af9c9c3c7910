"""Reduced saddle points of the attention model: generated kernels vs SymPy, Newton vs the
parametric branch, continuation vs parametric, folds, Maxwell point and the spec's anchors (§6)."""

import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import log1p

from grokphase.numerics import _attention_kernels as K
from grokphase.numerics import attention_branches as B
from grokphase.numerics import attention_saddle as A
from grokphase.numerics import attention_transition as TR
from grokphase.theory import attention_copy as T

REF = (8.0, 0.25, 9.0)


@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_generated_kernels_match_high_precision_sympy(kind):
    """The compiled f, gradient and Hessian agree with the SymPy expressions at 30 digits."""
    S = T.symbols()
    f = T.free_energy(kind).replace(log1p, lambda a: sp.log(1 + a))
    v = (S["kappa"], S["g"])
    code = A.SOFTMAX if kind == "softmax" else A.LINEAR
    rng = np.random.default_rng(3)
    for _ in range(5):
        kk, gg = rng.uniform(0.01, 3.0), rng.uniform(0.01, 3.0)
        b, L, sq, su = rng.uniform(0.1, 20), float(rng.integers(2, 20)), rng.uniform(0.1, 2), rng.uniform(0.5, 10)
        subs = {S["kappa"]: kk, S["g"]: gg, S["beta"]: b, S["L"]: L, S["s_qk"]: sq, S["s_uv"]: su}
        exact = [float(sp.N(e.subs(subs), 30)) for e in
                 [f, sp.diff(f, v[0]), sp.diff(f, v[1]), sp.diff(f, v[0], 2), sp.diff(f, *v), sp.diff(f, v[1], 2)]]
        got = [A.free_energy(code, kk, gg, b, L, sq, su), *A.gradient(code, kk, gg, b, L, sq, su),
               *A.hessian(code, kk, gg, b, L, sq, su)]
        np.testing.assert_allclose(got, exact, rtol=1e-11, atol=1e-11)


def test_cramer_rate_accurate_at_small_and_large_x():
    # h ~ x^2/(2 s^2) at small x (full relative precision) and ~ x/s - log(x/s)/2 - 1/2 at large x
    assert K.cramer_h(1e-8, 0.5) == pytest.approx(1e-16 / 0.5, rel=1e-12)
    assert K.cramer_h(1e6, 1.0) == pytest.approx(1e6 - 0.5 * np.log(1e6) - 0.5, rel=1e-12)


@pytest.mark.parametrize("kind,params", [(A.SOFTMAX, REF), (A.LINEAR, REF), (A.LINEAR, (8.0, 0.25, 4.0)),
                                         (A.SOFTMAX, (4.0, 0.5, 2.0))])
def test_parametric_branch_is_stationary_and_continuation_follows_it(kind, params):
    """Two independent routes: bisection at fixed kappa, and pseudo-arclength continuation in beta."""
    L, sq, su = params
    if kind == A.SOFTMAX:
        ks = np.linspace(0.01, 3.0, 50)
    else:
        ks = np.linspace(0.01, 0.99, 50) * TR.linear_branch_end(L, sq, su)
    g, b, f, mins, eps = A.stationary_curve(kind, ks, L, sq, su)
    for kk, gg, bb in zip(ks, g, b):
        G = A.gradient(kind, kk, gg, bb, L, sq, su)
        assert max(abs(G[0]), abs(G[1])) <= 1e-12 * (1 + bb * L)
    bmax = float(np.nanmax(b))
    curve = B.trace_curve(kind, L, sq, su, bmax)
    inside = (curve.kappa > 0.011) & (curve.kappa < ks[-1])
    g2, b2, *_ = A.stationary_curve(kind, curve.kappa[inside], L, sq, su)
    np.testing.assert_allclose(curve.g[inside], g2, rtol=1e-10)
    np.testing.assert_allclose(curve.beta[inside], b2, rtol=1e-10)


def test_continuation_finds_the_softmax_folds_and_the_unstable_branch():
    curve = B.trace_curve(A.SOFTMAX, *REF, 20.0)
    assert list(curve.pieces) == ["uniform", "unstable", "copy"]
    t = TR.analyse_softmax(*REF)
    i0, i1 = curve.pieces["unstable"]
    assert np.all(curve.min_hessian_eig[i0 + 1:i1 - 1] < 0)
    for name in ("uniform", "copy"):
        a, b = curve.pieces[name]
        assert np.all(curve.min_hessian_eig[a + 1:b - 1] > 0)
    # the trace turns at the exactly refined spinodals (extrema of beta along the curve), never
    # beyond; the closest traced point lies within half a step (ds <= 0.05 in (kappa, g, log beta))
    # of the fold, where log beta deviates quadratically: <= curvature * ds^2 / 8 ~ 5e-3.
    top, bottom = curve.beta[:i1].max(), curve.beta[i0:].min()
    assert t.beta_spinodal[1] * (1 - 5e-3) <= top <= t.beta_spinodal[1] * (1 + 1e-12)
    assert t.beta_spinodal[0] * (1 - 1e-12) <= bottom <= t.beta_spinodal[0] * (1 + 5e-3)


def test_spec_anchor_values_softmax_ref():
    t = TR.analyse_softmax(*REF)
    assert t.order == "first"
    assert t.beta_spinodal[0] == pytest.approx(12.2611, abs=1e-4)
    assert t.beta_c == pytest.approx(12.9682, abs=1e-4)
    assert t.beta_spinodal[1] == pytest.approx(14.2626, abs=1e-4)
    u, c = t.uniform, t.copy
    assert (u.kappa, u.c, u.g, u.eps) == pytest.approx((0.1792, 0.1459, 1.1618, 0.8303), abs=1e-4)
    assert (c.kappa, c.c, c.g, c.eps) == pytest.approx((1.1512, 0.3111, 1.8890, 0.4118), abs=1e-4)
    # equal free energies at beta_c, the folds are where beta'(kappa) = 0, the barrier is positive
    assert u.free_energy == pytest.approx(c.free_energy, abs=1e-12)
    assert t.barrier > 0 and t.unstable.min_hessian_eig < 0


def test_spec_anchor_values_linear_ref():
    t = TR.analyse_linear(*REF)
    assert t.order == "second"
    assert t.beta_c == pytest.approx(0.157135, abs=1e-6)
    assert t.B2 == pytest.approx(4.686, abs=1e-3)
    assert t.exponent == pytest.approx(0.5, abs=2e-3)
    # beta'(kappa) -> 2 B2 kappa at the pitchfork
    kk = 1e-4
    assert A.dbeta_dkappa(A.LINEAR, kk, *REF) == pytest.approx(2 * t.B2 * kk, rel=1e-3)


def test_newton_reports_failure_honestly():
    # start at a fold-free but far point with one iteration and an impossible tolerance
    k, g, res, it, status = A.newton_reduced(A.SOFTMAX, 0.6, 1.5, 12.97, *REF, 1e-30, 3)
    assert status == A.MAX_ITER and res > 1e-30 and it == 3
