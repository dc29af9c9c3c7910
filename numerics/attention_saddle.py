"""Saddle points of the reduced attention free energy f(kappa, g; beta) (§4), in Numba.

Model: ``docs/attention_copy.md``.  The kernels called here are generated from the SymPy
derivation (``grokphase.numerics._attention_kernels``); nothing in this module restates a formula
of the model.  ``kind`` is an int: SOFTMAX = 0, LINEAR = 1.

Two independent routes to the stationary points, used to check each other:

* **Newton** on grad f = 0 in (kappa, g) at fixed beta (``newton_reduced``), with a backtracking
  line search on the merit |grad f|^2 / 2, a step cap (trust radius) and a steepest-descent fallback
  on the merit when the Newton step fails; it finds stable and unstable stationary points alike,
  near its start.
* **The parametric curve** (``branch_point_at_kappa``): grad f = E'(kappa, g) + beta Lambda'(kappa, g)
  is linear in beta (E = entropy, Lambda = (L/2) loss).  Eliminating beta leaves one equation in g
  at fixed kappa, solved by bisection on a bracket known in closed form (§4), and then
  beta(kappa) = -E_kappa / Lambda_kappa.  So the set of non-trivial stationary points is the single
  curve kappa -> (g(kappa), beta(kappa)); minima are where beta'(kappa) > 0.

  softmax: R(g) = E_g Lambda_kappa - E_kappa Lambda_g changes sign once on (0, c/r);
  linear:  the common factor (1 - g kappa) is removed, leaving kappa h'(kappa) L - g h'(g) = 0,
           monotone in g; the branch ends (beta -> infinity) where g kappa -> 1.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from grokphase.numerics import _attention_kernels as K

SOFTMAX = 0
LINEAR = 1
KIND_CODES = {"softmax": SOFTMAX, "linear": LINEAR}

# status codes of newton_reduced
CONVERGED = 0
MAX_ITER = 1
LINE_SEARCH_FAILED = 2


@njit(cache=True)
def free_energy(kind, k, g, b, L, sqk, suv):
    """f(kappa, g; beta) of the chosen kind."""
    if kind == SOFTMAX:
        return K.softmax_f(k, g, b, L, sqk, suv)
    return K.linear_f(k, g, b, L, sqk, suv)


@njit(cache=True)
def gradient(kind, k, g, b, L, sqk, suv):
    """(df/dkappa, df/dg)."""
    if kind == SOFTMAX:
        return K.softmax_grad(k, g, b, L, sqk, suv)
    return K.linear_grad(k, g, b, L, sqk, suv)


@njit(cache=True)
def hessian(kind, k, g, b, L, sqk, suv):
    """(f_kk, f_kg, f_gg)."""
    if kind == SOFTMAX:
        return K.softmax_hess(k, g, b, L, sqk, suv)
    return K.linear_hess(k, g, b, L, sqk, suv)


@njit(cache=True)
def gradient_beta(kind, k, g, b, L, sqk, suv):
    """d(grad f)/d beta = grad of (L/2) loss."""
    if kind == SOFTMAX:
        return K.softmax_grad_beta(k, g, b, L, sqk, suv)
    return K.linear_grad_beta(k, g, b, L, sqk, suv)


@njit(cache=True)
def loss(kind, k, g, L):
    """Per-position population MSE eps."""
    if kind == SOFTMAX:
        return K.softmax_loss(k, g, 0.0, L, 1.0, 1.0)
    return K.linear_loss(k, g, 0.0, L, 1.0, 1.0)


@njit(cache=True)
def copy_weight(kind, k, L):
    """c = A_{l,l-1}: the softmax copy weight, or kappa itself for linear attention (A = S)."""
    if kind == SOFTMAX:
        return K.softmax_c(k, L)[0]
    return k


@njit(cache=True)
def min_eig_2x2(a, b, c):
    """Smallest eigenvalue of [[a, b], [b, c]], computed without cancellation."""
    m = 0.5 * (a + c)
    r = math.hypot(0.5 * (a - c), b)
    if m > 0.0:
        return (a * c - b * b) / (m + r)  # = m - r, the product of eigenvalues over the larger
    return m - r


@njit(cache=True)
def gradient_scale(b, L):
    """Natural size of the gradient terms, used to make tolerances relative: 1 + beta L."""
    return 1.0 + b * L


@njit(cache=True)
def newton_reduced(kind, k0, g0, b, L, sqk, suv, tol, max_iter):
    """Newton for grad f = 0 at fixed beta, from (k0, g0).

    Returns (kappa, g, residual, iterations, status); residual = max |grad f| / (1 + beta L).
    Converged when residual <= tol.  The step is capped at max(1, |(kappa, g)|) (trust radius) and
    backtracked until the merit |grad f|^2 decreases; if that fails the step is steepest descent on
    the merit.  Status: CONVERGED, MAX_ITER or LINE_SEARCH_FAILED.
    """
    k, g = k0, g0
    scale = gradient_scale(b, L)
    G = gradient(kind, k, g, b, L, sqk, suv)
    res = max(abs(G[0]), abs(G[1])) / scale
    it = 0
    while res > tol:
        if it >= max_iter:
            return k, g, res, it, MAX_ITER
        it += 1
        hkk, hkg, hgg = hessian(kind, k, g, b, L, sqk, suv)
        det = hkk * hgg - hkg * hkg
        merit = G[0] * G[0] + G[1] * G[1]
        accepted = False
        for attempt in range(2):
            if attempt == 0 and det != 0.0 and math.isfinite(det):
                dk = -(hgg * G[0] - hkg * G[1]) / det
                dg = -(-hkg * G[0] + hkk * G[1]) / det
            else:  # steepest descent on the merit: -J^T G
                dk = -(hkk * G[0] + hkg * G[1])
                dg = -(hkg * G[0] + hgg * G[1])
                nrm = math.hypot(dk, dg)
                if nrm == 0.0:
                    break
                dk /= nrm
                dg /= nrm
            radius = max(1.0, math.hypot(k, g))
            step = math.hypot(dk, dg)
            t = 1.0 if step <= radius else radius / step
            for _ in range(60):
                kn, gn = k + t * dk, g + t * dg
                Gn = gradient(kind, kn, gn, b, L, sqk, suv)
                mn = Gn[0] * Gn[0] + Gn[1] * Gn[1]
                if math.isfinite(mn) and mn < merit:
                    k, g, G = kn, gn, Gn
                    accepted = True
                    break
                t *= 0.5
            if accepted:
                break
        if not accepted:
            return k, g, res, it, LINE_SEARCH_FAILED
        res = max(abs(G[0]), abs(G[1])) / scale
    return k, g, res, it, CONVERGED


@njit(cache=True)
def _softmax_R(k, g, L, sqk, suv):
    E = K.softmax_grad(k, g, 0.0, L, sqk, suv)
    Lam = K.softmax_grad_beta(k, g, 0.0, L, sqk, suv)
    return E[1] * Lam[0] - E[0] * Lam[1]


@njit(cache=True)
def _linear_Q(k, g, L, sqk, suv):
    E = K.linear_grad(k, g, 0.0, L, sqk, suv)  # (L h'(kappa), h'(g))
    return k * E[0] - g * E[1]


@njit(cache=True)
def _branch_residual(kind, k, g, L, sqk, suv):
    """Positive below the branch's g(kappa), negative above (module docstring)."""
    if kind == SOFTMAX:
        return _softmax_R(k, g, L, sqk, suv)
    return _linear_Q(k, g, L, sqk, suv)


