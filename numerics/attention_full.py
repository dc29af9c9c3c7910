"""The full order-parameter problem of the attention copy task: all L^2 scores plus the value gain.

Model: ``docs/attention_copy.md``, §3 (large-N free energy) and §5.5 (check of the copy
ansatz).  The large-N free energy per N, minimised over every Gram entry except (S, g), is (§3)

    F(S, g) = sum_i h(sigma_i(S); s_qk) + h(g; s_uv) + (beta/2) l(S, g),
    l(S, g) = sum_l [1 - 2 g A_{l,l-1} + g^2 sum_m A_lm^2]      (cyclic: row 0 targets column L-1),

with sigma_i the singular values of the L x L score matrix S, A = rowsoftmax(S) ("softmax") or
A = S ("linear"), and h the Cramér rate of §3 (generated kernels ``cramer_h``, ``cramer_hp``).
On the copy ansatz of §4 it reduces to the generated reduced free energies: S = kappa (Pi - J/L)
gives ``softmax_f(kappa, g, ...)`` and S = kappa Pi gives ``linear_f(kappa, g, ...)`` (same
additive constant, F(0, 0) = beta L / 2).

Softmax row gauge: A is invariant under row shifts S -> S + b 1^T while the rate is not, so
minimising F over all L^2 entries of S selects the optimal gauge (the minimum of the convex rate
over the shifts, §3) automatically; nothing is fixed by hand.

Gradient (exact): the rate sum_i h(sigma_i) is a spectral function with h even and analytic in x^2,
so it is smooth in S (also at degenerate or zero singular values) and its gradient is
U diag(h'(sigma)) V^T for S = U diag(sigma) V^T.  The attention map, the loss l (C = I) and its
backward pass through the row softmax are those of ``numerics.copy_loss``.

Minimiser (``minimize_full``), all in Numba over the flat vector x = (S.ravel(), g), n = L^2 + 1:

1. BFGS on the dense inverse Hessian with a strong-Wolfe line search (Nocedal & Wright,
   Alg. 3.5/3.6, c1 = 1e-4, c2 = 0.9, safeguarded cubic interpolation in the zoom) until the
   max-abs gradient falls below ``NEWTON_SWITCH`` (or the line search stalls at rounding level);
2. Newton polish with the finite-difference Hessian below, accepted only while it lowers the
   max-abs gradient (the free energy cannot resolve steps that small);
3. if the gradient is still above ``tol`` and budget remains, BFGS resumes (at most a few rounds).

``converged`` is True only if the max-abs gradient at the returned point is below ``tol``; it says
the point is stationary, and ``min_hessian_eig > 0`` says it is a local minimum.

Hessian: central differences of the analytic gradient, then symmetrised.  Steps: FD_STEP *
min(1, s_qk) for the scores and FD_STEP * min(1, s_uv) for g (FD_STEP = 1e-5).  Since
h(x; s) = H(x/s), scaling the step with s keeps the truncation error of the rate part,
~ step^2 h^(4) / 6 ~ 1e-10 / s^2, at 1e-10 relative to its curvature 1/s^2 (a step of 1e-5 at
s_qk = 0.25 would give 2.6e-8); the cap at 1 keeps the truncation of the loss part (O(1) scales)
at ~1e-10 beta g^2.  The rounding error is ~ (gradient rounding ~ 1e-14) / (2 step) ~ 1e-9.
Measured at REF: entries and the smallest eigenvalue change by ~1e-9 between steps 5e-6, 1e-5 and
2e-5; at the linear origin the FD Hessian matches the closed form to 1.6e-9 (smallest eigenvalue
to 5e-13).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from grokphase.numerics._attention_kernels import cramer_h, cramer_hp
from grokphase.numerics.copy_loss import (KIND_CODES, attention_backward, attention_weights, copy_loss,
                                          identity_statistic)

__all__ = [
    "KIND_CODES",
    "FD_STEP",
    "NEWTON_SWITCH",
    "FullSaddleResult",
    "full_free_energy",
    "full_gradient",
    "full_hessian_fd",
    "minimize_full",
]

FD_STEP = 1e-5
NEWTON_SWITCH = 1e-5

_C1 = 1e-4
_C2 = 0.9
_MAX_LS = 40
_MAX_ROUNDS = 4
_MAX_NEWTON = 8


# --------------------------------------------------------------------------- kernels

@njit(cache=True)
def _f_grad(x, beta, L, kind, s_qk, s_uv, grad):
    """F at x = (S.ravel(), g) (shape (L*L + 1,)); writes dF/dx into ``grad`` (same shape).

    kind: 0 softmax, 1 linear.  Returns F.
    """
    n2 = L * L
    S = np.empty((L, L))
    for i in range(L):
        for j in range(L):
            S[i, j] = x[i * L + j]
    g = x[n2]
    # rate: sum_i h(sigma_i), gradient U diag(h'(sigma)) V^T
    U, sig, Vt = np.linalg.svd(S)
    F = 0.0
    for k in range(L):
        F += cramer_h(sig[k], s_qk)
    for i in range(L):
        for j in range(L):
            acc = 0.0
            for k in range(L):
                acc += U[i, k] * cramer_hp(sig[k], s_qk) * Vt[k, j]
            grad[i * L + j] = acc
    F += cramer_h(g, s_uv)
    dg = cramer_hp(g, s_uv)
    # attention, loss and its backward pass (numerics.copy_loss); half = beta / 2
    A = attention_weights(kind, S.reshape(1, L, L))
    loss, dA, dl_dg = copy_loss(A, np.array([g]), identity_statistic(L))
    dS = attention_backward(kind, A, dA)
    half = 0.5 * beta
    for i in range(L):
        for j in range(L):
            grad[i * L + j] += half * dS[0, i, j]
    F += half * loss[0]
    grad[n2] = dg + half * dl_dg[0]
    return F


@njit(cache=True)
def _max_abs(v):
    m = 0.0
    for i in range(v.shape[0]):
        a = abs(v[i])
        if a > m or a != a:
            m = a
    return m


@njit(cache=True)
def _hessian_fd(x, beta, L, kind, s_qk, s_uv, step):
    """Symmetrised central-difference Hessian of F from the analytic gradient, shape (n, n).

    Step step * min(1, s_qk) for the scores, step * min(1, s_uv) for g (module docstring).
    """
    n = x.shape[0]
    h_s = step * min(1.0, s_qk)
    h_g = step * min(1.0, s_uv)
    H = np.empty((n, n))
    gp = np.empty(n)
    gm = np.empty(n)
    xx = x.copy()
    for i in range(n):
        h = h_s if i < n - 1 else h_g
        xx[i] = x[i] + h
        _f_grad(xx, beta, L, kind, s_qk, s_uv, gp)
        xx[i] = x[i] - h
        _f_grad(xx, beta, L, kind, s_qk, s_uv, gm)
        xx[i] = x[i]
        for j in range(n):
            H[j, i] = (gp[j] - gm[j]) / (2.0 * h)
    return 0.5 * (H + H.T)


@njit(cache=True)
def _phi(x, p, a, beta, L, kind, s_qk, s_uv, xa, ga):
    """phi(a) = F(x + a p) and phi'(a); xa, ga are work buffers (filled)."""
    for i in range(x.shape[0]):
        xa[i] = x[i] + a * p[i]
    f = _f_grad(xa, beta, L, kind, s_qk, s_uv, ga)
    d = 0.0
    for i in range(x.shape[0]):
        d += ga[i] * p[i]
    return f, d


