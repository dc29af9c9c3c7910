"""Branch tracking for the attention copy task: trace the stationary curve in beta and split it
into its stable and unstable pieces (``docs/attention_copy.md`` §5.1-§5.2).

The curve is followed by pseudo-arclength continuation in log beta (``continuation``) from small
beta on the uniform branch (softmax; the exact point kappa = g = beta = 0 is prepended) or from the
pitchfork (linear: kappa = g = 0 at beta_c, along the Hessian's null vector).  Folds are where the beta component of the tangent
changes sign; they split the curve into pieces on which beta is monotone, so that a point at a
given beta on a piece is found by interpolation and polished by Newton at fixed beta.

Piece names: softmax 'uniform' (from beta = 0 to the upper spinodal), 'unstable' (between the
folds), 'copy' (from the lower spinodal on); with no fold the single piece is 'crossover'.
Linear: the exact 'trivial' point kappa = g = 0 (all beta), and the non-trivial branch, 'copy' where
it is stable and 'unstable' on its subcritical part (first order only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from grokphase.numerics import _attention_kernels as K
from grokphase.numerics.attention_saddle import (LINEAR, SOFTMAX, branch_point_at_kappa, copy_weight,
                                                 free_energy, hessian, loss, min_eig_2x2, newton_reduced)
from grokphase.numerics.continuation import REACHED_BETA_MAX, STATUS, pseudo_arclength
from grokphase.numerics.errors import ConvergenceError

MAX_POINTS = 20000


@dataclass(frozen=True)
class Curve:
    """A traced stationary curve: arrays of shape (n,) along arclength.

    ``pieces`` maps a piece name to the (start, stop) index range of points on it (a Curve always
    reaches the requested beta_max: ``trace_curve`` raises otherwise)."""

    kappa: np.ndarray
    g: np.ndarray
    beta: np.ndarray
    min_hessian_eig: np.ndarray
    tangent_beta: np.ndarray
    pieces: dict = field(default_factory=dict)


def linear_scales(L: float, s_qk: float, s_uv: float) -> tuple[float, float]:
    """Continuation scales for linear attention: kappa ~ k0, g ~ 1/k0 (so w = g kappa ~ 1), with
    k0^2 = s_qk / (sqrt(L) s_uv) (kappa/g along the branch at onset; generated ``linear_kappa_scale2``)."""
    k0 = math.sqrt(K.linear_kappa_scale2(L, s_qk, s_uv))
    return k0, 1.0 / k0


def trace_curve(kind: int, L: float, s_qk: float, s_uv: float, beta_max: float, beta_min: float = 1e-3,
                ds_max: float = 0.05) -> Curve:
    """Follow the non-trivial stationary curve up to beta_max and split it at its folds.

    softmax: starts on the exact parametric branch at a small kappa whose beta is below
    min(beta_min, 1e-3) / 2, and the exact point (0, 0, beta = 0) is prepended; linear: starts at
    the pitchfork along the Hessian's null vector.  Raises ConvergenceError if the continuation
    does not reach beta_max."""
    if kind == SOFTMAX:
        scale = np.array([1.0, 1.0])
        target = 0.5 * min(beta_min, 1e-3) if beta_min > 0 else 5e-4
        k0 = 1e-2
        g0, b0 = branch_point_at_kappa(SOFTMAX, k0, L, s_qk, s_uv)
        while b0 > target and k0 > 1e-12:
            k0 *= 0.5
            g0, b0 = branch_point_at_kappa(SOFTMAX, k0, L, s_qk, s_uv)
        y0 = np.array([k0, g0, math.log(b0)])
        t0 = np.array([0.0, 0.0, 1.0])
        kappa_min = 0.0
    else:
        k0, g0 = linear_scales(L, s_qk, s_uv)
        scale = np.array([k0, g0])
        bc = K.linear_beta_c(L, s_qk, s_uv)
        y0 = np.array([0.0, 0.0, math.log(bc)])
        h = hessian(LINEAR, 0.0, 0.0, bc, L, s_qk, s_uv)
        t0 = np.array([-h[1], h[0], 0.0])  # null vector of the singular Hessian at the pitchfork
        if t0[0] < 0:
            t0 = -t0
        kappa_min = -1e-300
    Y, mins, tb, n, status = pseudo_arclength(kind, y0, t0, scale, 0.2 * ds_max, ds_max, beta_max,
                                              kappa_min, MAX_POINTS, L, s_qk, s_uv, 1e-12)
    if status != REACHED_BETA_MAX:
        raise ConvergenceError(f"continuation of the {'softmax' if kind == SOFTMAX else 'linear'} branch "
                               f"(L={L}, s_qk={s_qk}, s_uv={s_uv}) stopped at beta={Y[n - 1, 2]:.6g} < "
                               f"beta_max={beta_max:.6g}: {STATUS[status]}")
    Y, mins, tb = Y[:n], mins[:n], tb[:n]
    if kind == SOFTMAX:  # the exact start of the branch
        h = hessian(SOFTMAX, 0.0, 0.0, 0.0, L, s_qk, s_uv)
        Y = np.vstack([[0.0, 0.0, 0.0], Y])
        mins = np.concatenate([[min_eig_2x2(*h)], mins])
        tb = np.concatenate([[1.0], tb])
        n += 1
    sign = np.sign(tb)
    if n > 1 and sign[0] == 0:  # the pitchfork start has a horizontal tangent
        sign[0] = sign[1]
    sign[sign == 0] = 1
    cuts = [0] + [i + 1 for i in np.flatnonzero(sign[1:] != sign[:-1])] + [n]
    ranges = list(zip(cuts[:-1], cuts[1:]))
    if kind == SOFTMAX:
        names = {3: ["uniform", "unstable", "copy"], 1: ["crossover"]}.get(len(ranges))
    else:
        names = {1: ["copy"], 2: ["unstable", "copy"]}.get(len(ranges))
    if names is None:
        raise ConvergenceError(f"unexpected number of folds ({len(ranges) - 1}) on the traced curve "
                               f"(L={L}, s_qk={s_qk}, s_uv={s_uv})")
    return Curve(kappa=Y[:, 0], g=Y[:, 1], beta=Y[:, 2], min_hessian_eig=mins, tangent_beta=tb,
                 pieces=dict(zip(names, ranges)))


@njit(cache=True)
def polish_many(kind, betas, k0s, g0s, L, sqk, suv, tol, max_iter):
    """Newton at fixed beta from each (k0, g0); nan starts give nan rows.

    Returns an array of shape (n, 9): kappa, g, c, eps, w, f, min_hessian_eig, residual, status."""
    n = betas.shape[0]
    out = np.full((n, 9), np.nan)
    for i in range(n):
        if math.isnan(k0s[i]):
            continue
        b = betas[i]
        k, g, res, it, status = newton_reduced(kind, k0s[i], g0s[i], b, L, sqk, suv, tol, max_iter)
        h = hessian(kind, k, g, b, L, sqk, suv)
        c = copy_weight(kind, k, L)
        out[i, 0], out[i, 1], out[i, 2] = k, g, c
        out[i, 3], out[i, 4] = loss(kind, k, g, L), g * c
        out[i, 5] = free_energy(kind, k, g, b, L, sqk, suv)
        out[i, 6] = min_eig_2x2(h[0], h[1], h[2])
        out[i, 7], out[i, 8] = res, status
    return out


COLUMNS = ("kappa", "g", "c", "eps", "w", "free_energy", "min_hessian_eig", "residual", "status")


def points_on_piece(curve: Curve, piece: str, kind: int, betas: np.ndarray, L: float, s_qk: float,
                    s_uv: float) -> np.ndarray:
    """Stationary points at each beta on one piece (shape (len(betas), 9), columns COLUMNS); nan
    where the piece does not reach that beta.  Start: linear interpolation along the piece."""
    i0, i1 = curve.pieces[piece]
    b = curve.beta[i0:i1]
    order = np.argsort(b)
    b = b[order]
    k = np.interp(betas, b, curve.kappa[i0:i1][order], left=np.nan, right=np.nan)
    g = np.interp(betas, b, curve.g[i0:i1][order], left=np.nan, right=np.nan)
    return polish_many(kind, np.asarray(betas, dtype=np.float64), k, g, L, s_qk, s_uv, 1e-12, 50)


def trivial_points(betas: np.ndarray, L: float, s_qk: float, s_uv: float) -> np.ndarray:
    """The linear trivial point kappa = g = 0 at each beta, same columns as points_on_piece."""
    zeros = np.zeros(len(betas))
    return polish_many(LINEAR, np.asarray(betas, dtype=np.float64), zeros, zeros, L, s_qk, s_uv, 1e-12, 1)
