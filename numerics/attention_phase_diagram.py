"""Phase diagrams and the critical end point of the attention copy task
(``docs/attention_copy.md`` §5.3, §6).

* ``compute_phase_diagram``: for each L (treated as continuous) the transition lines (beta_c and
  both spinodals, from ``attention_transition``) and, on a beta grid, the equilibrium (global
  minimum) order parameters plus the metastable minimum where one exists.  The branches come from
  pseudo-arclength continuation (``attention_branches``), then Newton at each grid beta.  The
  result is a labelled ``xarray.Dataset`` (see ``compute_phase_diagram``).
* ``critical_end_point``: the softmax S-curve exists iff m = min_kappa beta'(kappa) < 0; m = 0 at
  the end point.  Brent's method on m in L (or in s_qk) brackets it; beta* = beta(argmin beta').
  Near it the mean-field laws jump ~ (x - x_c)^{1/2}, spinodal width ~ (x - x_c)^{3/2} are fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.optimize import brentq

from grokphase.results import flag_array

from grokphase.numerics.attention_branches import COLUMNS, points_on_piece, trace_curve, trivial_points
from grokphase.numerics.attention_saddle import SOFTMAX, branch_point_at_kappa
from grokphase.numerics.attention_transition import N_GRID, analyse_linear, analyse_softmax, min_slope
from grokphase.numerics.errors import ConvergenceError


def analyse(kind: int, L: float, s_qk: float, s_uv: float):
    return analyse_softmax(L, s_qk, s_uv) if kind == SOFTMAX else analyse_linear(L, s_qk, s_uv)


@dataclass(frozen=True)
class CriticalEndPoint:
    """Critical end point of the softmax first-order line.  Unpacks as (x_c, beta_star).

    vary: 'L' or 's_qk'; x_c its critical value; kappa_star the copy logit there.  jump_exponent and
    width_exponent are fitted over x - x_c in [1e-4, 1e-2] * max(1, x_c) on the first-order side
    (mean field: 1/2 and 3/2); nan if not fitted.  converged/iterations/residual refer to the root
    of the minimum slope m(x) (residual = |m(x_c)|)."""

    vary: str
    x_c: float
    beta_star: float
    kappa_star: float
    converged: bool
    iterations: int
    residual: float
    jump_exponent: float = float("nan")
    width_exponent: float = float("nan")

    def __iter__(self):
        return iter((self.x_c, self.beta_star))


def critical_end_point(vary: str, L: float, s_qk: float, s_uv: float, bracket: tuple[float, float],
                       fit_exponents: bool = True) -> CriticalEndPoint:
    """Bisection (Brent) on the minimum slope of beta(kappa) in ``vary`` over ``bracket``."""
    def params(x):
        return (x, s_qk, s_uv) if vary == "L" else (L, x, s_uv)

    def m(x):
        return min_slope(SOFTMAX, *params(x), N_GRID)[1]

    lo, hi = bracket
    lowest = 2.0 if vary == "L" else 0.0
    if not (np.isfinite(lo) and np.isfinite(hi) and lowest <= lo < hi) or (vary == "s_qk" and lo <= 0):
        raise ValueError(f"bracket must be (lo, hi) with {'2 <= lo' if vary == 'L' else '0 < lo'} < hi, got {bracket}")
    m_lo, m_hi = m(lo), m(hi)
    if np.sign(m_lo) == np.sign(m_hi):
        raise ValueError(f"bracket: no critical end point in {vary} in {bracket} "
                         f"(min slope {m_lo:.3g} and {m_hi:.3g} have the same sign)")
    xc, info = brentq(m, lo, hi, xtol=1e-13 * max(1.0, abs(hi)), rtol=1e-14, full_output=True,
                      disp=False)
    ks, slope = min_slope(SOFTMAX, *params(xc), N_GRID)
    beta_star = branch_point_at_kappa(SOFTMAX, ks, *params(xc))[1]
    out = dict(vary=vary, x_c=xc, beta_star=beta_star, kappa_star=ks, converged=bool(info.converged),
               iterations=info.iterations, residual=abs(slope))
    if fit_exponents:
        side = 1.0 if m_hi < 0 else -1.0  # the first-order side
        d = np.logspace(-4, -2, 7) * max(1.0, xc)
        jumps, widths = [], []
        for di in d:
            t = analyse_softmax(*params(xc + side * di))
            jumps.append(t.jump[0])
            widths.append(t.beta_spinodal[1] - t.beta_spinodal[0])
        out["jump_exponent"] = float(np.polyfit(np.log(d), np.log(jumps), 1)[0])
        out["width_exponent"] = float(np.polyfit(np.log(d), np.log(widths), 1)[0])
    return CriticalEndPoint(**out)


def _column(a: np.ndarray, name: str) -> np.ndarray:
    return a[:, COLUMNS.index(name)]


def _row(kind: int, betas: np.ndarray, L: float, s_qk: float, s_uv: float):
    """Transition and equilibrium/metastable points at one parameter set."""
    t = analyse(kind, L, s_qk, s_uv)
    beta_max = max(float(betas.max()), (t.beta_spinodal[1] if t.beta_spinodal else t.beta_c)) * 1.05
    beta_min = float(betas.min())
    fold_piece = "uniform" if kind == SOFTMAX else "unstable"
    curve = trace_curve(kind, L, s_qk, s_uv, beta_max, beta_min)
    if t.order == "first" and fold_piece not in curve.pieces:  # folds closer than the step
        curve = trace_curve(kind, L, s_qk, s_uv, beta_max, beta_min, ds_max=0.002)
        if fold_piece not in curve.pieces:
            raise ConvergenceError(f"the continuation did not resolve the folds at L={L}, s_qk={s_qk}, "
                                   f"s_uv={s_uv} (spinodals {t.beta_spinodal})")
    nb = len(betas)
    if kind == SOFTMAX:
        names = ("uniform", "copy") if "uniform" in curve.pieces else ("crossover", "crossover")
        lower = points_on_piece(curve, names[0], kind, betas, L, s_qk, s_uv)
        upper = points_on_piece(curve, names[1], kind, betas, L, s_qk, s_uv)
    else:
        names = ("trivial", "copy")
        lower = trivial_points(betas, L, s_qk, s_uv)
        upper = points_on_piece(curve, "copy", kind, betas, L, s_qk, s_uv)
        lower[betas > t.beta_spinodal[1] if t.beta_spinodal else betas > t.beta_c] = np.nan
    below = betas < t.beta_c
    eq = np.where(below[:, None], lower, upper)
    branch = np.where(below, names[0], names[1])
    missing, lower_missing = np.isnan(eq[:, 0]), np.isnan(lower[:, 0])
    eq = np.where(missing[:, None], np.where(lower_missing[:, None], upper, lower), eq)
    branch = np.where(missing, np.where(lower_missing, names[1], names[0]), branch)
    branch = np.where(np.isnan(eq[:, 0]), "none", branch)
    other = np.where((betas < t.beta_c)[:, None], upper, lower)
    c_meta = np.where(_column(other, "min_hessian_eig") > 0, _column(other, "c"), np.nan)
    if t.order != "first":
        c_meta = np.full(nb, np.nan)
    sp = t.beta_spinodal or (np.nan, np.nan)
    return t.order, t.beta_c, sp, eq, c_meta, branch


#: Codes of the categorical variables (CF flag_meanings, code i = entry i).
ORDERS = ("crossover", "critical", "first", "second", "tricritical")
BRANCHES = ("none", "uniform", "copy", "crossover", "trivial")
RESIDUAL_TOL = 1e-10

_GRID = {  # name: long_name (all dimensionless: units "1")
    "kappa": "copy logit gap kappa (softmax) or copy score (linear) at the global minimum",
    "g": "value gain g at the global minimum",
    "c": "copy weight c = A_{l,l-1} at the global minimum",
    "eps": "per-position population MSE eps at the global minimum",
    "w": "output copy amplitude w = g c at the global minimum",
    "free_energy": "reduced free energy f per N at the global minimum",
    "min_hessian_eig": "smallest Hessian eigenvalue of f at the global minimum",
    "residual": "Newton residual |grad f| (relative) at the global minimum",
    "c_metastable": "copy weight c of the other (metastable) local minimum; nan where there is none",
}
_AXIS = {"L": "sequence length L (continuous)", "s_qk": "query-key prior scale s_qk = s_q s_k"}


def compute_phase_diagram(kind: int, betas, xs, *, axis: str, L: float, s_qk: float,
                          s_uv: float) -> xr.Dataset:
    """Phase diagram over ``xs`` x ``betas`` with ``axis`` in ('L', 's_qk') varying.

    Returns
    -------
    xarray.Dataset
        Dimensions ``axis`` (the values ``xs``, shape (nx,)) and ``beta`` (shape (nb,)).
        Per x: ``order`` (flag: ``ORDERS``), ``beta_c``, ``beta_sp_lo``, ``beta_sp_hi`` (nan without
        spinodals).  On the (nx, nb) grid: equilibrium ``kappa, g, c, eps, w, free_energy``, its
        ``min_hessian_eig`` and Newton ``residual``, ``branch`` (flag: ``BRANCHES``, which branch is
        the global minimum) and ``c_metastable``.  Attributes: ``kind``, ``varied`` (= axis), the
        fixed ``s_uv`` and ``s_qk`` (axis 'L') or ``L`` (axis 's_qk'), ``residual_tol`` and
        ``converged`` (every grid point has residual <= residual_tol).
    """
    betas = np.asarray(betas, dtype=np.float64)
    xs = np.asarray(xs, dtype=np.float64)
    nx, nb = len(xs), len(betas)
    grids = {n: np.full((nx, nb), np.nan) for n in _GRID}
    branch = np.empty((nx, nb), dtype="U16")
    order = np.empty(nx, dtype="U16")
    beta_c, lo, hi = np.empty(nx), np.empty(nx), np.empty(nx)
    for i, x in enumerate(xs):
        Li, sq = (x, s_qk) if axis == "L" else (L, x)
        order[i], beta_c[i], (lo[i], hi[i]), eq, c_meta, branch[i] = _row(kind, betas, Li, sq, s_uv)
        for n in COLUMNS[:-1]:
            grids[n][i] = _column(eq, n)
        grids["c_metastable"][i] = c_meta
    one = {"units": "1"}
    data = {n: ((axis, "beta"), v, {"long_name": _GRID[n], **one}) for n, v in grids.items()}
    data.update(
        order=flag_array(order, ORDERS, axis, long_name="order of the transition at this " + axis),
        beta_c=(axis, beta_c, {"long_name": "transition point beta_c (first order: equal free energy)", **one}),
        beta_sp_lo=(axis, lo, {"long_name": "lower spinodal (nan without spinodals)", **one}),
        beta_sp_hi=(axis, hi, {"long_name": "upper spinodal (nan without spinodals)", **one}),
        branch=flag_array(branch, BRANCHES, (axis, "beta"), long_name="branch of the global minimum"),
    )
    attrs = dict(kind="softmax" if kind == SOFTMAX else "linear", varied=axis, s_uv=float(s_uv))
    attrs.update({"s_qk": float(s_qk)} if axis == "L" else {"L": float(L)})
    attrs.update(residual_tol=RESIDUAL_TOL, converged=bool(np.all(grids["residual"] <= RESIDUAL_TOL)),
                 title=f"phase diagram of {attrs['kind']} attention on the copy task (large N)")
    coords = {axis: (axis, xs, {"long_name": _AXIS[axis], **one}),
              "beta": ("beta", betas, {"long_name": "amount of data beta = alpha / sigma^2", **one})}
    return xr.Dataset(data, coords=coords, attrs=attrs)
