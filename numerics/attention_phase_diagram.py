"""Phase diagrams and the critical end point of the attention copy task (spec §5.3, §6).

* ``compute_phase_diagram``: for each L (treated as continuous) the transition lines (beta_c and
  both spinodals, from ``attention_transition``) and, on a beta grid, the equilibrium (global
  minimum) order parameters plus the metastable minimum where one exists.  The branches come from
  pseudo-arclength continuation (``attention_branches``), then Newton at each grid beta.
* ``critical_end_point``: the softmax S-curve exists iff m = min_kappa beta'(kappa) < 0; m = 0 at
  the end point.  Brent's method on m in L (or in s_qk) brackets it; beta* = beta(argmin beta').
  Near it the mean-field laws jump ~ (x - x_c)^{1/2}, spinodal width ~ (x - x_c)^{3/2} are fitted.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

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


@dataclass(frozen=True)
class PhaseDiagram:
    """Labelled arrays of a (beta, L) phase diagram (or (beta, s_qk): then ``axis`` = 's_qk').

    Coordinates: ``betas`` (nb,), ``xs`` (nx,) the values of ``axis``.  Per x, shape (nx,):
    ``order`` (str), ``beta_c``, ``beta_sp_lo``, ``beta_sp_hi`` (nan without spinodals).
    On the grid, shape (nx, nb): equilibrium ``kappa, g, c, eps, w, free_energy``, its
    ``min_hessian_eig`` and Newton ``residual``; ``c_metastable`` the copy weight of the other local
    minimum where there is one (nan otherwise).  ``params`` holds kind and the fixed scales."""

    axis: str
    betas: np.ndarray
    xs: np.ndarray
    order: np.ndarray
    beta_c: np.ndarray
    beta_sp_lo: np.ndarray
    beta_sp_hi: np.ndarray
    kappa: np.ndarray
    g: np.ndarray
    c: np.ndarray
    eps: np.ndarray
    w: np.ndarray
    free_energy: np.ndarray
    min_hessian_eig: np.ndarray
    residual: np.ndarray
    c_metastable: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        """All grid points solved to the Newton tolerance (residual <= 1e-10 relative)."""
        return bool(np.all(self.residual <= 1e-10))

    def save(self, path) -> Path:
        """Write atomically to ``path`` (.npz; load with ``PhaseDiagram.load``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("axis", "params")}
        arrays["order"] = np.asarray(self.order, dtype="U16")
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        os.close(fd)
        np.savez(tmp, axis=np.asarray(self.axis), params_keys=np.asarray(list(self.params), dtype="U32"),
                 params_values=np.asarray([str(v) for v in self.params.values()], dtype="U64"), **arrays)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path) -> "PhaseDiagram":
        with np.load(path) as z:
            kw = {f.name: z[f.name] for f in fields(cls) if f.name not in ("axis", "params")}
            params = dict(zip(z["params_keys"].tolist(), z["params_values"].tolist()))
            return cls(axis=str(z["axis"]), params=params, **kw)


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
        lower = trivial_points(betas, L, s_qk, s_uv)
        upper = points_on_piece(curve, "copy", kind, betas, L, s_qk, s_uv)
        lower[betas > t.beta_spinodal[1] if t.beta_spinodal else betas > t.beta_c] = np.nan
    eq = np.where((betas < t.beta_c)[:, None], lower, upper)
    eq = np.where(np.isnan(eq[:, :1]), np.where(np.isnan(lower[:, :1]), upper, lower), eq)
    other = np.where((betas < t.beta_c)[:, None], upper, lower)
    c_meta = np.where(_column(other, "min_hessian_eig") > 0, _column(other, "c"), np.nan)
    if t.order != "first":
        c_meta = np.full(nb, np.nan)
    sp = t.beta_spinodal or (np.nan, np.nan)
    return t.order, t.beta_c, sp, eq, c_meta


def compute_phase_diagram(kind: int, betas, xs, *, axis: str, L: float, s_qk: float,
                          s_uv: float) -> PhaseDiagram:
    """Phase diagram over ``betas`` x ``xs`` with ``axis`` in ('L', 's_qk') varying."""
    betas = np.asarray(betas, dtype=np.float64)
    xs = np.asarray(xs, dtype=np.float64)
    nx, nb = len(xs), len(betas)
    grids = {n: np.full((nx, nb), np.nan) for n in ("kappa", "g", "c", "eps", "w", "free_energy",
                                                     "min_hessian_eig", "residual", "c_metastable")}
    order = np.empty(nx, dtype="U16")
    beta_c, lo, hi = np.empty(nx), np.empty(nx), np.empty(nx)
    for i, x in enumerate(xs):
        Li, sq = (x, s_qk) if axis == "L" else (L, x)
        order[i], beta_c[i], (lo[i], hi[i]), eq, c_meta = _row(kind, betas, Li, sq, s_uv)
        for n in ("kappa", "g", "c", "eps", "w", "free_energy", "min_hessian_eig", "residual"):
            grids[n][i] = _column(eq, n)
        grids["c_metastable"][i] = c_meta
    params = dict(kind="softmax" if kind == SOFTMAX else "linear", s_uv=s_uv)
    params.update({"s_qk": s_qk} if axis == "L" else {"L": L})
    return PhaseDiagram(axis=axis, betas=betas, xs=xs, order=order, beta_c=beta_c, beta_sp_lo=lo,
                        beta_sp_hi=hi, params=params, **grids)