@njit(cache=True)
def _cubic_min(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi):
    """Minimiser of the cubic through two points with slopes, safeguarded to the inner 80%."""
    lo = min(a_lo, a_hi)
    hi = max(a_lo, a_hi)
    w = hi - lo
    d1 = d_lo + d_hi - 3.0 * (f_lo - f_hi) / (a_lo - a_hi)
    disc = d1 * d1 - d_lo * d_hi
    a = 0.5 * (a_lo + a_hi)
    if disc >= 0.0 and math.isfinite(disc):
        d2 = math.copysign(math.sqrt(disc), a_hi - a_lo)
        den = d_hi - d_lo + 2.0 * d2
        if den != 0.0:
            c = a_hi - (a_hi - a_lo) * (d_hi + d2 - d1) / den
            if math.isfinite(c):
                a = c
    if a < lo + 0.1 * w or a > hi - 0.1 * w:
        a = 0.5 * (a_lo + a_hi)
    return a


@njit(cache=True)
def _zoom(x, p, f0, d0, a_lo, f_lo, d_lo, a_hi, f_hi, d_hi, beta, L, kind, s_qk, s_uv, xa, ga):
    for _ in range(_MAX_LS):
        a = _cubic_min(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi)
        f, d = _phi(x, p, a, beta, L, kind, s_qk, s_uv, xa, ga)
        if not math.isfinite(f) or f > f0 + _C1 * a * d0 or f >= f_lo:
            a_hi, f_hi, d_hi = a, f, d
        else:
            if abs(d) <= -_C2 * d0:
                return a, True
            if d * (a_hi - a_lo) >= 0.0:
                a_hi, f_hi, d_hi = a_lo, f_lo, d_lo
            a_lo, f_lo, d_lo = a, f, d
        if abs(a_hi - a_lo) <= 1e-16 * max(1.0, abs(a_lo)):
            break
    # no strong-Wolfe point: accept the best sufficient-decrease point if there is one
    return a_lo, a_lo > 0.0 and f_lo < f0


