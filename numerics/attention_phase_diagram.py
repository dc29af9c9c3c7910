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
        out.update(fit_end_point_exponents(lambda x: jump_width_of(analyse_softmax(*params(x))), xc, side))
    return CriticalEndPoint(**out)


def jump_width_of(t) -> tuple[float, float]:
    """(jump of c, spinodal width) of a first-order softmax transition (either token model)."""
    return t.jump[0], t.beta_spinodal[1] - t.beta_spinodal[0]


def fit_end_point_exponents(jump_width, x_c: float, side: float) -> dict:
    """Log-log slopes of the jump and of the spinodal width over x - x_c in [1e-4, 1e-2] * max(1, x_c)
    on the first-order side ``side`` (+1 or -1); ``jump_width(x)`` returns both at x.  Mean field:
    1/2 and 3/2."""
    d = np.logspace(-4, -2, 7) * max(1.0, x_c)
    jumps, widths = np.array([jump_width(x_c + side * di) for di in d]).T
    return dict(jump_exponent=float(np.polyfit(np.log(d), np.log(jumps), 1)[0]),
                width_exponent=float(np.polyfit(np.log(d), np.log(widths), 1)[0]))


def _column(a: np.ndarray, name: str) -> np.ndarray:
    return a[:, COLUMNS.index(name)]


def gaussian_row(kind: int, betas: np.ndarray, L: float, s_qk: float, s_uv: float):
    """One row of the phase diagram (Gaussian tokens): the transition and the equilibrium/metastable
    points at one parameter set.

    Returns
    -------
    tuple
        (order, beta_c, (beta_sp_lo, beta_sp_hi), eq (nb, len(COLUMNS)), c_metastable (nb,), branch (nb,)).
    """
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
_AXIS = {"L": "sequence length L (continuous)", "s_qk": "query-key prior scale s_qk = s_q s_k",
         "V": "vocabulary size V (continuous)"}