@njit(cache=True)
def _bisect_g(kind, k, hi, L, sqk, suv):
    """Root in (0, hi) of the branch residual: geometric bisection from 1e-300 until the bracket
    ratio is below 4 (g may be as small as ~kappa), then ordinary bisection to machine precision."""
    lo = 1e-300
    while hi > 4.0 * lo:
        mid = math.sqrt(lo) * math.sqrt(hi)
        if _branch_residual(kind, k, mid, L, sqk, suv) > 0.0:
            lo = mid
        else:
            hi = mid
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if _branch_residual(kind, k, mid, L, sqk, suv) > 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit(cache=True)
def branch_point_at_kappa(kind, k, L, sqk, suv):
    """The stationary point with copy order parameter kappa > 0: returns (g, beta).

    beta = nan when kappa lies beyond the end of the linear branch (g kappa would reach 1).
    Bisection to machine precision on the closed-form bracket (module docstring).
    """
    if kind == SOFTMAX:
        c, d = K.softmax_c(k, L)
        g = _bisect_g(kind, k, c / (c * c + d * d / (L - 1.0)), L, sqk, suv)  # R(0+) > 0 > R(c/r)
    else:
        if _linear_Q(k, 1.0 / k, L, sqk, suv) >= 0.0:
            return np.nan, np.nan
        g = _bisect_g(kind, k, 1.0 / k, L, sqk, suv)  # Q(0+) = L kappa h'(kappa) > 0
    E = gradient(kind, k, g, 0.0, L, sqk, suv)
    Lam = gradient_beta(kind, k, g, 0.0, L, sqk, suv)
    return g, -E[0] / Lam[0]


@njit(cache=True)
def branch_tangent(kind, k, g, b, L, sqk, suv):
    """Unit tangent (t_kappa, t_g, t_beta) of the stationary curve at a point on it: the null vector
    of the 2x3 Jacobian [Hessian | d grad / d beta] (cross product of its rows)."""
    hkk, hkg, hgg = hessian(kind, k, g, b, L, sqk, suv)
    bk, bg = gradient_beta(kind, k, g, b, L, sqk, suv)
    tk = hkg * bg - bk * hgg
    tg = bk * hkg - hkk * bg
    tb = hkk * hgg - hkg * hkg
    n = math.sqrt(tk * tk + tg * tg + tb * tb)
    return tk / n, tg / n, tb / n


@njit(cache=True)
def dbeta_dkappa(kind, k, L, sqk, suv):
    """beta'(kappa) along the non-trivial branch (implicit function theorem, exact derivatives)."""
    g, b = branch_point_at_kappa(kind, k, L, sqk, suv)
    tk, tg, tb = branch_tangent(kind, k, g, b, L, sqk, suv)
    return tb / tk


@njit(cache=True)
def stationary_curve(kind, kappas, L, sqk, suv):
    """The non-trivial stationary curve sampled at kappas (shape (n,), all > 0).

    Returns arrays (g, beta, f, min_hessian_eig, eps), each shape (n,); nan beyond a branch end.
    """
    n = kappas.shape[0]
    gs = np.empty(n)
    bs = np.empty(n)
    fs = np.empty(n)
    mins = np.empty(n)
    eps = np.empty(n)
    for i in range(n):
        k = kappas[i]
        g, b = branch_point_at_kappa(kind, k, L, sqk, suv)
        gs[i] = g
        bs[i] = b
        if math.isnan(b):
            fs[i] = np.nan
            mins[i] = np.nan
            eps[i] = np.nan
            continue
        fs[i] = free_energy(kind, k, g, b, L, sqk, suv)
        h = hessian(kind, k, g, b, L, sqk, suv)
        mins[i] = min_eig_2x2(h[0], h[1], h[2])
        eps[i] = loss(kind, k, g, L)
    return gs, bs, fs, mins, eps
