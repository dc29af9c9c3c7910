"""Pseudo-arclength continuation of the attention saddle equations grad f(kappa, g; beta) = 0.

Model: ``docs/attention_copy.md`` §4-§5.  Unknowns y = (kappa, g, b) with b = log beta;
two equations, so the solution set is a curve, followed through its folds (where beta turns back:
the spinodals of the softmax S-curve) without special treatment.  Standard Keller scheme (e.g.
Allgower & Georg, "Numerical continuation methods", ch. 2): tangent predictor, Newton corrector on
the bordered system [G(y); tau . (z - z_pred)] = 0 in scaled variables z = (kappa/s_k, g/s_g, b),
step-size adaptation on the corrector's iteration count and on the turning angle of the tangent.

Using log beta makes one arclength unit mean the same relative change of beta at every scale (the
branches span decades of beta: the copy branch needs beta ~ e^kappa).  ``scale`` = (s_k, s_g):
softmax (1, 1); linear attention (k0, 1/k0) with k0^2 = s_qk / (sqrt(L) s_uv), because there
kappa ~ 0.1 while g ~ 10 at REF (§6).  dG/db = beta dG/dbeta.
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
STATUS = {REACHED_BETA_MAX: "reached beta_max", MAX_POINTS: "too many points",
          STEP_TOO_SMALL: "step size underflow", LEFT_DOMAIN: "left the domain (beta -> 0 or kappa < kappa_min)"}


@njit(cache=True)
def _jacobian_rows(kind, k, g, logb, scale, L, sqk, suv):
    b = math.exp(logb)
    hkk, hkg, hgg = hessian(kind, k, g, b, L, sqk, suv)
    bk, bg = gradient_beta(kind, k, g, b, L, sqk, suv)
    r1 = np.array([hkk * scale[0], hkg * scale[1], bk * b])
    r2 = np.array([hkg * scale[0], hgg * scale[1], bg * b])
    return r1, r2


@njit(cache=True)
def _tangent(kind, y, scale, L, sqk, suv):
    """Unit null vector of the 2x3 Jacobian in scaled variables, and |r1 x r2| / (|r1| |r2|)
    (the sine of the angle between the rows; ~0 at a branch point, where the null space is 2-d)."""
    r1, r2 = _jacobian_rows(kind, y[0], y[1], y[2], scale, L, sqk, suv)
    t = np.cross(r1, r2)
    nt = math.sqrt(t @ t)
    return t / nt, nt / math.sqrt((r1 @ r1) * (r2 @ r2))


@njit(cache=True)
def _unscale(z, scale):
    return np.array([z[0] * scale[0], z[1] * scale[1], z[2]])


@njit(cache=True)
def _correct(kind, z_pred, tau, scale, L, sqk, suv, tol, max_iter):
    """Newton on the bordered system; returns (z, iterations, ok)."""
    z = z_pred.copy()
    J = np.empty((3, 3))
    F = np.empty(3)
    for it in range(1, max_iter + 1):
        y = _unscale(z, scale)
        b = math.exp(y[2])
        G = gradient(kind, y[0], y[1], b, L, sqk, suv)
        r1, r2 = _jacobian_rows(kind, y[0], y[1], y[2], scale, L, sqk, suv)
        F[0], F[1], F[2] = G[0], G[1], tau @ (z - z_pred)
        J[0, :] = r1
        J[1, :] = r2
        J[2, :] = tau
        if not np.all(np.isfinite(J)) or not np.all(np.isfinite(F)):
            return z, it, False
        dz = np.linalg.solve(J, -F)
        z = z + dz
        yn = _unscale(z, scale)
        Gn = gradient(kind, yn[0], yn[1], math.exp(yn[2]), L, sqk, suv)
        res = max(abs(Gn[0]), abs(Gn[1])) / gradient_scale(math.exp(yn[2]), L)
        if res <= tol and math.sqrt(dz @ dz) <= 1e-9:
            return z, it, True
    return z, max_iter, False


@njit(cache=True)
def pseudo_arclength(kind, y0, t0, scale, ds0, ds_max, beta_max, kappa_min, max_points, L, sqk, suv, tol):
    """Follow the stationary curve from y0 = (kappa, g, log beta) (on the curve) along t0.

    At a branch point (the linear pitchfork) the Jacobian has a 2-d null space; there t0 (in the
    same coordinates) is used as the first tangent and must point along the branch to follow.
    Stops when beta > beta_max (success), kappa < kappa_min, after max_points, or when the step
    falls below 1e-10.  Returns (Y, min_eig, tangent_beta, n, status): Y (max_points, 3) points
    (kappa, g, beta), min_eig the smallest Hessian eigenvalue in (kappa, g) (stability),
    tangent_beta the sign-carrying beta component of the tangent (it changes sign at folds); rows
    beyond n are unused.
    """
    Y = np.full((max_points, 3), np.nan)
    mins = np.full(max_points, np.nan)
    tbeta = np.full(max_points, np.nan)
    z = np.array([y0[0] / scale[0], y0[1] / scale[1], y0[2]])
    tau = np.array([t0[0] / scale[0], t0[1] / scale[1], t0[2]])
    tau = tau / math.sqrt(tau @ tau)
    tn, quality = _tangent(kind, y0, scale, L, sqk, suv)
    if quality > 1e-8 and np.all(np.isfinite(tn)):
        tau = tn if tn @ tau >= 0.0 else -tn
    ds = ds0
    n = 0
    status = MAX_POINTS
    while n < max_points:
        y = _unscale(z, scale)
        b = math.exp(y[2])
        Y[n, 0], Y[n, 1], Y[n, 2] = y[0], y[1], b
        h = hessian(kind, y[0], y[1], b, L, sqk, suv)
        mins[n] = min_eig_2x2(h[0], h[1], h[2])
        tbeta[n] = tau[2]
        n += 1
        if b > beta_max:
            status = REACHED_BETA_MAX
            break
        if y[0] < kappa_min:
            status = LEFT_DOMAIN
            break
        while True:
            if ds < 1e-10:
                return Y, mins, tbeta, n, STEP_TOO_SMALL
            zp = z + ds * tau
            zn, iters, ok = _correct(kind, zp, tau, scale, L, sqk, suv, tol, 8)
            if ok:
                tn, quality = _tangent(kind, _unscale(zn, scale), scale, L, sqk, suv)
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