def compute_phase_diagram(kind: int, betas, xs, *, axis: str, row, fixed: dict, s_uv: float,
                          model_attrs: dict | None = None, task: str = "copy task") -> xr.Dataset:
    """Phase diagram over ``xs`` x ``betas`` with ``axis`` varying.

    Parameters
    ----------
    kind : int
        ``SOFTMAX`` or ``LINEAR``.
    betas : array-like, shape (nb,)
    xs : array-like, shape (nx,)
        Values of ``axis`` (a key of ``fixed``).
    row : callable
        ``row(betas, **params)`` with params = ``fixed`` and ``{axis: x}``: the row tuple of
        ``gaussian_row`` (Gaussian tokens), ``attention_onehot.softmax_diagram_row`` or
        ``attention_onehot.linear_diagram_row`` (one-hot tokens; the latter with a 7th element, its
        extras: ``grid`` and ``per_x`` arrays, the ``secondary`` label, ``labels`` (long names) and
        ``secondary_values`` (flag values)); the model variant chooses it.
    fixed : dict
        The fixed parameters of the row (L, s_qk and, for one-hot tokens, V; s_uv is bound in ``row``);
        those not varied become attributes.
    s_uv : float
    model_attrs : dict, optional
        Attributes naming the model variant (one-hot tokens: ``tokens``, ``score_prior``).
    task : str
        The task, for the title.

    Returns
    -------
    xarray.Dataset
        Dimensions ``axis`` (the values ``xs``, shape (nx,)) and ``beta`` (shape (nb,)).
        Per x: ``order`` (flag: ``ORDERS``), ``beta_c``, ``beta_sp_lo``, ``beta_sp_hi`` (nan without
        spinodals).  On the (nx, nb) grid: equilibrium ``kappa, g, c, eps, w, free_energy``, its
        ``min_hessian_eig`` and Newton ``residual``, ``branch`` (flag: ``BRANCHES``, which branch is
        the global minimum) and ``c_metastable``.  Attributes: ``kind``, ``varied`` (= axis), the
        fixed ``s_uv`` and ``s_qk`` (axis 'L') or ``L`` (axis 's_qk'), ``residual_tol`` and
        ``converged`` (every grid point has residual <= residual_tol).  One-hot tokens add the
        attributes ``tokens = 'onehot'``, ``score_prior`` and the fixed ``V`` (axis not 'V'); with
        axis 'V' the fixed ``L`` and ``s_qk`` are attributes.  A row with extras (one-hot linear
        attention) adds its grid variables (``a, m, w_c, w_a, w_m, w_c_metastable``), its per-x ones
        (``beta_c2``, ``beta_sp2_lo/hi``, ``beta_steepest``) and ``secondary`` (a flag).
    """
    betas = np.asarray(betas, dtype=np.float64)
    xs = np.asarray(xs, dtype=np.float64)
    nx, nb = len(xs), len(betas)
    grids = {n: np.full((nx, nb), np.nan) for n in _GRID}
    branch = np.empty((nx, nb), dtype="U16")
    order = np.empty(nx, dtype="U16")
    beta_c, lo, hi = np.empty(nx), np.empty(nx), np.empty(nx)
    extra_grid, extra_x, secondary, meta = {}, {}, [], {}
    for i, x in enumerate(xs):
        r = row(betas, **(fixed | {axis: float(x)}))
        order[i], beta_c[i], (lo[i], hi[i]), eq, c_meta, branch[i] = r[:6]
        for n in COLUMNS[:-1]:
            grids[n][i] = _column(eq, n)
        grids["c_metastable"][i] = c_meta
        if len(r) > 6:   # a variant's own order parameters and secondary transition (labels in the row)
            extras = r[6]
            for n, v in extras["grid"].items():
                extra_grid.setdefault(n, np.full((nx, nb), np.nan))[i] = v
            for n, v in extras["per_x"].items():
                extra_x.setdefault(n, np.full(nx, np.nan))[i] = v
            secondary.append(extras["secondary"])
            meta = {k: extras[k] for k in ("labels", "secondary_values")}
    one = {"units": "1"}
    data = {n: ((axis, "beta"), v, {"long_name": _GRID[n], **one}) for n, v in grids.items()}
    if secondary:
        labels = meta["labels"]
        data.update({n: ((axis, "beta"), v, {"long_name": labels[n], **one}) for n, v in extra_grid.items()})
        data.update({n: (axis, v, {"long_name": labels[n], **one}) for n, v in extra_x.items()})
        data["secondary"] = flag_array(secondary, meta["secondary_values"], axis,
                                       long_name="what follows the onset of w_c")
    data.update(
        order=flag_array(order, ORDERS, axis, long_name="order of the transition at this " + axis),
        beta_c=(axis, beta_c, {"long_name": "transition point beta_c (first order: equal free energy)", **one}),
        beta_sp_lo=(axis, lo, {"long_name": "lower spinodal (nan without spinodals)", **one}),
        beta_sp_hi=(axis, hi, {"long_name": "upper spinodal (nan without spinodals)", **one}),
        branch=flag_array(branch, BRANCHES, (axis, "beta"), long_name="branch of the global minimum"),
    )
    attrs = dict(kind="softmax" if kind == SOFTMAX else "linear", varied=axis, s_uv=float(s_uv))
    attrs.update({n: float(v) for n, v in fixed.items() if n != axis})
    attrs.update(model_attrs or {})
    attrs.update(residual_tol=RESIDUAL_TOL, converged=bool(np.all(grids["residual"] <= RESIDUAL_TOL)),
                 title=f"phase diagram of {attrs['kind']} attention on the {task} (large N)")
    coords = {axis: (axis, xs, {"long_name": _AXIS[axis], **one}),
              "beta": ("beta", betas, {"long_name": "amount of data beta = alpha / sigma^2", **one})}
    return xr.Dataset(data, coords=coords, attrs=attrs)