@njit(cache=True)
def _line_search(x, p, f0, d0, a1, beta, L, kind, s_qk, s_uv, xa, ga):
    """Strong-Wolfe line search (Nocedal & Wright Alg. 3.5).  Returns (alpha, success)."""
    a_prev, f_prev, d_prev = 0.0, f0, d0
    a = a1
    for i in range(_MAX_LS):
        f, d = _phi(x, p, a, beta, L, kind, s_qk, s_uv, xa, ga)
        if not math.isfinite(f) or f > f0 + _C1 * a * d0 or (i > 0 and f >= f_prev):
            if not math.isfinite(f):
                # shrink until finite, then zoom on the finite bracket
                a *= 0.1
                continue
            return _zoom(x, p, f0, d0, a_prev, f_prev, d_prev, a, f, d,
                         beta, L, kind, s_qk, s_uv, xa, ga)
        if abs(d) <= -_C2 * d0:
            return a, True
        if d >= 0.0:
            return _zoom(x, p, f0, d0, a, f, d, a_prev, f_prev, d_prev,
                         beta, L, kind, s_qk, s_uv, xa, ga)
        a_prev, f_prev, d_prev = a, f, d
        a = 2.0 * a
    return a_prev, a_prev > 0.0 and f_prev < f0


@njit(cache=True)
def _bfgs(x, beta, L, kind, s_qk, s_uv, target, max_iter):
    """BFGS from x (modified in place) until max|grad| < target.  Returns (iterations, residual)."""
    n = x.shape[0]
    gx = np.empty(n)
    xa = np.empty(n)
    ga = np.empty(n)
    fx = _f_grad(x, beta, L, kind, s_qk, s_uv, gx)
    H = np.eye(n)
    fresh = True  # H is an unscaled identity: take a conservative first step
    it = 0
    resets = 0
    while it < max_iter:
        r = _max_abs(gx)
        if r < target or not math.isfinite(r):
            break
        p = -(H @ gx)
        d0 = p @ gx
        if not d0 < 0.0:
            H = np.eye(n)
            fresh = True
            p = -gx.copy()
            d0 = p @ gx
        a1 = min(1.0, 1.0 / _max_abs(p)) if fresh else 1.0
        a, ok = _line_search(x, p, fx, d0, a1, beta, L, kind, s_qk, s_uv, xa, ga)
        it += 1
        if not ok:
            if fresh or resets >= 2:
                break  # stalled (rounding level or a pathological point)
            H = np.eye(n)
            fresh = True
            resets += 1
            continue
        s = a * p
        xn = x + s
        gn = np.empty(n)
        fn = _f_grad(xn, beta, L, kind, s_qk, s_uv, gn)
        y = gn - gx
        sy = s @ y
        if sy > 1e-14 * math.sqrt((s @ s) * (y @ y)):
            if fresh:
                H = np.eye(n) * (sy / (y @ y))
                fresh = False
            rho = 1.0 / sy
            Hy = H @ y
            yHy = y @ Hy
            H += (rho * rho * yHy + rho) * np.outer(s, s) - rho * (np.outer(Hy, s) + np.outer(s, Hy))
        x[:] = xn
        gx[:] = gn
        fx = fn
    return it, _max_abs(gx)


