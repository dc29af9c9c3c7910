"""Spinodals, equal-free-energy point, barrier, jumps and the order of the attention transition.

Model: ``docs/attention_copy.md`` §4-§6.  Works on the non-trivial stationary curve
kappa -> (g(kappa), beta(kappa)) of ``attention_saddle.branch_point_at_kappa`` and its exact slope
beta'(kappa) (implicit function theorem with the generated Hessian):

* the *minimum slope* m = min_kappa beta'(kappa) decides everything: m < 0 means an S-curve
  (softmax first order; its two folds bracket the minimiser and are found by bisection on the sign
  of beta'); m > 0 means a smooth crossover, whose location we define as the steepest point,
  beta_c := beta(argmin beta'); m = 0 is the critical end point (§5.3), found by bisection
  in L (or s_qk) on the sign of m;
* the equal-free-energy (Maxwell) point solves f_copy(beta) = f_uniform(beta) by Brent's method;
  d(f_copy - f_uniform)/d beta = (L/2)(eps_copy - eps_uniform) < 0, so the root is unique;
* linear attention: beta_c, B2 in closed form (generated from the theory); B2 > 0 second order,
  B2 < 0 weakly first order (the branch bends back to a fold at beta_sp^- < beta_c and the
  trivial point is metastable up to beta_c), B2 = 0 tricritical.  The exponent of kappa ~
  (beta - beta_c)^x is fitted at (beta - beta_c)/beta_c in [1e-6, 1e-4] (§5.4).

Assumption (true in every case we scanned, checked by tests): beta'(kappa) has a single interior
minimum on the branch, so there are zero or two folds for softmax and at most one for linear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.optimize import brentq

from grokphase.numerics import _attention_kernels as K
from grokphase.numerics.errors import ConvergenceError
from grokphase.numerics.attention_saddle import (LINEAR, SOFTMAX, branch_point_at_kappa, copy_weight,
                                                 dbeta_dkappa, free_energy, hessian, loss,
                                                 min_eig_2x2, newton_reduced)

GOLDEN = 0.5 * (3.0 - math.sqrt(5.0))
# Smallest kappa at which the branch is evaluated: beta(kappa) -> 0 (softmax) or beta_c (linear)
# as kappa -> 0, and the linear branch equation is quadratic in kappa (no underflow above 1e-150).
KAPPA_FLOOR = 1e-100


@njit(cache=True)
def _linear_end_residual(k, L, sqk, suv):
    """kappa h'(kappa) L - g h'(g) at g = 1/kappa: negative while the branch continues."""
    E = K.linear_grad(k, 1.0 / k, 0.0, L, sqk, suv)
    return k * E[0] - E[1] / k


@njit(cache=True)
def linear_branch_end(L, sqk, suv):
    """kappa_end of the linear non-trivial branch (g kappa -> 1, beta -> infinity), by bisection."""
    lo, hi = 0.0, 1.0
    while _linear_end_residual(hi, L, sqk, suv) < 0.0:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if _linear_end_residual(mid, L, sqk, suv) < 0.0:
            lo = mid
        else:
            hi = mid
    return lo


# Largest softmax copy logit used: beta(kappa) ~ e^kappa on the copy branch and the branch equation
# loses ~e^kappa * 1e-16 relative precision (4e-6 at kappa = 25), so kappa > 25 (beta >~ 1e10 at REF)
# is out of the resolved range.
KAPPA_MAX = 25.0


@njit(cache=True)
def kappa_range(kind, L, sqk, suv):
    """kappa_hi of the part of the branch that is searched: softmax KAPPA_MAX; linear just inside
    the branch end."""
    if kind == SOFTMAX:
        return KAPPA_MAX
    return linear_branch_end(L, sqk, suv) * (1.0 - 1e-9)


@njit(cache=True)
def min_slope(kind, L, sqk, suv, n_grid):
    """(kappa*, beta'(kappa*)): the minimum of beta'(kappa) on the branch.

    Grid scan on a grid dense at small kappa (quadratic spacing), then golden-section search on the
    two neighbouring cells."""
    k_hi = kappa_range(kind, L, sqk, suv)
    best, ib = np.inf, 1
    ks = np.empty(n_grid + 1)
    for i in range(n_grid + 1):
        ks[i] = k_hi * (i / n_grid) ** 2
    for i in range(1, n_grid + 1):
        s = dbeta_dkappa(kind, ks[i], L, sqk, suv)
        if s < best:
            best, ib = s, i
    a, b = ks[ib - 1], ks[min(ib + 1, n_grid)]
    if a <= 0.0:
        a = 1e-3 * ks[1]
    x1 = a + GOLDEN * (b - a)
    x2 = b - GOLDEN * (b - a)
    f1 = dbeta_dkappa(kind, x1, L, sqk, suv)
    f2 = dbeta_dkappa(kind, x2, L, sqk, suv)
    for _ in range(200):
        if b - a <= 1e-13 * (1.0 + b):
            break
        if f1 < f2:
            b, x2, f2 = x2, x1, f1
            x1 = a + GOLDEN * (b - a)
            f1 = dbeta_dkappa(kind, x1, L, sqk, suv)
        else:
            a, x1, f1 = x1, x2, f2
            x2 = b - GOLDEN * (b - a)
            f2 = dbeta_dkappa(kind, x2, L, sqk, suv)
    k = 0.5 * (a + b)
    s = dbeta_dkappa(kind, k, L, sqk, suv)
    if s < best:
        return k, s
    return ks[ib], best


@njit(cache=True)
def slope_zero(kind, a, b, L, sqk, suv):
    """kappa in (a, b) where beta'(kappa) changes sign (a fold), by bisection to machine precision."""
    sa = dbeta_dkappa(kind, a, L, sqk, suv)
    for _ in range(200):
        mid = 0.5 * (a + b)
        if mid <= a or mid >= b:
            break
        sm = dbeta_dkappa(kind, mid, L, sqk, suv)
        if (sm > 0.0) == (sa > 0.0):
            a, sa = mid, sm
        else:
            b = mid
    return 0.5 * (a + b)


@njit(cache=True)
def kappa_at_beta(kind, beta, a, b, L, sqk, suv):
    """kappa in [a, b] with beta(kappa) = beta on a monotone piece of the branch (bisection);
    nan if beta is not between beta(a) and beta(b)."""
    ba = branch_point_at_kappa(kind, a, L, sqk, suv)[1]
    bb = branch_point_at_kappa(kind, b, L, sqk, suv)[1]
    if not (min(ba, bb) <= beta <= max(ba, bb)):
        return np.nan
    up = bb > ba
    for _ in range(200):
        mid = 0.5 * (a + b)
        if mid <= a or mid >= b:
            break
        bm = branch_point_at_kappa(kind, mid, L, sqk, suv)[1]
        if (bm < beta) == up:
            a = mid
        else:
            b = mid
    return 0.5 * (a + b)


@dataclass(frozen=True)
class BranchState:
    """One stationary point (kappa, g) at beta, with its observables.

    c = A_{l,l-1} (softmax copy weight; kappa for linear attention, where A = S), w = g c (the
    amplitude of the copied token in the output), eps = per-position population MSE.
    ``residual`` = max |grad f| / (1 + beta L) and ``iterations`` come from the Newton polish at
    fixed beta; converged iff residual <= its tolerance."""

    beta: float
    kappa: float
    g: float
    c: float
    eps: float
    w: float
    free_energy: float
    min_hessian_eig: float
    converged: bool
    residual: float
    iterations: int

    @property
    def stable(self) -> bool:
        """A minimum of f (smallest Hessian eigenvalue > 0), not a saddle."""
        return self.min_hessian_eig > 0.0


def state_at(kind: int, beta: float, kappa: float, g: float, L: float, s_qk: float, s_uv: float,
             tol: float = 1e-12, max_iter: int = 50) -> BranchState:
    """Polish (kappa, g) by Newton at fixed beta and collect the observables."""
    k, gg, res, it, status = newton_reduced(kind, kappa, g, beta, L, s_qk, s_uv, tol, max_iter)
    h = hessian(kind, k, gg, beta, L, s_qk, s_uv)
    c = copy_weight(kind, k, L)
    return BranchState(beta=beta, kappa=k, g=gg, c=c, eps=loss(kind, k, gg, L), w=gg * c,
                       free_energy=free_energy(kind, k, gg, beta, L, s_qk, s_uv),
                       min_hessian_eig=min_eig_2x2(*h), converged=status == 0, residual=res,
                       iterations=it)


def trivial_state(beta: float, L: float, s_qk: float, s_uv: float) -> BranchState:
    """The exact linear-attention stationary point kappa = g = 0 (Z2 symmetric)."""
    h = hessian(LINEAR, 0.0, 0.0, beta, L, s_qk, s_uv)
    return BranchState(beta=beta, kappa=0.0, g=0.0, c=0.0, eps=1.0, w=0.0,
                       free_energy=free_energy(LINEAR, 0.0, 0.0, beta, L, s_qk, s_uv),
                       min_hessian_eig=min_eig_2x2(*h), converged=True, residual=0.0, iterations=0)


def state_on_branch(kind: int, beta: float, a: float, b: float, L: float, s_qk: float, s_uv: float):
    """The stationary point at beta on the monotone piece kappa in [a, b], or None."""
    k = kappa_at_beta(kind, beta, a, b, L, s_qk, s_uv)
    if math.isnan(k):
        return None
    g = branch_point_at_kappa(kind, k, L, s_qk, s_uv)[0]
    return state_at(kind, beta, k, g, L, s_qk, s_uv)


@dataclass(frozen=True)
class TransitionResult:
    """Where and how the copy state appears.

    order: 'first', 'second', 'crossover', 'tricritical', or 'critical' (softmax within numerical
        resolution of its critical end point: spinodal window narrower than 1e-9 beta).
    beta_c: equal-free-energy point (first order), critical point (second/tricritical), or the
        steepest point of the crossover.
    beta_spinodal: (lo, hi) where the copy branch appears and the uniform/trivial branch stops
        being a minimum (first order only), else None.
    jump: (dc, dg, deps) copy minus uniform at beta_c (first order), else None.
    exponent: fitted x in kappa ~ (beta - beta_c)^x (second order: 1/2; tricritical: 1/4), else None.
    uniform, copy, unstable: BranchState at beta_c (unstable = the barrier top; None if absent).
    barrier: f(unstable) - f(stable) at beta_c, per N (first order), else None.
    min_slope: min over the branch of beta'(kappa) (< 0 iff an S-curve), at kappa_min_slope.
    B2: the linear pitchfork coefficient (None for softmax).
    converged: every reported state passed its Newton tolerance and every root was bracketed.
    """

    kind: str
    L: float
    s_qk: float
    s_uv: float
    order: str
    beta_c: float
    beta_spinodal: tuple[float, float] | None
    jump: tuple[float, float, float] | None
    exponent: float | None
    uniform: BranchState | None
    copy: BranchState | None
    unstable: BranchState | None
    barrier: float | None
    min_slope: float
    kappa_min_slope: float
    B2: float | None = None
    converged: bool = True


N_GRID = 400
RESOLUTION = 1e-9  # relative width of a spinodal window below which the transition is critical


def _all_converged(*states) -> bool:
    return all(st.converged for st in states if st is not None)


def _maxwell(kind, lo_piece, hi_piece, b_lo, b_hi, L, s_qk, s_uv, lower_state=None):
    """Brent on f_copy(beta) - f_lower(beta) over [b_lo, b_hi]; lower_state(beta) overrides the
    lower branch (the linear trivial point)."""
    def lower(beta):
        return lower_state(beta) if lower_state else state_on_branch(kind, beta, *lo_piece, L, s_qk, s_uv)

    def df(beta):
        hi, lo = state_on_branch(kind, beta, *hi_piece, L, s_qk, s_uv), lower(beta)
        if hi is None or lo is None:
            raise ConvergenceError(f"Maxwell point: a branch is missing at beta={beta!r} (L={L}, s_qk={s_qk}, "
                                   f"s_uv={s_uv})")
        return hi.free_energy - lo.free_energy

    span = b_hi - b_lo
    try:
        bc = brentq(df, b_lo + 1e-13 * span, b_hi - 1e-13 * span, xtol=1e-14 * b_hi, rtol=1e-15, maxiter=200)
    except ValueError as err:  # not bracketed: the window is below the resolution of f
        raise ConvergenceError(f"Maxwell point not bracketed in ({b_lo!r}, {b_hi!r}) (L={L}, s_qk={s_qk}, "
                               f"s_uv={s_uv}): {err}") from err
    return bc, lower(bc), state_on_branch(kind, bc, *hi_piece, L, s_qk, s_uv)


def _fit_exponent(kind, beta_c, k_hi, L, s_qk, s_uv):
    deltas = np.logspace(-6, -4, 9)
    ks = np.array([kappa_at_beta(kind, beta_c * (1 + d), KAPPA_FLOOR, k_hi, L, s_qk, s_uv) for d in deltas])
    return float(np.polyfit(np.log(deltas), np.log(ks), 1)[0])


def analyse_softmax(L, s_qk, s_uv) -> TransitionResult:
    ks, m = min_slope(SOFTMAX, L, s_qk, s_uv, N_GRID)
    common = dict(kind="softmax", L=L, s_qk=s_qk, s_uv=s_uv, min_slope=m, kappa_min_slope=ks)
    g, b = branch_point_at_kappa(SOFTMAX, ks, L, s_qk, s_uv)
    if m >= 0.0:
        st = state_at(SOFTMAX, b, ks, g, L, s_qk, s_uv)
        return TransitionResult(order="crossover", beta_c=b, beta_spinodal=None, jump=None, exponent=None,
                                uniform=st, copy=st, unstable=None, barrier=None, converged=st.converged,
                                **common)
    k_hi = kappa_range(SOFTMAX, L, s_qk, s_uv)
    k1 = slope_zero(SOFTMAX, KAPPA_FLOOR, ks, L, s_qk, s_uv)   # local max of beta: upper spinodal
    k2 = slope_zero(SOFTMAX, ks, k_hi, L, s_qk, s_uv)          # local min of beta: lower spinodal
    b_hi = branch_point_at_kappa(SOFTMAX, k1, L, s_qk, s_uv)[1]
    b_lo = branch_point_at_kappa(SOFTMAX, k2, L, s_qk, s_uv)[1]
    if b_hi - b_lo <= RESOLUTION * b_hi:
        st = state_at(SOFTMAX, b, ks, g, L, s_qk, s_uv)
        return TransitionResult(order="critical", beta_c=b, beta_spinodal=(b_lo, b_hi), jump=None,
                                exponent=None, uniform=st, copy=st, unstable=None, barrier=None,
                                converged=st.converged, **common)
    # the copy piece only needs to reach past the upper spinodal (beta grows ~ e^kappa on it)
    k_hi = k2 + 1.0
    while branch_point_at_kappa(SOFTMAX, k_hi, L, s_qk, s_uv)[1] < b_hi:
        k_hi += 1.0
    bc, uni, cop = _maxwell(SOFTMAX, (KAPPA_FLOOR, k1), (k2, k_hi), b_lo, b_hi, L, s_qk, s_uv)
    mid = state_on_branch(SOFTMAX, bc, k1, k2, L, s_qk, s_uv)
    return TransitionResult(order="first", beta_c=bc, beta_spinodal=(b_lo, b_hi),
                            jump=(cop.c - uni.c, cop.g - uni.g, cop.eps - uni.eps), exponent=None,
                            uniform=uni, copy=cop, unstable=mid, barrier=mid.free_energy - uni.free_energy,
                            converged=_all_converged(uni, cop, mid), **common)


def analyse_linear(L, s_qk, s_uv) -> TransitionResult:
    bc = K.linear_beta_c(L, s_qk, s_uv)
    B2 = K.linear_B2(L, s_qk, s_uv)
    k_hi = kappa_range(LINEAR, L, s_qk, s_uv)
    ks, m = min_slope(LINEAR, L, s_qk, s_uv, N_GRID)
    common = dict(kind="linear", L=L, s_qk=s_qk, s_uv=s_uv, min_slope=m, kappa_min_slope=ks, B2=B2)
    triv = trivial_state(bc, L, s_qk, s_uv)
    # B2 in units of its natural size beta_c / k0^2 (k0^2 = s_qk / (sqrt(L) s_uv), generated)
    b2_rel = B2 * K.linear_kappa_scale2(L, s_qk, s_uv) / bc
    window = 0.0
    if B2 < 0.0:
        kf = slope_zero(LINEAR, ks, k_hi, L, s_qk, s_uv)  # beta decreases from beta_c, then turns
        b_lo = branch_point_at_kappa(LINEAR, kf, L, s_qk, s_uv)[1]
        window = (bc - b_lo) / bc
    if B2 >= 0.0 or window <= RESOLUTION:
        order = "tricritical" if abs(b2_rel) <= 1e-6 or B2 < 0.0 else "second"
        return TransitionResult(order=order, beta_c=bc, beta_spinodal=None, jump=None,
                                exponent=_fit_exponent(LINEAR, bc, k_hi, L, s_qk, s_uv),
                                uniform=triv, copy=triv, unstable=None, barrier=None, **common)
    b_c1, uni, cop = _maxwell(LINEAR, None, (kf, k_hi), b_lo, bc, L, s_qk, s_uv,
                              lower_state=lambda b: trivial_state(b, L, s_qk, s_uv))
    mid = state_on_branch(LINEAR, b_c1, KAPPA_FLOOR, kf, L, s_qk, s_uv)
    return TransitionResult(order="first", beta_c=b_c1, beta_spinodal=(b_lo, bc),
                            jump=(cop.c - uni.c, cop.g - uni.g, cop.eps - uni.eps), exponent=None,
                            uniform=uni, copy=cop, unstable=mid, barrier=mid.free_energy - uni.free_energy,
                            converged=_all_converged(uni, cop, mid), **common)
