"""Transitions of the one-hot attention copy model at N = infinity (§5, §6), in Numba + SciPy.

Model: ``docs/attention_onehot.md``.  Every formula comes from the generated kernels
(``grokphase.numerics._attention_onehot_kernels``, from ``grokphase.theory.attention_onehot``);
this module only solves.  ``prior`` is the score prior, ``"product"`` or ``"gaussian"``.

Softmax (§5).  The mean gain m decouples; the copy part of f_s in (kappa, g) has the structure of
the Gaussian-token free energy (entropy weight (L - 1)/(V - 1) instead of L - 1, beta / V instead
of beta), so the same construction is used: at fixed kappa the stationarity ratio
R(g) = E_g Lambda_kappa - E_kappa Lambda_g (E the prior rates, Lambda the coefficient of beta) has one
root in (0, c/r), found by bisection, and beta(kappa) = -E_kappa / Lambda_kappa; the stationary
points are that one curve, its folds are the spinodals, and beta_c is the equal-free-energy point
(Brent).  At V = 2 the result equals the Gaussian-token solver's at beta / 2 (a test).

Linear attention (§6).  beta_c is closed form; the order of the primary pitchfork follows from the
quartic along the null vector (s_tc, generated).  The ordered branch is traced with the value gain
g as the parameter: at fixed g, Newton on grad f_l = 0 for (kappa, a, m, log beta), with the exact
tangent dy/dg as predictor.  Folds of beta(g) are the secondary spinodals; between them the
equal-free-energy point is the secondary jump; without folds the copy order parameter w_c = g kappa
is a crossover, located at the maximum of dw_c / d log beta.  The critical end point L_c2(V) of the
secondary jump is where min_g D(g) = 0, D = g beta'(g) / (beta - beta_c) (D -> 2 at the onset).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from numba import njit
from scipy.optimize import brentq, minimize_scalar

from grokphase import _checks
from grokphase.numerics import _attention_kernels as KG
from grokphase.numerics import _attention_onehot_kernels as K
from grokphase.numerics.attention_branches import COLUMNS
from grokphase.numerics.attention_phase_diagram import CriticalEndPoint, fit_end_point_exponents, jump_width_of
from grokphase.numerics.errors import ConvergenceError

PRIORS = ("product", "gaussian")
PRODUCT, GAUSSIAN = 0, 1
PRIOR_CODES = {"product": PRODUCT, "gaussian": GAUSSIAN}


# --------------------------------------------------------------------------- kernel dispatch

@njit(cache=True)
def softmax_f(p, k, g, b, L, V, sqk, suv):
    """Copy part of f_s (kappa, g) for prior code p."""
    if p == PRODUCT:
        return K.softmax_product_f(k, 0.0, g, 0.0, b, L, V, sqk, suv)
    return K.softmax_gaussian_f(k, 0.0, g, 0.0, b, L, V, sqk, suv)


@njit(cache=True)
def softmax_grad(p, k, g, b, L, V, sqk, suv):
    if p == PRODUCT:
        return K.softmax_product_grad(k, 0.0, g, 0.0, b, L, V, sqk, suv)
    return K.softmax_gaussian_grad(k, 0.0, g, 0.0, b, L, V, sqk, suv)


@njit(cache=True)
def softmax_hess(p, k, g, b, L, V, sqk, suv):
    if p == PRODUCT:
        return K.softmax_product_hess(k, 0.0, g, 0.0, b, L, V, sqk, suv)
    return K.softmax_gaussian_hess(k, 0.0, g, 0.0, b, L, V, sqk, suv)


@njit(cache=True)
def softmax_grad_beta(p, k, g, b, L, V, sqk, suv):
    if p == PRODUCT:
        return K.softmax_product_grad_beta(k, 0.0, g, 0.0, b, L, V, sqk, suv)
    return K.softmax_gaussian_grad_beta(k, 0.0, g, 0.0, b, L, V, sqk, suv)


@njit(cache=True)
def linear_f(p, y, b, L, V, sqk, suv):
    """f_l at y = (kappa, a, g, m)."""
    if p == PRODUCT:
        return K.linear_product_f(y[0], y[1], y[2], y[3], b, L, V, sqk, suv)
    return K.linear_gaussian_f(y[0], y[1], y[2], y[3], b, L, V, sqk, suv)


@njit(cache=True)
def linear_grad(p, y, b, L, V, sqk, suv):
    """Gradient of f_l, shape (4,)."""
    if p == PRODUCT:
        t = K.linear_product_grad(y[0], y[1], y[2], y[3], b, L, V, sqk, suv)
    else:
        t = K.linear_gaussian_grad(y[0], y[1], y[2], y[3], b, L, V, sqk, suv)
    return np.array([t[0], t[1], t[2], t[3]])


@njit(cache=True)
def linear_grad_beta(p, y, b, L, V, sqk, suv):
    """d(grad f_l)/d beta, shape (4,)."""
    if p == PRODUCT:
        t = K.linear_product_grad_beta(y[0], y[1], y[2], y[3], b, L, V, sqk, suv)
    else:
        t = K.linear_gaussian_grad_beta(y[0], y[1], y[2], y[3], b, L, V, sqk, suv)
    return np.array([t[0], t[1], t[2], t[3]])


@njit(cache=True)
def linear_hess(p, y, b, L, V, sqk, suv):
    """Hessian of f_l, shape (4, 4)."""
    if p == PRODUCT:
        t = K.linear_product_hess(y[0], y[1], y[2], y[3], b, L, V, sqk, suv)
    else:
        t = K.linear_gaussian_hess(y[0], y[1], y[2], y[3], b, L, V, sqk, suv)
    # static indices: some generated entries are the literal 0 (a heterogeneous tuple)
    return np.array([[t[0], t[1], t[2], t[3]],
                     [t[1], t[4], t[5], t[6]],
                     [t[2], t[5], t[7], t[8]],
                     [t[3], t[6], t[8], t[9]]], dtype=np.float64)


# --------------------------------------------------------------------------- softmax (§5)

@njit(cache=True)
def _softmax_R(p, k, g, L, V, sqk, suv):
    E = softmax_grad(p, k, g, 0.0, L, V, sqk, suv)
    Lam = softmax_grad_beta(p, k, g, 0.0, L, V, sqk, suv)
    return E[1] * Lam[0] - E[0] * Lam[1]


@njit(cache=True)
def softmax_branch_point(p, k, L, V, sqk, suv):
    """(g, beta) of the stationary point with logit gap kappa > 0 (bisection to machine precision)."""
    c, d = KG.softmax_c(k, L)
    lo, hi = 1e-300, c / (c * c + d * d / (L - 1.0))
    while hi > 4.0 * lo:  # geometric bisection first: g may be tiny
        mid = math.sqrt(lo) * math.sqrt(hi)
        if _softmax_R(p, k, mid, L, V, sqk, suv) > 0.0:
            lo = mid
        else:
            hi = mid
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if _softmax_R(p, k, mid, L, V, sqk, suv) > 0.0:
            lo = mid
        else:
            hi = mid
    g = 0.5 * (lo + hi)
    E = softmax_grad(p, k, g, 0.0, L, V, sqk, suv)
    Lam = softmax_grad_beta(p, k, g, 0.0, L, V, sqk, suv)
    return g, -E[0] / Lam[0]


@njit(cache=True)
def softmax_dbeta_dkappa(p, k, L, V, sqk, suv):
    """beta'(kappa) on the stationary curve: null vector of [Hessian | d grad/d beta]."""
    g, b = softmax_branch_point(p, k, L, V, sqk, suv)
    hkk, hkg, hgg = softmax_hess(p, k, g, b, L, V, sqk, suv)
    bk, bg = softmax_grad_beta(p, k, g, b, L, V, sqk, suv)
    tk = hkg * bg - bk * hgg
    tb = hkk * hgg - hkg * hkg
    return tb / tk