@njit(cache=True)
def _newton_polish(x, beta, L, kind, s_qk, s_uv, tol, max_steps, step):
    """Newton steps with the FD Hessian, kept while they lower max|grad|.  Returns (steps, residual)."""
    n = x.shape[0]
    gx = np.empty(n)
    gn = np.empty(n)
    _f_grad(x, beta, L, kind, s_qk, s_uv, gx)
    r = _max_abs(gx)
    k = 0
    while k < max_steps:
        H = _hessian_fd(x, beta, L, kind, s_qk, s_uv, step)
        w = np.linalg.eigvalsh(H)
        if not w[0] > 0.0:
            break
        xn = x - np.linalg.solve(H, gx)
        k += 1
        _f_grad(xn, beta, L, kind, s_qk, s_uv, gn)
        rn = _max_abs(gn)
        if not rn < r:
            break
        x[:] = xn
        gx[:] = gn
        r = rn
        if r < 1e-3 * tol:
            break
    return k, r


@njit(cache=True)
def _minimize(x, beta, L, kind, s_qk, s_uv, tol, max_iter, switch, step):
    """BFGS + Newton polish rounds (module docstring); x is modified in place.

    Returns (iterations, residual); iterations counts BFGS and Newton steps, <= max_iter.
    """
    it = 0
    r = math.inf
    for rnd in range(_MAX_ROUNDS):
        # first round: hand over to Newton early; later rounds (Newton could not help): aim at tol
        target = max(switch, tol) if rnd == 0 else tol
        k, r = _bfgs(x, beta, L, kind, s_qk, s_uv, target, max_iter - it)
        it += k
        if it >= max_iter:
            break
        k, r = _newton_polish(x, beta, L, kind, s_qk, s_uv, tol, min(_MAX_NEWTON, max_iter - it), step)
        it += k
        if r < 1e-3 * tol or it >= max_iter:
            break
    g = np.empty(x.shape[0])
    _f_grad(x, beta, L, kind, s_qk, s_uv, g)
    return it, _max_abs(g)


# --------------------------------------------------------------------------- python API

@dataclass(frozen=True)
class FullSaddleResult:
    """End point of ``minimize_full``.

    S : (L, L) scores; g : value gain; free_energy : F(S, g) (same constant as ``softmax_f``);
    c : mean_l A_{l,l-1}; eps : l(S, g) / L (per-position population MSE);
    row_spread : max over offsets j of (max_l - min_l) A[l, (l+j) % L] (0 if translation invariant);
    converged : max-abs gradient < tol; residual : max-abs gradient at S, g;
    iterations : BFGS iterations + Newton steps;
    min_hessian_eig : smallest eigenvalue of the FD Hessian over all L^2 + 1 variables.
    """

    S: np.ndarray
    g: float
    free_energy: float
    c: float
    eps: float
    row_spread: float
    converged: bool
    residual: float
    iterations: int
    min_hessian_eig: float


def _check_params(beta, L, kind, s_qk, s_uv):
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 2:
        raise ValueError(f"L must be an integer >= 2; got {L!r}")
    if kind not in KIND_CODES:
        raise ValueError(f"kind must be one of {tuple(KIND_CODES)}; got {kind!r}")
    for name, val in (("s_qk", s_qk), ("s_uv", s_uv)):
        if not (math.isfinite(val) and val > 0.0):
            raise ValueError(f"{name} must be finite and > 0; got {val!r}")
    if not (math.isfinite(beta) and beta >= 0.0):
        raise ValueError(f"beta must be finite and >= 0; got {beta!r}")
    return float(beta), int(L), KIND_CODES[kind], float(s_qk), float(s_uv)


def _pack(S, g, L):
    S = np.asarray(S, dtype=np.float64)
    if S.shape != (L, L):
        raise ValueError(f"S0 must have shape (L, L) = ({L}, {L}); got {S.shape}")
    if not (np.all(np.isfinite(S)) and math.isfinite(g)):
        raise ValueError("S0 and g0 must be finite")
    return np.concatenate([S.ravel(), [float(g)]])


