"""Pseudo-arclength continuation of the attention saddle equations grad f(kappa, g; beta) = 0.

Spec: ``shared/theory/attention_copy.md`` §4-§5.  Unknowns y = (kappa, g, beta); two equations, so
the solution set is a curve, followed through its folds (where beta turns back, the spinodals of
the softmax S-curve) without any special treatment.  Standard Keller scheme (e.g. Allgower & Georg,
"Numerical continuation methods", ch. 2): tangent predictor, Newton corrector on the bordered
system [G(y); tau . (z - z_pred)] = 0 in scaled variables z = y / scale, step-size adaptation on
the corrector's iteration count and on the turning angle of the tangent.

``scale`` (shape (3,)) sets what "arclength" means: softmax (1, 1, beta_ref), linear attention
(kappa_scale, 1/kappa_scale, beta_c) because there kappa ~ 0.1 while g ~ 10 at REF (spec §6).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from grokphase.numerics.attention_saddle import gradient, gradient_beta, gradient_scale, hessian, min_eig_2x2

# status codes
REACHED_BETA_MAX = 0
MAX_POINTS = 1
STEP_TOO_SMALL = 2
LEFT_DOMAIN = 3


@njit(cache=True)
def _tangent(kind, y, scale, L, sqk, suv):
    """Unit null vector of the 2x3 Jacobian in scaled variables, and |r1 x r2| / (|r1| |r2|)
    (the sine of the angle between the rows; ~0 at a branch point, where the null space is 2-d)."""
    hkk, hkg, hgg = hessian(kind, y[0], y[1], y[2], L, sqk, suv)
    bk, bg = gradient_beta(kind, y[0], y[1], y[2], L, sqk, suv)
    r1 = np.array([hkk * scale[0], hkg * scale[1], bk * scale[2]])
    r2 = np.array([hkg * scale[0], hgg * scale[1], bg * scale[2]])
    t = np.cross(r1, r2)
    nt = math.sqrt(t @ t)
    return t / nt, nt / math.sqrt((r1 @ r1) * (r2 @ r2))


@njit(cache=True)
def _correct(kind, z_pred, tau, scale, L, sqk, suv, tol, max_iter):
    """Newton on the bordered system; returns (z, iterations, ok)."""
    z = z_pred.copy()
    J = np.empty((3, 3))
    F = np.empty(3)
    for it in range(1, max_iter + 1):
        y = z * scale
        G = gradient(kind, y[0], y[1], y[2], L, sqk, suv)
        hkk, hkg, hgg = hessian(kind, y[0], y[1], y[2], L, sqk, suv)
        bk, bg = gradient_beta(kind, y[0], y[1], y[2], L, sqk, suv)
        F[0], F[1], F[2] = G[0], G[1], tau @ (z - z_pred)
        J[0, 0], J[0, 1], J[0, 2] = hkk * scale[0], hkg * scale[1], bk * scale[2]
        J[1, 0], J[1, 1], J[1, 2] = hkg * scale[0], hgg * scale[1], bg * scale[2]
        J[2, :] = tau
        if not np.all(np.isfinite(J)) or not np.all(np.isfinite(F)):
            return z, it, False
        dz = np.linalg.solve(J, -F)
        z = z + dz
        yn = z * scale
        Gn = gradient(kind, yn[0], yn[1], yn[2], L, sqk, suv)
        res = max(abs(Gn[0]), abs(Gn[1])) / gradient_scale(abs(yn[2]), L)
        if res <= tol and math.sqrt(dz @ dz) <= 1e-9:
            return z, it, True
    return z, max_iter, False


@njit(cache=True)
def pseudo_arclength(kind, y0, t0, scale, ds0, ds_max, beta_max, kappa_min, max_points, L, sqk, suv, tol):
    """Follow the stationary curve from y0 = (kappa, g, beta) (on the curve) along direction t0.

    At a branch point (the linear pitchfork) the Jacobian has a 2-d null space; there t0 is used
    as the first tangent (it must point along the branch to follow).
    Stops when beta > beta_max, beta < 0, kappa < kappa_min, after max_points, or when the step
    falls below 1e-10.  Returns (Y, min_eig, tangent_beta, n, status): Y (max_points, 3) the points,
    min_eig (max_points,) the smallest Hessian eigenvalue in (kappa, g) (stability), tangent_beta
    (max_points,) the beta component of the unscaled tangent (its sign changes at folds); rows
    beyond n are unused.
    """
    Y = np.full((max_points, 3), np.nan)
    mins = np.full(max_points, np.nan)
    tbeta = np.full(max_points, np.nan)
    z = y0 / scale
    tau = t0 / scale
    tau = tau / math.sqrt(tau @ tau)
    tn, quality = _tangent(kind, y0, scale, L, sqk, suv)
    if quality > 1e-8 and np.all(np.isfinite(tn)):
        tau = tn if tn @ tau >= 0.0 else -tn
    ds = ds0
    n = 0
    status = MAX_POINTS
    while n < max_points:
        y = z * scale
        Y[n] = y
        h = hessian(kind, y[0], y[1], y[2], L, sqk, suv)
        mins[n] = min_eig_2x2(h[0], h[1], h[2])
        tbeta[n] = tau[2] * scale[2]
        n += 1
        if y[2] > beta_max:
            status = REACHED_BETA_MAX
            break
        if y[2] < 0.0 or y[0] < kappa_min:
            status = LEFT_DOMAIN
            break
        while True:
            if ds < 1e-10:
                return Y, mins, tbeta, n, STEP_TOO_SMALL
            zp = z + ds * tau
            zn, iters, ok = _correct(kind, zp, tau, scale, L, sqk, suv, tol, 8)
            if ok:
                tn, quality = _tangent(kind, zn * scale, scale, L, sqk, suv)
                if tn @ tau < 0.0:
                    tn = -tn
                if tn @ tau > 0.98:  # turning angle below ~11 degrees: no branch jumping
                    break
            ds *= 0.5
        z = zn
        tau = tn
        if iters <= 2:
            ds = min(1.5 * ds, ds_max)
        elif iters >= 5:
            ds *= 0.7
    return Y, mins, tbeta, n, status