@njit(cache=True)
def softmax_mean_gain(b, L, V, suv):
    """m* minimising h(m) + (beta L / 2V)(1 - m)^2: the root of its derivative in (0, 1), by bisection."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if K.softmax_mean_grad(0.0, 0.0, 0.0, mid, b, L, V, 1.0, suv) < 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class SoftmaxState:
    """A stationary point of f_s at beta (§5).

    c = softmax copy weight A_{l,l-1}; eps = per-position population MSE (copy + mean part);
    free_energy = f_s per N (mean part included); stiffness = phi''(kappa), the curvature of
    min_g f_s (f_kk - f_kg^2 / f_gg); residual = max |grad f_s| / (1 + beta L); iterations = the
    bisection steps of the branch point."""

    beta: float
    kappa: float
    g: float
    m: float
    c: float
    eps: float
    free_energy: float
    min_hessian_eig: float
    stiffness: float
    converged: bool
    residual: float
    iterations: int

    @property
    def w(self) -> float:
        """Output copy amplitude w = g c (as for Gaussian tokens)."""
        return self.g * self.c

    @property
    def stable(self) -> bool:
        """A local minimum (min_hessian_eig > 0)."""
        return self.min_hessian_eig > 0.0


_TOL = 1e-9


def _softmax_state(p, beta, k, g, L, V, sqk, suv, iterations=0) -> SoftmaxState:
    m = softmax_mean_gain(beta, L, V, suv)
    gk, gg = softmax_grad(p, k, g, beta, L, V, sqk, suv)
    gm = K.softmax_mean_grad(0.0, 0.0, 0.0, m, beta, L, V, sqk, suv)
    res = max(abs(gk), abs(gg), abs(gm)) / (1.0 + beta * L)
    hkk, hkg, hgg = softmax_hess(p, k, g, beta, L, V, sqk, suv)
    hmm = K.softmax_mean_hess(0.0, 0.0, 0.0, m, beta, L, V, sqk, suv)
    lam_min = min(float(np.linalg.eigvalsh(np.array([[hkk, hkg], [hkg, hgg]]))[0]), hmm)
    f = softmax_f(p, k, g, beta, L, V, sqk, suv) + K.softmax_mean_f(0.0, 0.0, 0.0, m, beta, L, V, sqk, suv)
    return SoftmaxState(beta=beta, kappa=k, g=g, m=m, c=KG.softmax_c(k, L)[0],
                        eps=K.softmax_loss(k, 0.0, g, m, beta, L, V, sqk, suv), free_energy=f,
                        min_hessian_eig=lam_min, stiffness=hkk - hkg * hkg / hgg,
                        converged=bool(res <= _TOL), residual=res, iterations=iterations)


@dataclass(frozen=True)
class SoftmaxTransition:
    """The softmax transition of the one-hot model (§5).

    order: 'first' (S-shaped stationary curve) or 'crossover'.  beta_c: equal free energy (first
    order) or the steepest point of the curve (crossover).  beta_spinodal = (lo, hi) (first order).
    uniform / copy / unstable: states at beta_c; barrier = f(unstable) - f(uniform) per N.
    precursor: L c and stiffness on the uniform branch at beta_c / 2 and at beta_c (first order),
    to show how little they move before the jump.  min_slope: min beta'(kappa) on the curve.
    converged: every state met the tolerance and every root was bracketed."""

    L: float
    V: float
    s_qk: float
    s_uv: float
    prior: str
    order: str
    beta_c: float
    beta_spinodal: tuple[float, float] | None
    uniform: SoftmaxState
    copy: SoftmaxState
    unstable: SoftmaxState | None
    barrier: float | None
    precursor: dict | None
    min_slope: float
    kappa_min_slope: float
    converged: bool

    kind = "softmax"

    @property
    def jump(self) -> tuple[float, float, float] | None:
        """(dc, dg, deps): copy minus uniform branch at beta_c (first order), else None."""
        if self.order != "first":
            return None
        u, c = self.uniform, self.copy
        return (c.c - u.c, c.g - u.g, c.eps - u.eps)


def _validate(L, V, s_qk, s_uv, prior):
    return (_checks.real("L", L, 1.0, lo_open=True, note="sequence length, may be non-integer"),
            _checks.real("V", V, 1.0, lo_open=True, note="vocabulary size, may be non-integer"),
            _checks.positive("s_qk", s_qk), _checks.positive("s_uv", s_uv),
            PRIOR_CODES[_checks.choice("prior", prior, PRIORS)])


def _kappa_hi(L):
    return math.log(L) + 25.0


def _softmax_min_slope(p, L, V, sqk, suv, n_grid=400):
    k_hi = _kappa_hi(L)
    ks = k_hi * (np.arange(1, n_grid + 1) / n_grid) ** 2
    s = np.array([softmax_dbeta_dkappa(p, k, L, V, sqk, suv) for k in ks])
    i = int(np.argmin(s))
    a, b = ks[max(i - 1, 0)] if i > 0 else 1e-3 * ks[0], ks[min(i + 1, n_grid - 1)]
    r = minimize_scalar(lambda k: softmax_dbeta_dkappa(p, k, L, V, sqk, suv), bounds=(a, b), method="bounded",
                        options=dict(xatol=1e-12 * (1 + b)))
    if r.fun < s[i]:
        return float(r.x), float(r.fun), ks, s
    return float(ks[i]), float(s[i]), ks, s


def _kappa_at_beta(p, beta, a, b, L, V, sqk, suv):
    fa = softmax_branch_point(p, a, L, V, sqk, suv)[1] - beta
    fb = softmax_branch_point(p, b, L, V, sqk, suv)[1] - beta
    if fa * fb > 0:
        raise ConvergenceError(f"softmax: beta={beta!r} not on the branch piece kappa in ({a!r}, {b!r})")
    return brentq(lambda k: softmax_branch_point(p, k, L, V, sqk, suv)[1] - beta, a, b, xtol=1e-15, rtol=1e-15,
                  maxiter=300)


def _softmax_folds(p, L, V, sqk, suv):
    """(kappa_min_slope, min_slope, folds): folds = (k1, k2), the kappas of the local maximum of
    beta(kappa) (upper spinodal) and of the local minimum (lower spinodal), or None without an S-curve."""
    km, m, ks, slopes = _softmax_min_slope(p, L, V, sqk, suv)
    if m >= 0.0:
        return km, m, None
    dbk = lambda k: softmax_dbeta_dkappa(p, k, L, V, sqk, suv)  # noqa: E731
    pos = ks < km
    k_a = ks[pos][np.where(slopes[pos] > 0)[0][-1]] if np.any(slopes[pos] > 0) else 1e-8
    later = np.where((ks > km) & (slopes > 0))[0]
    if later.size == 0:
        raise ConvergenceError(f"softmax: the copy branch never turns up again (L={L}, V={V})")
    k_b = ks[later[0]]
    k1 = brentq(dbk, k_a, km, xtol=1e-15, rtol=1e-14)   # local max of beta: upper spinodal
    k2 = brentq(dbk, km, k_b, xtol=1e-15, rtol=1e-14)   # local min of beta: lower spinodal
    return km, m, (k1, k2)


def softmax_transition(L, V, s_qk, s_uv, prior: str = "product") -> SoftmaxTransition:
    """Spinodals, beta_c, branch states and barrier of softmax attention on one-hot tokens (§5).

    Parameters
    ----------
    L, V : float > 1
        Sequence length and vocabulary size (continuous, for end-point searches).
    s_qk, s_uv : float > 0
        Prior scales of the scores (product s_q s_k, or the logit std for ``prior="gaussian"``) and
        of the value path.
    prior : {"product", "gaussian"}
        The score prior (§1).
    """
    L, V, s_qk, s_uv, p = _validate(L, V, s_qk, s_uv, prior)
    km, m, folds = _softmax_folds(p, L, V, s_qk, s_uv)
    common = dict(L=L, V=V, s_qk=s_qk, s_uv=s_uv, prior=prior, min_slope=m, kappa_min_slope=km)
    if folds is None:
        g, b = softmax_branch_point(p, km, L, V, s_qk, s_uv)
        st = _softmax_state(p, b, km, g, L, V, s_qk, s_uv)
        return SoftmaxTransition(order="crossover", beta_c=b, beta_spinodal=None, uniform=st, copy=st,
                                 unstable=None, barrier=None, precursor=None, converged=st.converged, **common)
    k1, k2 = folds
    b_hi = softmax_branch_point(p, k1, L, V, s_qk, s_uv)[1]
    b_lo = softmax_branch_point(p, k2, L, V, s_qk, s_uv)[1]
    k_top = k2 + 1.0
    while softmax_branch_point(p, k_top, L, V, s_qk, s_uv)[1] < b_hi:
        k_top += 1.0

    def state(beta, a, b):
        k = _kappa_at_beta(p, beta, a, b, L, V, s_qk, s_uv)
        g = softmax_branch_point(p, k, L, V, s_qk, s_uv)[0]
        return _softmax_state(p, beta, k, g, L, V, s_qk, s_uv)

    def df(beta):
        return state(beta, k2, k_top).free_energy - state(beta, 1e-12, k1).free_energy

    span = b_hi - b_lo
    bc = brentq(df, b_lo + 1e-12 * span, b_hi - 1e-12 * span, xtol=1e-14 * b_hi, rtol=1e-15, maxiter=200)
    uni, cop, mid = state(bc, 1e-12, k1), state(bc, k2, k_top), state(bc, k1, k2)
    half = state(0.5 * bc, 1e-12, k1)
    precursor = dict(Lc_half=L * half.c, Lc_at_beta_c=L * uni.c, stiffness_half=half.stiffness,
                     stiffness_at_beta_c=uni.stiffness)
    return SoftmaxTransition(order="first", beta_c=bc, beta_spinodal=(b_lo, b_hi), uniform=uni, copy=cop,
                             unstable=mid, barrier=mid.free_energy - uni.free_energy, precursor=precursor,
                             converged=uni.converged and cop.converged and mid.converged, **common)


@dataclass(frozen=True)
class EndPoint:
    """A critical end point: the value of ``vary`` where the two folds merge (min slope = 0).

    value: L_c (or L_c2); beta: the transition point there; kappa: the copy logit (softmax) or copy
    score (linear) there; residual: |min slope| at ``value``; iterations: Brent's function
    evaluations; converged: bracketed and Brent converged."""

    vary: str
    value: float
    beta: float
    residual: float
    iterations: int
    converged: bool
    kappa: float = math.nan


def softmax_end_point(V, s_qk, s_uv, prior: str = "product", bracket=(2.5, 64.0)) -> EndPoint:
    """L_c(V): the sequence length where the softmax transition stops being first order (§5)."""
    _, V, s_qk, s_uv, p = _validate(2.0, V, s_qk, s_uv, prior)
    lo, hi = (_checks.real("bracket[0]", bracket[0], 1.0, lo_open=True), _checks.real("bracket[1]", bracket[1], 1.0))
    if not lo < hi:
        raise ValueError(f"bracket must be increasing, got {bracket!r}")
    ms = lambda L: _softmax_min_slope(p, L, V, s_qk, s_uv)[1]  # noqa: E731
    if not ms(lo) > 0.0 > ms(hi):
        raise ConvergenceError(f"softmax end point not bracketed by L in {bracket!r} (V={V})")
    Lc, r = brentq(ms, lo, hi, xtol=1e-10, rtol=1e-12, full_output=True)
    km, m, _, _ = _softmax_min_slope(p, Lc, V, s_qk, s_uv)
    return EndPoint(vary="L", value=Lc, beta=softmax_branch_point(p, km, Lc, V, s_qk, s_uv)[1],
                    residual=abs(m), iterations=r.function_calls, converged=r.converged, kappa=km)


def softmax_beta_c_asymptotic(L, V, s_qk, prior: str = "product", form: str = "leading"):
    """Large-L law of the softmax beta_c in the attention-limited regime (§5), for arrays of L (> e).

    With l = ln L and ll = ln ln L:

    * ``form="leading"``: product V/(V-1) (l + ll)/s_qk; gaussian V/(V-1) l^2/(4 s_qk^2);
    * ``form="refined"``: the same with the copy logit kappa* = (l + ll)/2 in place of l/2, i.e.
      gaussian V/(V-1) (l + ll)^2/(4 s_qk^2) (product unchanged).  Heuristic: at beta_c the copy
      branch has removed almost all of the per-position error, so beta L (V-1)/(2V) balances the score
      rate (L-1) h_S(kappa*), with h_S ~ kappa/s_qk (product) or kappa^2/(2 s_qk^2) (gaussian).
    """
    _checks.choice("prior", prior, PRIORS)
    _checks.choice("form", form, ("leading", "refined"))
    L = np.asarray(L, dtype=float)
    lnL = np.log(L)
    if prior == "product":
        return V / (V - 1) * (lnL + np.log(lnL)) / s_qk
    k2 = lnL if form == "leading" else lnL + np.log(lnL)
    return V / (V - 1) * k2**2 / (4 * s_qk**2)


def kappa_star_asymptotic(L, form: str = "leading"):
    """Copy-branch logit gap at beta_c for large L (§5): (1/2) ln L (leading) or (1/2)(ln L + ln ln L)."""
    _checks.choice("form", form, ("leading", "refined"))
    lnL = np.log(np.asarray(L, dtype=float))
    return 0.5 * lnL if form == "leading" else 0.5 * (lnL + np.log(lnL))


def tokens_at_transition(L, beta_c, sigma2, N):
    """P* in tokens: L beta_c sigma^2 N (sequences P = alpha N with alpha = beta sigma^2) (§5)."""
    return L * beta_c * sigma2 * N


# --------------------------------------------------------------------------- states at a given beta

#: Tiny copy logits prepended to the sampled curve: beta(kappa) ~ kappa^(1/2) near 0, so they reach
#: beta ~ 1e-150 on the uniform branch.
_TINY_KAPPAS = (1e-300, 1e-200, 1e-100, 1e-50, 1e-24, 1e-12)


@lru_cache(maxsize=64)
def _softmax_curve(p, L, V, sqk, suv, n_grid=400):
    """The stationary curve sampled in kappa, with its folds as sample points (so beta(kappa) is
    monotone between consecutive samples): (kappa, beta) arrays, shape (n,)."""
    _, _, folds = _softmax_folds(p, L, V, sqk, suv)
    grid = _kappa_hi(L) * (np.arange(1, n_grid + 1) / n_grid) ** 2
    ks = np.unique(np.concatenate([_TINY_KAPPAS, grid, folds or ()]))
    ks.setflags(write=False)
    bs = np.array([softmax_branch_point(p, k, L, V, sqk, suv)[1] for k in ks])
    bs.setflags(write=False)
    return ks, bs


def softmax_stable_states(beta, L, V, s_qk, s_uv, prior: str = "product") -> list[SoftmaxState]:
    """Every local minimum of f_s at ``beta`` (§5), by increasing kappa: one, or two between the
    spinodals (the uniform branch first, then the copy branch).

    The stationary curve beta(kappa) is sampled with its folds included, each stable crossing of
    ``beta`` (beta increasing with kappa) is refined by Brent to machine precision.  beta = 0 gives
    kappa = g = 0.  Raises ValueError for beta beyond the resolved copy branch
    (kappa <= ln L + 25) or below 1e-149 (but > 0).
    """
    L, V, s_qk, s_uv, p = _validate(L, V, s_qk, s_uv, prior)
    beta = _checks.nonnegative("beta", beta)
    if beta == 0.0:
        return [_softmax_state(p, 0.0, 0.0, 0.0, L, V, s_qk, s_uv)]
    ks, bs = _softmax_curve(p, L, V, s_qk, s_uv)
    if not bs[0] <= beta <= bs[-1]:
        raise ValueError(f"beta must be 0 or in [{bs[0]:.3g}, {bs[-1]:.4g}] (the resolved branch, copy logit "
                         f"kappa <= {ks[-1]:.4g}) at L={L:g}, V={V:g}; got {beta!r}")
    d = bs - beta
    out = []
    for i in np.flatnonzero((d[:-1] <= 0) & (d[1:] > 0)):
        k = _kappa_at_beta(p, beta, ks[i], ks[i + 1], L, V, s_qk, s_uv)
        g = softmax_branch_point(p, k, L, V, s_qk, s_uv)[0]
        out.append(_softmax_state(p, beta, k, g, L, V, s_qk, s_uv))
    if not out:
        raise ConvergenceError(f"softmax: no stable stationary point at beta={beta!r} (L={L}, V={V})")
    return out


# --------------------------------------------------------------------------- linear attention (§6)

@njit(cache=True)
def _linear_system(p, X, L, V, sqk, suv):
    """Residual grad f_l (4,), its Jacobian (4, 5) in X = (kappa, a, g, m, log beta), and the Hessian."""
    x = X[:4].copy()
    b = math.exp(X[4])
    F = linear_grad(p, x, b, L, V, sqk, suv)
    H = linear_hess(p, x, b, L, V, sqk, suv)
    J = np.empty((4, 5))
    J[:, :4] = H
    J[:, 4] = linear_grad_beta(p, x, b, L, V, sqk, suv) * b
    return F, J, H


@njit(cache=True)
def _drop(J, q):
    """The 4x4 matrix of the columns of J other than q."""
    out = np.empty((4, 4))
    c = 0
    for j in range(5):
        if j != q:
            out[:, c] = J[:, j]
            c += 1
    return out


@njit(cache=True)
def linear_solve_fixed(p, X0, q, L, V, sqk, suv, tol, max_iter):
    """Newton for grad f_l = 0 with coordinate q of X = (kappa, a, g, m, log beta) held fixed
    (q = 2: at fixed g; q = 4: at fixed beta), from X0; backtracking on |grad f_l|^2.

    Returns (X, residual, iterations, ok); residual = max |grad f_l| / (1 + beta L)."""
    X = X0.copy()
    F, J, _ = _linear_system(p, X, L, V, sqk, suv)
    res = np.max(np.abs(F)) / (1.0 + math.exp(X[4]) * L)
    it = 0
    while res > tol:
        if it >= max_iter:
            return X, res, it, False
        it += 1
        step = np.linalg.solve(_drop(J, q), -F)
        full = np.zeros(5)
        c = 0
        for j in range(5):
            if j != q:
                full[j] = step[c]
                c += 1
        merit = F @ F
        t = 1.0
        ok = False
        for _ in range(40):
            Xn = X + t * full
            Fn, Jn, _ = _linear_system(p, Xn, L, V, sqk, suv)
            mn = Fn @ Fn
            if math.isfinite(mn) and mn < merit:
                X, F, J = Xn, Fn, Jn
                ok = True
                break
            t *= 0.5
        if not ok:
            return X, res, it, False
        res = np.max(np.abs(F)) / (1.0 + math.exp(X[4]) * L)
    return X, res, it, True


@njit(cache=True)
def linear_tangent(p, X, L, V, sqk, suv):
    """Unit tangent of the branch at X (shape (5,)): the null vector of the 4x5 Jacobian of
    grad f_l in X = (kappa, a, g, m, log beta), from its SVD; the sign is arbitrary."""
    _, J, _ = _linear_system(p, X, L, V, sqk, suv)
    return np.linalg.svd(J)[2][4].copy()


@njit(cache=True)
def linear_trace(p, X0, L, V, sqk, suv, beta_max, tol, max_points):
    """Trace the ordered branch from X0 (near the onset, g increasing) until beta >= beta_max.

    Local parametrisation: each step holds fixed the coordinate that moves fastest relatively,
    log g or log beta (near folds of beta the former, where g saturates or turns back the latter),
    with the tangent as predictor and its orientation kept continuous.  The step adapts so that
    Newton converges in <= 6 iterations and neither log g nor log beta moves by more than 0.02.
    Returns (Xs (n, 5), Ts (n, 5) oriented unit tangents, status): 0 reached beta_max, 1 too many
    points, 2 step underflow."""
    Xs = np.empty((max_points, 5))
    Ts = np.empty((max_points, 5))
    X = X0.copy()
    t = linear_tangent(p, X, L, V, sqk, suv)
    if t[2] < 0.0:
        t = -t
    Xs[0] = X
    Ts[0] = t
    n = 1
    h = 0.01
    while n < max_points:
        if math.exp(X[4]) >= beta_max:
            return Xs[:n], Ts[:n], 0
        if h < 1e-13:
            return Xs[:n], Ts[:n], 2
        rate_g = abs(t[2]) / X[2]    # |d log g| per unit arclength
        rate_u = abs(t[4])           # |d log beta| per unit arclength
        if rate_g >= rate_u:
            q, ds = 2, h / rate_g
        else:
            q, ds = 4, h / rate_u
        Xp = X + t * ds
        Xn, res, it, ok = linear_solve_fixed(p, Xp, q, L, V, sqk, suv, tol, 30)
        if (not ok) or it > 6 or abs(Xn[4] - X[4]) > 0.02 or not (Xn[2] > 0.0) \
                or abs(math.log(Xn[2] / X[2])) > 0.02 or (Xn - X) @ t <= 0.0:
            h *= 0.5
            continue
        tn = linear_tangent(p, Xn, L, V, sqk, suv)
        if tn @ t < 0.0:
            tn = -tn
        X, t = Xn, tn
        Xs[n] = X
        Ts[n] = t
        n += 1
        if it <= 3:
            h = min(1.5 * h, 0.02)
    return Xs[:n], Ts[:n], 1


@dataclass(frozen=True)
class LinearState:
    """A stationary point of f_l (§6): order parameters, observables w_c = g kappa, w_a = g a,
    w_m = a m, per-position MSE eps, free energy per N; residual / iterations from Newton."""

    beta: float
    kappa: float
    a: float
    g: float
    m: float
    w_c: float
    w_a: float
    w_m: float
    eps: float
    free_energy: float
    min_hessian_eig: float
    converged: bool
    residual: float
    iterations: int

    @property
    def stable(self) -> bool:
        """A local minimum (min_hessian_eig > 0)."""
        return self.min_hessian_eig > 0.0


def _linear_state(p, X, L, V, sqk, suv, res, it, beta=None) -> LinearState:
    b = math.exp(X[4]) if beta is None else beta
    k, a, g, m = (float(v) for v in X[:4])
    x = X[:4].copy()
    H = linear_hess(p, x, b, L, V, sqk, suv)
    return LinearState(beta=b, kappa=k, a=a, g=g, m=m, w_c=g * k, w_a=g * a, w_m=a * m,
                       eps=K.linear_loss(k, a, g, m, b, L, V, sqk, suv),
                       free_energy=linear_f(p, x, b, L, V, sqk, suv),
                       min_hessian_eig=float(np.linalg.eigvalsh(H)[0]), converged=bool(res <= _TOL),
                       residual=float(res), iterations=int(it))


@dataclass(frozen=True)
class LinearTransition:
    """Linear attention on one-hot tokens (§6).

    beta_c, s_tc: closed forms (generated); primary_order: 'second' (s > s_tc) or 'first'.
    onset_channel: 'mean' or 'copy', the larger share of the critical null vector (scaled,
    multiplicities included).  secondary: 'jump' (a first-order jump of w_c inside the ordered
    phase) or 'crossover'.  For a jump: beta_c2 (equal free energy), beta_spinodal2, the two
    states at beta_c2 and jump_w_c.  For a crossover: beta_steepest = argmax dw_c/d log beta,
    w_c_steepest and max_slope there.  min_D: min_g g beta'(g) / (beta - beta_c) on the branch (< 0 iff folds).
    First-order onset (s < s_tc): beta_c is then the stability limit of the symmetric point; the
    transition is beta_c1 (the ordered state's free energy equals the origin's, beta L / 2), the ordered
    branch appears at the fold beta_spinodal1 < beta_c1 < beta_c, ``ordered`` is its state at beta_c1,
    and the secondary analysis is not done (secondary = 'not analysed').
    converged: trace reached beta_max, and every state and root converged."""

    L: float
    V: float
    s_qk: float
    s_uv: float
    prior: str
    beta_c: float
    s_tc: float
    primary_order: str
    onset_channel: str
    secondary: str
    beta_c2: float | None
    beta_spinodal2: tuple[float, float] | None
    low: LinearState | None
    high: LinearState | None
    jump_w_c: float | None
    beta_steepest: float | None
    w_c_steepest: float | None
    max_slope: float | None
    min_D: float
    n_points: int
    converged: bool
    beta_c1: float | None = None
    beta_spinodal1: float | None = None
    ordered: LinearState | None = None

    kind = "linear"

    @property
    def order(self) -> str:
        """The order of the primary onset (= primary_order), the field name of the Gaussian-token result."""
        return self.primary_order

    @property
    def beta_onset(self) -> float:
        """Where the ordered phase becomes the equilibrium: beta_c (continuous onset) or beta_c1 (first order)."""
        return self.beta_c1 if self.primary_order == "first" else self.beta_c


def linear_beta_c(L, V, s_qk, s_uv) -> float:
    """beta_c = V / (s sqrt(L mu)) of the primary pitchfork (§6); the same for both score priors."""
    L, V, s_qk, s_uv, _ = _validate(L, V, s_qk, s_uv, "product")
    return K.linear_beta_c(L, V, s_qk, s_uv)


def linear_s_tc(L, V, prior: str = "product") -> float:
    """Tricritical s = s_qk s_uv of the primary pitchfork (§6): continuous iff s > s_tc."""
    L, V, _, _, p = _validate(L, V, 1.0, 1.0, prior)
    return K.linear_product_s_tc(L, V) if p == PRODUCT else K.linear_gaussian_s_tc(L, V)


def _null_vector(L, V):
    """Critical null vector in scaled coordinates (kappa/s_qk, a/s_qk, g/s_uv, m/s_uv), u_g = 1
    (the closed form of the theory module's linear_null_vector, evaluated)."""
    A, B = V - 1.0, L - 1.0
    mu = ((A + B + 1) + math.sqrt((A - B) ** 2 + 2 * (A + B) + 1)) / 2
    x = V / math.sqrt(L * mu)
    uk = x * A / V
    ua = (V**2 - x**2 * (L * V - L - V + 1)) / (V * x)
    um = x * L * ua / V
    return np.array([uk, ua, 1.0, um])


class _Branch:
    """The traced ordered branch X = (kappa, a, g, m, log beta) and helpers.

    ``gs``, ``D``, ``dB`` cover the part where g increases (from the onset to the maximum of g, if g
    turns back at very large beta); re-solving at a given g (Newton from the nearest traced point)
    is only done there."""

    def __init__(self, p, L, V, sqk, suv, beta_max_factor, tol=1e-12, max_points=200000):
        self.p, self.L, self.V, self.sqk, self.suv, self.tol = p, L, V, sqk, suv, tol
        self.bc = K.linear_beta_c(L, V, sqk, suv)
        u = _null_vector(L, V)
        g0 = 1e-5 * suv
        t = g0 / suv
        X0 = np.array([t * u[0] * sqk, t * u[1] * sqk, g0, t * u[3] * suv, math.log(self.bc)])
        X0, res, it, ok = linear_solve_fixed(p, X0, 2, L, V, sqk, suv, tol, 50)
        if not ok:
            raise ConvergenceError(f"linear: no ordered branch found near the onset (L={L}, V={V})")
        self.Xs, self.Ts, self.status = linear_trace(p, X0, L, V, sqk, suv, beta_max_factor * self.bc, tol,
                                                     max_points)
        turn = np.where(self.Ts[:, 2] <= 0.0)[0]
        self.n_mono = int(turn[0]) if turn.size else len(self.Xs)
        Xm, Tm = self.Xs[:self.n_mono], self.Ts[:self.n_mono]
        self.gs = Xm[:, 2]
        b = np.exp(Xm[:, 4])
        self.dB = b * Tm[:, 4] / Tm[:, 2]        # beta'(g)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.D = np.where(b > self.bc, self.gs * self.dB / (b - self.bc), 2.0)

    def solve(self, g):
        """X on the branch at value gain g; raises ConvergenceError if Newton fails."""
        i = int(np.clip(np.searchsorted(self.gs, g), 1, len(self.gs) - 1))
        i = i if abs(self.gs[i] - g) < abs(self.gs[i - 1] - g) else i - 1
        X0 = self.Xs[i] + self.Ts[i] * (g - self.gs[i]) / self.Ts[i, 2]
        X0[2] = g
        X, res, it, ok = linear_solve_fixed(self.p, X0, 2, self.L, self.V, self.sqk, self.suv, self.tol, 50)
        if not ok:
            raise ConvergenceError(f"linear: Newton failed at g={g!r} (L={self.L}, V={self.V})")
        return X, res, it

    def _t(self, X):
        t = linear_tangent(self.p, X, self.L, self.V, self.sqk, self.suv)
        return t / t[2]                          # dX/dg

    def dbeta(self, X):
        """beta'(g) at the branch point X."""
        return math.exp(X[4]) * self._t(X)[4]

    def D_at(self, g):
        X = self.solve(g)[0]
        return g * self.dbeta(X) / (math.exp(X[4]) - self.bc)

    def slope(self, g):
        """dw_c / d log beta at g."""
        X = self.solve(g)[0]
        t = self._t(X)
        return (X[0] + g * t[0]) / t[4]

    def state(self, g):
        X, res, it = self.solve(g)
        return _linear_state(self.p, X, self.L, self.V, self.sqk, self.suv, res, it)


def _min_D(br: _Branch):
    """min over the branch of D (refined by a bounded search around the grid minimum)."""
    i = int(np.argmin(br.D))
    lo, hi = br.gs[max(i - 1, 0)], br.gs[min(i + 1, len(br.gs) - 1)]
    if 0 < i < len(br.gs) - 1:
        r = minimize_scalar(lambda lg: br.D_at(math.exp(lg)), bounds=(math.log(lo), math.log(hi)),
                            method="bounded", options=dict(xatol=1e-10))
        if r.fun < br.D[i]:
            return float(r.fun)
    return float(br.D[i])


def _first_order_onset(br: _Branch, none: dict, common: dict) -> LinearTransition:
    """The weakly first-order primary onset (s < s_tc): fold, equal-free-energy point with the origin."""
    if not br.dB[1] < 0:
        raise ConvergenceError(f"linear: s < s_tc but the branch bends forward (L={br.L}, V={br.V})")
    j = int(np.where(br.dB > 0)[0][0])
    gf = brentq(lambda g: br.dbeta(br.solve(g)[0]), br.gs[j - 1], br.gs[j], xtol=1e-14, rtol=1e-14)
    b_sp = math.exp(br.solve(gf)[0][4])
    k_end = int(np.searchsorted(np.exp(br.Xs[j:br.n_mono, 4]), br.bc)) + j
    g_end = br.gs[min(k_end, len(br.gs) - 1)]

    def state(beta):
        g = brentq(lambda g: br.solve(g)[0][4] - math.log(beta), gf, g_end, xtol=1e-15, rtol=1e-15)
        return br.state(g)

    def df(beta):
        return state(beta).free_energy - beta * br.L / 2          # f at the origin is beta L / 2

    span = br.bc - b_sp
    bc1 = brentq(df, b_sp + 1e-12 * span, br.bc * (1 - 1e-12), xtol=1e-14 * br.bc, rtol=1e-15)
    st = state(bc1)
    return LinearTransition(primary_order="first", secondary="not analysed", min_D=-math.inf, n_points=len(br.Xs),
                            converged=br.status == 0 and st.converged, beta_c1=bc1, beta_spinodal1=b_sp, ordered=st,
                            **none, **common)


def linear_transition(L, V, s_qk, s_uv, prior: str = "product", beta_max_factor: float = 1e4) -> LinearTransition:
    """Primary pitchfork, then secondary jump or crossover of w_c, for linear attention (§6).

    The ordered branch is traced up to beta = beta_max_factor * beta_c.  Only the case s > s_tc
    (continuous primary onset) has its secondary analysis; for s <= s_tc the primary order is
    reported as 'first' and the secondary fields are None.
    """
    L, V, s_qk, s_uv, p = _validate(L, V, s_qk, s_uv, prior)
    beta_max_factor = _checks.real("beta_max_factor", beta_max_factor, 10.0)
    bc = K.linear_beta_c(L, V, s_qk, s_uv)
    stc = K.linear_product_s_tc(L, V) if p == PRODUCT else K.linear_gaussian_s_tc(L, V)
    u = _null_vector(L, V)
    copy_w, mean_w = (L - 1) * u[0] ** 2 + (V - 1) * u[2] ** 2, u[1] ** 2 + u[3] ** 2
    common = dict(L=L, V=V, s_qk=s_qk, s_uv=s_uv, prior=prior, beta_c=bc, s_tc=stc,
                  onset_channel="mean" if mean_w > copy_w else "copy")
    none = dict(beta_c2=None, beta_spinodal2=None, low=None, high=None, jump_w_c=None, beta_steepest=None,
                w_c_steepest=None, max_slope=None)
    br = _Branch(p, L, V, s_qk, s_uv, beta_max_factor)
    if s_qk * s_uv <= stc:
        return _first_order_onset(br, none, common)
    dB = br.dB
    ok = br.status == 0
    mD = _min_D(br)
    sign = np.where(np.diff(np.sign(dB)) != 0)[0]
    if sign.size == 0:
        w = br.gs * br.Xs[:br.n_mono, 0]
        lb = br.Xs[:br.n_mono, 4]
        sl = np.gradient(w, lb)
        i = int(np.argmax(sl))
        lo, hi = br.gs[max(i - 1, 0)], br.gs[min(i + 1, len(br.gs) - 1)]
        r = minimize_scalar(lambda lg: -br.slope(math.exp(lg)), bounds=(math.log(lo), math.log(hi)),
                            method="bounded", options=dict(xatol=1e-10))
        st = br.state(math.exp(r.x))
        return LinearTransition(primary_order="second", secondary="crossover", beta_c2=None, beta_spinodal2=None,
                                low=None, high=None, jump_w_c=None, beta_steepest=st.beta,
                                w_c_steepest=float(st.w_c),
                                max_slope=float(-r.fun), min_D=mD, n_points=len(br.Xs),
                                converged=ok and st.converged, **common)
    if sign.size != 2:
        raise ConvergenceError(f"linear: {sign.size} folds on the ordered branch (L={L}, V={V}); expected 0 or 2")
    folds = [brentq(lambda g: br.dbeta(br.solve(g)[0]), br.gs[j], br.gs[j + 1], xtol=1e-14, rtol=1e-14)
             for j in sign]
    g1, g2 = folds  # local max of beta (low piece ends), local min (high piece starts)
    b_hi, b_lo = math.exp(br.solve(g1)[0][4]), math.exp(br.solve(g2)[0][4])
    g_top = br.gs[-1]

    def g_at(beta, a, b):
        return brentq(lambda g: br.solve(g)[0][4] - math.log(beta), a, b, xtol=1e-15, rtol=1e-15)

    def df(beta):
        return br.state(g_at(beta, g2, g_top)).free_energy - br.state(g_at(beta, br.gs[0], g1)).free_energy

    span = b_hi - b_lo
    bc2 = brentq(df, b_lo + 1e-12 * span, b_hi - 1e-12 * span, xtol=1e-14 * b_hi, rtol=1e-15)
    low, high = br.state(g_at(bc2, br.gs[0], g1)), br.state(g_at(bc2, g2, g_top))
    return LinearTransition(primary_order="second", secondary="jump", beta_c2=bc2, beta_spinodal2=(b_lo, b_hi),
                            low=low, high=high, jump_w_c=high.w_c - low.w_c, beta_steepest=None, w_c_steepest=None,
                            max_slope=None, min_D=mD, n_points=len(br.Xs),
                            converged=ok and low.converged and high.converged, **common)


def linear_end_point(V, s_qk, s_uv, prior: str = "product", bracket=(8.0, 512.0),
                     beta_max_factor: float = 1e4) -> EndPoint:
    """L_c2(V): the sequence length above which the secondary jump of w_c exists (§6).

    Brent on min_g D(g) = 0 in L (D < 0 iff the ordered branch folds)."""
    _, V, s_qk, s_uv, p = _validate(2.0, V, s_qk, s_uv, prior)
    lo, hi = (_checks.real("bracket[0]", bracket[0], 1.0, lo_open=True), _checks.real("bracket[1]", bracket[1], 1.0))
    if not lo < hi:
        raise ValueError(f"bracket must be increasing, got {bracket!r}")

    def mD(L):
        return _min_D(_Branch(p, L, V, s_qk, s_uv, beta_max_factor))

    if not mD(lo) > 0.0 > mD(hi):
        raise ConvergenceError(f"linear end point not bracketed by L in {bracket!r} (V={V})")
    Lc, r = brentq(mD, lo, hi, xtol=1e-8, rtol=1e-10, full_output=True)
    br = _Branch(p, Lc, V, s_qk, s_uv, beta_max_factor)
    i = int(np.argmin(br.D))
    return EndPoint(vary="L", value=Lc, beta=float(math.exp(br.Xs[i, 4])), residual=abs(_min_D(br)),
                    iterations=r.function_calls, converged=r.converged and br.status == 0,
                    kappa=float(br.Xs[i, 0]))


def linear_stable_states(beta, L, V, s_qk, s_uv, prior: str = "product", tol: float = 1e-12,
                         max_iter: int = 100) -> list[LinearState]:
    """The ordered local minima of f_l at ``beta`` (§6) with g > 0, by increasing g: none below the
    onset (or below the fold beta_spinodal1 of a first-order onset), one, or two between the
    secondary spinodals (the low-w_c state first).

    The ordered branch is traced as in ``linear_transition`` (up to 2 beta, at least 10 beta_c); each
    stable crossing of ``beta`` (beta increasing with g) is refined by Brent, then by Newton at fixed
    beta to ``tol`` within ``max_iter`` iterations.  ``converged``: residual <= ``tol``.
    """
    L, V, s_qk, s_uv, p = _validate(L, V, s_qk, s_uv, prior)
    beta = _checks.positive("beta", beta)
    tol = _checks.real("tol", tol, 0.0, 1.0, lo_open=True)
    max_iter = _checks.integer("max_iter", max_iter, 1)
    br = _Branch(p, L, V, s_qk, s_uv, max(10.0, 2.0 * beta / K.linear_beta_c(L, V, s_qk, s_uv)))
    return _states_on_branch(br, beta, tol, max_iter)


def _states_on_branch(br: _Branch, beta: float, tol: float, max_iter: int) -> list[LinearState]:
    """``linear_stable_states`` on an already traced branch (which must reach ``beta``).

    Stable pieces are where beta increases along the trace.  On the part where g increases, a
    crossing is refined by Brent in g (robust next to the secondary folds); beyond the maximum of g
    (large beta, long contexts) from the interpolated trace by Newton at fixed beta."""
    target = math.log(beta)
    d = br.Xs[:, 4] - target
    out = []
    for i in np.flatnonzero((d[:-1] <= 0) & (d[1:] > 0)):   # beta increasing along the trace: stable
        if i + 1 < br.n_mono:
            g = brentq(lambda g: br.solve(g)[0][4] - target, br.gs[i], br.gs[i + 1], xtol=1e-15, rtol=1e-15)
            X = br.solve(g)[0]
        else:
            u = -d[i] / (d[i + 1] - d[i])
            X = br.Xs[i] + u * (br.Xs[i + 1] - br.Xs[i])
        X[4] = target
        X, res, it, ok = linear_solve_fixed(br.p, X, 4, br.L, br.V, br.sqk, br.suv, tol, max_iter)
        out.append(replace(_linear_state(br.p, X, br.L, br.V, br.sqk, br.suv, res, it, beta=beta),
                           converged=bool(ok and res <= tol)))
    if not out and beta > br.bc:
        raise ConvergenceError(f"linear: no ordered minimum found at beta={beta!r} above the pitchfork "
                               f"(L={br.L}, V={br.V})")
    return out

def linear_origin(beta, L, V, s_qk, s_uv, prior: str = "product") -> LinearState:
    """The symmetric point kappa = a = g = m = 0 at ``beta`` (stationary by the Z2 symmetry)."""
    L, V, s_qk, s_uv, p = _validate(L, V, s_qk, s_uv, prior)
    beta = _checks.nonnegative("beta", beta)
    origin = np.array([0.0, 0.0, 0.0, 0.0, math.log(beta) if beta > 0 else 0.0])
    return _linear_state(p, origin, L, V, s_qk, s_uv, 0.0, 0, beta=beta)


def linear_states_on_grid(betas, L, V, s_qk, s_uv, prior: str = "product", tol: float = 1e-12,
                          max_iter: int = 100) -> list[list[LinearState]]:
    """``linear_stable_states`` at every beta of ``betas`` (shape (nb,), > 0) from one traced branch."""
    L, V, s_qk, s_uv, p = _validate(L, V, s_qk, s_uv, prior)
    betas = np.asarray(betas, dtype=float)
    br = _Branch(p, L, V, s_qk, s_uv, max(10.0, 2.0 * float(betas.max()) / K.linear_beta_c(L, V, s_qk, s_uv)))
    return [_states_on_branch(br, float(b), tol, max_iter) for b in betas]

def linear_state(beta, L, V, s_qk, s_uv, prior: str = "product", init: str = "copy", tol: float = 1e-12,
                 max_iter: int = 100) -> LinearState:
    """A stationary point of f_l at ``beta`` (§6).

    ``init="uniform"``: the symmetric point kappa = a = g = m = 0 (stationary by the Z2 symmetry; a
    minimum below the onset).  ``init="copy"``: the ordered local minimum with the largest value
    gain g (``linear_stable_states``), or the symmetric point where no ordered minimum exists
    (ConvergenceError above the pitchfork, where one must).  ``converged``: the residual
    max |grad f_l| / (1 + beta L) is <= ``tol``.
    """
    L, V, s_qk, s_uv, p = _validate(L, V, s_qk, s_uv, prior)
    beta = _checks.nonnegative("beta", beta)
    init = _checks.choice("init", init, ("uniform", "copy"))
    states = linear_stable_states(beta, L, V, s_qk, s_uv, prior, tol, max_iter) \
        if init == "copy" and beta > 0.0 else []
    return states[-1] if states else linear_origin(beta, L, V, s_qk, s_uv, prior)


# --------------------------------------------------------------------------- phase-diagram rows and end points
# (the one-hot rows of ``attention_phase_diagram.compute_phase_diagram`` and the end points of the facade)

def diagram_end_point(kind: str, V: float, s_qk: float, s_uv: float, prior: str, bracket: tuple[float, float],
                     fit_exponents: bool) -> CriticalEndPoint:
    """The end point in L of the one-hot model (``attention_onehot``) as a ``CriticalEndPoint``:
    softmax, L_c(V) where the first-order line ends (first order above); linear, L_c2(V) above which
    the secondary jump of w_c exists (x_c = L_c2, beta_star = beta at the merging folds, kappa_star the
    copy score there).  Exponents: of the softmax jump of c, or of the secondary jump of w_c, and of
    the (secondary) spinodal width."""
    if kind == "softmax":
        e = softmax_end_point(V, s_qk, s_uv, prior, bracket)
        jump_width = lambda L: jump_width_of(softmax_transition(L, V, s_qk, s_uv, prior))  # noqa: E731
    else:
        e = linear_end_point(V, s_qk, s_uv, prior, bracket)

        def jump_width(L):
            t = linear_transition(L, V, s_qk, s_uv, prior)
            if t.secondary != "jump":
                raise ConvergenceError(f"linear: no secondary jump resolved at L={L!r} above L_c2")
            return t.jump_w_c, t.beta_spinodal2[1] - t.beta_spinodal2[0]
    out = dict(vary="L", x_c=e.value, beta_star=e.beta, kappa_star=e.kappa, converged=bool(e.converged),
               iterations=int(e.iterations), residual=float(e.residual))
    if fit_exponents:
        out.update(fit_end_point_exponents(jump_width, e.value, 1.0))
    return CriticalEndPoint(**out)


def softmax_diagram_row(betas: np.ndarray, L: float, V: float, s_qk: float, s_uv: float, prior: str):
    """``attention_phase_diagram.gaussian_row`` for softmax attention on one-hot tokens (§5): the transition and,
    at each beta, the global minimum (uniform branch below beta_c, copy branch above; 'crossover'
    without spinodals) and the metastable copy weight between the spinodals.  Same columns and
    return value as ``gaussian_row``; kappa, g, c, w = g c from the one-hot solver, eps its per-position MSE,
    free_energy f_s (mean part included)."""
    t = softmax_transition(L, V, s_qk, s_uv, prior)
    nb = len(betas)
    eq = np.full((nb, len(COLUMNS)), np.nan)
    c_meta = np.full(nb, np.nan)
    branch = np.empty(nb, dtype="U16")
    lo, hi = t.beta_spinodal or (np.inf, np.inf)
    for j, b in enumerate(betas):
        states = softmax_stable_states(float(b), L, V, s_qk, s_uv, prior)
        if t.order != "first":
            pick, name = states[-1], "crossover"
        else:
            named = dict(zip(("uniform", "copy"), states)) if len(states) == 2 else \
                {("uniform" if b < lo else "copy"): states[0]}
            name = "uniform" if ("uniform" in named and b < t.beta_c) or "copy" not in named else "copy"
            pick = named[name]
            other = named.get("copy" if name == "uniform" else "uniform")
            c_meta[j] = other.c if other is not None else np.nan
        eq[j] = [pick.kappa, pick.g, pick.c, pick.eps, pick.w, pick.free_energy, pick.min_hessian_eig,
                 pick.residual, 0.0]
        branch[j] = name
    return t.order, t.beta_c, t.beta_spinodal or (np.nan, np.nan), eq, c_meta, branch


#: Extra variables of the one-hot linear-attention diagram (§6 of docs/attention_onehot.md).
SECONDARY = ("crossover", "jump", "not_analysed")
_LINEAR_GRID = {
    "a": "mean-channel score a (S = kappa (Pi - J/L) + a J/L) at the global minimum",
    "m": "mean gain m (W = g (I - J/V) + m J/V) at the global minimum",
    "w_c": "copy order parameter w_c = g kappa at the global minimum",
    "w_a": "mean-channel order parameter w_a = g a at the global minimum",
    "w_m": "mean-channel order parameter w_m = a m at the global minimum",
    "w_c_metastable": "w_c of the other (metastable) local minimum; nan where there is none",
}
_LINEAR_X = {
    "beta_c2": "secondary first-order point of w_c (equal free energy); nan without a secondary jump",
    "beta_sp2_lo": "lower secondary spinodal (nan without a secondary jump)",
    "beta_sp2_hi": "upper secondary spinodal (nan without a secondary jump)",
    "beta_steepest": "steepest point of w_c (max dw_c / d ln beta) of a secondary crossover; nan otherwise",
}


_LINEAR_LABELS = _LINEAR_GRID | _LINEAR_X


def linear_diagram_row(betas: np.ndarray, L: float, V: float, s_qk: float, s_uv: float, prior: str):
    """``attention_phase_diagram.gaussian_row`` for linear attention on one-hot tokens (§6), with a 7th
    element: the extras ``_LINEAR_GRID`` (grid) / ``_LINEAR_X`` (per x), the ``secondary``
    label, their long names ``labels`` and the flag values ``secondary_values`` (``SECONDARY``).

    Primary onset: order 'second' (beta_c the pitchfork) or 'first' (beta_c = beta_c1, spinodals
    (beta_spinodal1, pitchfork)).  Global minimum: the symmetric point ('trivial') below beta_c, then
    the ordered state ('copy'); with a secondary jump, its low state below beta_c2 and its high state
    above.  c = A_{l,l-1} = kappa (1 - 1/L) + a / L, w = g c; eps, free_energy f_l."""
    t = linear_transition(L, V, s_qk, s_uv, prior)
    nb = len(betas)
    eq = np.full((nb, len(COLUMNS)), np.nan)
    extra = {n: np.full(nb, np.nan) for n in _LINEAR_GRID}
    c_meta = np.full(nb, np.nan)
    branch = np.empty(nb, dtype="U16")
    pos = betas > 0
    grid = linear_states_on_grid(betas[pos], L, V, s_qk, s_uv, prior) if pos.any() else []
    states_at = iter(grid)
    beta_c = t.beta_onset
    jump = t.secondary == "jump"
    for j, b in enumerate(betas):
        states = next(states_at) if b > 0 else []
        origin = linear_origin(float(b), L, V, s_qk, s_uv, prior)
        if b < beta_c or not states:
            pick, others, name = origin, states[-1:], "trivial"
        elif jump and len(states) == 2:
            lo_first = b < t.beta_c2
            pick, others, name = states[0 if lo_first else 1], [states[1 if lo_first else 0]], "copy"
        else:
            pick, others, name = states[-1], ([origin] if origin.stable else []), "copy"
        c = pick.kappa * (1 - 1 / L) + pick.a / L
        eq[j] = [pick.kappa, pick.g, c, pick.eps, pick.g * c, pick.free_energy, pick.min_hessian_eig,
                 pick.residual, 0.0]
        for n in ("a", "m", "w_c", "w_a", "w_m"):
            extra[n][j] = getattr(pick, n)
        if others:
            o = others[0]
            c_meta[j] = o.kappa * (1 - 1 / L) + o.a / L
            extra["w_c_metastable"][j] = o.w_c
        branch[j] = name
    sp = (t.beta_spinodal1, t.beta_c) if t.order == "first" else (np.nan, np.nan)
    sp2 = t.beta_spinodal2 or (np.nan, np.nan)
    per_x = dict(beta_c2=t.beta_c2 if jump else np.nan, beta_sp2_lo=sp2[0], beta_sp2_hi=sp2[1],
                 beta_steepest=t.beta_steepest if t.secondary == "crossover" else np.nan)
    label = t.secondary.replace(" ", "_")
    return t.order, beta_c, sp, eq, c_meta, branch, dict(grid=extra, per_x=per_x, secondary=label, labels=_LINEAR_LABELS,
                                                         secondary_values=SECONDARY)