def full_free_energy(S, g, beta, *, kind, s_qk, s_uv) -> float:
    """F(S, g) of the module docstring.  S : (L, L) scores, g : value gain."""
    beta, L, k, s_qk, s_uv = _check_params(beta, np.shape(S)[0], kind, s_qk, s_uv)
    x = _pack(S, g, L)
    return float(_f_grad(x, beta, L, k, s_qk, s_uv, np.empty_like(x)))


def full_gradient(S, g, beta, *, kind, s_qk, s_uv) -> tuple[np.ndarray, float]:
    """(dF/dS (shape (L, L)), dF/dg), exact."""
    beta, L, k, s_qk, s_uv = _check_params(beta, np.shape(S)[0], kind, s_qk, s_uv)
    x = _pack(S, g, L)
    grad = np.empty_like(x)
    _f_grad(x, beta, L, k, s_qk, s_uv, grad)
    return grad[:-1].reshape(L, L), float(grad[-1])


def full_hessian_fd(S, g, beta, *, kind, s_qk, s_uv, step=FD_STEP) -> np.ndarray:
    """FD Hessian (module docstring) over x = (S.ravel(), g), shape (L^2 + 1, L^2 + 1)."""
    beta, L, k, s_qk, s_uv = _check_params(beta, np.shape(S)[0], kind, s_qk, s_uv)
    if not (math.isfinite(step) and step > 0.0):
        raise ValueError(f"step must be finite and > 0; got {step!r}")
    return _hessian_fd(_pack(S, g, L), beta, L, k, s_qk, s_uv, float(step))


def _observables(S, g, L, kind):
    A = attention_weights(kind, S[None])
    loss = copy_loss(A, np.array([g]), identity_statistic(L))[0]
    A = A[0]
    rows = np.arange(L)
    copy = A[rows, (rows - 1) % L]
    aligned = A[rows[:, None], (rows[:, None] + rows[None, :]) % L]  # aligned[l, j] = A[l, l+j]
    spread = float(np.max(aligned.max(axis=0) - aligned.min(axis=0)))
    return float(np.mean(copy)), float(loss[0]) / L, spread


def minimize_full(beta, *, L, kind, s_qk, s_uv, S0, g0, tol=1e-9, max_iter=5000) -> FullSaddleResult:
    """Local minimum of F(S, g) over all L^2 + 1 variables from (S0, g0) (module docstring).

    S0 : (L, L) starting scores; g0 : starting value gain.  tol : max-abs gradient for
    ``converged``; max_iter : bound on BFGS iterations plus Newton steps.
    Raises ValueError for L < 2 or non-integer, s_qk <= 0, s_uv <= 0, beta < 0, an unknown kind,
    S0 not of shape (L, L), tol <= 0 or max_iter < 1.
    """
    beta, L, k, s_qk, s_uv = _check_params(beta, L, kind, s_qk, s_uv)
    if not (math.isfinite(tol) and tol > 0.0):
        raise ValueError(f"tol must be finite and > 0; got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1; got {max_iter!r}")
    x = _pack(S0, g0, L)
    it, res = _minimize(x, beta, L, k, s_qk, s_uv, float(tol), int(max_iter), NEWTON_SWITCH, FD_STEP)
    grad = np.empty_like(x)
    f = float(_f_grad(x, beta, L, k, s_qk, s_uv, grad))
    res = float(np.max(np.abs(grad)))
    if np.all(np.isfinite(x)):
        lam_min = float(np.linalg.eigvalsh(_hessian_fd(x, beta, L, k, s_qk, s_uv, FD_STEP))[0])
    else:
        lam_min = math.nan
    S = x[:-1].reshape(L, L).copy()
    S.setflags(write=False)
    g = float(x[-1])
    c, eps, spread = _observables(S, g, L, k)
    return FullSaddleResult(S=S, g=g, free_energy=f, c=c, eps=eps, row_spread=spread,
                            converged=bool(res < tol), residual=res, iterations=int(it),
                            min_hessian_eig=lam_min)
