"""MAP (weight decay = prior) thresholds of the attention copy task (``docs/attention_copy.md`` §9).

The large-N MAP objective (generated kernel ``{kind}_map_f``) has no log-det entropy; it is
quadratic in g, so phi(kappa) = min_{g >= 0} f_MAP(kappa, g) uses the closed-form minimiser
``{kind}_map_gstar`` clipped at 0.  Two thresholds:

* local: the uniform point kappa = 0 stops being a local minimum.  Softmax: beta_MAP = L/s_qk +
  1/s_uv in closed form (derived in the theory module); linear: never (the coupling is 4th order in
  the weights, so the origin is a local minimum for every beta) -> inf;
* global switch: min_{kappa > 0} phi(kappa) = phi(0), found by Brent's method in beta; phi is
  minimised over kappa by a grid scan plus golden-section refinement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.optimize import brentq

from grokphase.numerics import _attention_kernels as K
from grokphase.numerics.attention_saddle import SOFTMAX, copy_weight
from grokphase.numerics.errors import ConvergenceError

GOLDEN = 0.5 * (3.0 - math.sqrt(5.0))


@njit(cache=True)
def map_profile(kind, k, b, L, sqk, suv):
    """(phi(kappa), g(kappa)) with g = max(0, g*)."""
    if kind == SOFTMAX:
        g = max(0.0, K.softmax_map_gstar(k, 0.0, b, L, sqk, suv))
        return K.softmax_map_f(k, g, b, L, sqk, suv), g
    if k == 0.0:
        return K.linear_map_f(0.0, 0.0, b, L, sqk, suv), 0.0
    g = max(0.0, K.linear_map_gstar(k, 0.0, b, L, sqk, suv))
    return K.linear_map_f(k, g, b, L, sqk, suv), g


@njit(cache=True)
def map_min_positive_info(kind, b, L, sqk, suv, k_hi, n_grid):
    """argmin over kappa in (0, k_hi] of phi: returns (kappa, phi, golden-section iterations,
    grid index of the best grid point, 1..n_grid)."""
    best, ib = np.inf, 1
    for i in range(1, n_grid + 1):
        f = map_profile(kind, k_hi * i / n_grid, b, L, sqk, suv)[0]
        if f < best:
            best, ib = f, i
    a, c = k_hi * (ib - 1) / n_grid, k_hi * min(ib + 1, n_grid) / n_grid
    it = 0
    while it < 200:
        if c - a <= 1e-12 * (1.0 + c):
            break
        x1, x2 = a + GOLDEN * (c - a), c - GOLDEN * (c - a)
        if map_profile(kind, x1, b, L, sqk, suv)[0] < map_profile(kind, x2, b, L, sqk, suv)[0]:
            c = x2
        else:
            a = x1
        it += 1
    k = 0.5 * (a + c)
    f = map_profile(kind, k, b, L, sqk, suv)[0]
    if f < best:
        return k, f, it, ib
    return k_hi * ib / n_grid, best, it, ib


@njit(cache=True)
def map_min_positive(kind, b, L, sqk, suv, k_hi, n_grid):
    """argmin over kappa in (0, k_hi] of phi: returns (kappa, phi)."""
    k, f, _, _ = map_min_positive_info(kind, b, L, sqk, suv, k_hi, n_grid)
    return k, f


@dataclass(frozen=True)
class MapTransition:
    """MAP thresholds: beta_local (uniform/trivial point stops being a local minimum; inf for
    linear), beta_switch (the copy minimum becomes global) with kappa, g, c there.

    converged / iterations refer to Brent's method for beta_switch; residual is the objective gap
    |min_{kappa>0} phi - phi(0)| at beta_switch (0 at the exact switch)."""

    kind: str
    beta_local: float
    beta_switch: float
    kappa_switch: float
    g_switch: float
    c_switch: float
    converged: bool
    iterations: int
    residual: float


@dataclass(frozen=True)
class MapState:
    """The best MAP point with kappa > 0 at beta (result of ``attention.map_state``).

    kappa, g, c and w = g c (the same observable as the saddle point's w) of that point, its MAP
    objective ``objective`` and that of the uniform/trivial point ``objective_uniform``;
    ``copy_is_global``: objective < objective_uniform.  ``converged``: the minimiser is not on the
    upper end of the search interval (0, kappa_max] and the golden section reached a relative width
    of 1e-12 (in ``iterations`` steps) after a grid scan.  Where the profile has no minimum with
    kappa > 0, kappa tends to 0 (the uniform point itself)."""

    kind: str
    beta: float
    kappa: float
    g: float
    c: float
    w: float
    objective: float
    objective_uniform: float
    converged: bool
    iterations: int
    kappa_max: float

    @property
    def copy_is_global(self) -> bool:
        return self.objective < self.objective_uniform


def _k_hi(kind: int, L: float, s_qk: float, s_uv: float) -> float:
    # linear: the MAP copy logit is ~ sqrt(s_qk / (L s_uv)) or ~ s_qk; search well beyond both
    return (2.0 * math.log(L - 1.0) + 30.0) if kind == SOFTMAX else 10.0 * max(s_qk, math.sqrt(s_qk / (L * s_uv)))


def map_copy_minimum(kind: int, beta: float, L: float, s_qk: float, s_uv: float) -> MapState:
    """The best MAP point with kappa > 0 at beta (the learned state above the MAP thresholds)."""
    k_hi, n_grid = _k_hi(kind, L, s_qk, s_uv), 2000
    k, f, it, ib = map_min_positive_info(kind, beta, L, s_qk, s_uv, k_hi, n_grid)
    g = map_profile(kind, k, beta, L, s_qk, s_uv)[1]
    c = copy_weight(kind, k, L)
    return MapState(kind="softmax" if kind == SOFTMAX else "linear", beta=float(beta), kappa=k, g=g, c=c,
                    w=g * c, objective=f, objective_uniform=map_profile(kind, 0.0, beta, L, s_qk, s_uv)[0],
                    converged=bool(ib < n_grid and it < 200), iterations=int(it), kappa_max=k_hi)


def map_transition(kind: int, L: float, s_qk: float, s_uv: float) -> MapTransition:
    k_hi = _k_hi(kind, L, s_qk, s_uv)
    n_grid = 2000

    def gap(b):
        return map_min_positive(kind, b, L, s_qk, s_uv, k_hi, n_grid)[1] - map_profile(kind, 0.0, b, L, s_qk, s_uv)[0]

    lo, hi = 1e-9, 1.0 / s_uv  # no copying is worth its norm cost at beta -> 0: gap(lo) > 0
    while gap(hi) > 0.0:
        lo, hi = hi, 2.0 * hi
    b_sw, info = brentq(gap, lo, hi, xtol=1e-13 * hi, rtol=1e-14, full_output=True, disp=False)
    k_sw = map_min_positive(kind, b_sw, L, s_qk, s_uv, k_hi, n_grid)[0]
    if k_sw >= k_hi * (1.0 - 1.0 / n_grid):
        raise ConvergenceError(f"MAP switch: the copy minimum sits on the search bound kappa = {k_hi:g} "
                               f"(L={L}, s_qk={s_qk}, s_uv={s_uv})")
    g_sw = map_profile(kind, k_sw, b_sw, L, s_qk, s_uv)[1]
    local = K.softmax_map_threshold(L, s_qk, s_uv) if kind == SOFTMAX else math.inf
    return MapTransition(kind="softmax" if kind == SOFTMAX else "linear", beta_local=local,
                         beta_switch=b_sw, kappa_switch=k_sw, g_switch=g_sw,
                         c_switch=copy_weight(kind, k_sw, L), converged=bool(info.converged),
                         iterations=int(info.iterations), residual=abs(float(gap(b_sw))))
