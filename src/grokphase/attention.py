"""Bayesian single-layer attention on the cyclic copy task: saddle points, branches, transitions.

Model: ``docs/attention_copy.md`` (the package's exactly solvable model with the phenomenology of
Lavie et al., arXiv 2606.12058).  Large-N theory: the posterior concentrates on the minima of the
reduced free energy f(kappa, g; beta) (§4), with beta = alpha / sigma^2 the amount of data.

Order parameters: kappa (copy logit gap for softmax, copy score for linear), g (value gain),
c = A_{l,l-1} (copy weight; = kappa for linear attention, where A = S), eps (per-position population
MSE), w = g c.  Parameters: L (sequence length, >= 2; real values allowed for phase diagrams),
s_qk = s_q s_k and s_uv = s_u s_v (prior scales, > 0), beta >= 0.

>>> t = transition(L=8, kind='softmax', s_qk=0.25, s_uv=9.0)
>>> t.order, round(t.beta_c, 4), tuple(round(b, 4) for b in t.beta_spinodal)
('first', 12.9682, (12.2611, 14.2626))
>>> round(transition(L=8, kind='linear', s_qk=0.25, s_uv=9.0).beta_c, 6)
0.157135
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from grokphase._checks import nonnegative
from grokphase._checks import positive as _positive
from grokphase.numerics import attention_branches as _br
from grokphase.numerics import attention_map as _map
from grokphase.numerics import attention_phase_diagram as _pd
from grokphase.numerics import attention_saddle as _sd
from grokphase.numerics import attention_transition as _tr
from grokphase.numerics import attention_full as _full
from grokphase.numerics.attention_full import FullSaddleResult
from grokphase.numerics.attention_map import MapState, MapTransition
from grokphase.numerics.attention_phase_diagram import CriticalEndPoint
from grokphase.numerics.attention_transition import BranchState
from grokphase.numerics.attention_transition import TransitionResult as Transition

__all__ = ["SaddleResult", "FullSaddleResult", "AnsatzCheck", "Branches", "Transition",
           "CriticalEndPoint", "MapTransition", "MapState", "solve", "solve_full",
           "check_copy_ansatz", "trace", "transition", "critical_end_point", "phase_diagram",
           "map_transition", "map_state"]



def _kind(kind: str) -> int:
    if kind not in _sd.KIND_CODES:
        raise ValueError(f"kind must be 'softmax' or 'linear', got {kind!r}")
    return _sd.KIND_CODES[kind]


def _check(L, s_qk, s_uv) -> tuple[float, float, float]:
    L = float(L)
    if not (L >= 2.0 and math.isfinite(L)):
        raise ValueError(f"L must be >= 2 (sequence length), got {L}")
    return L, _positive("s_qk", s_qk), _positive("s_uv", s_uv)


def _beta(beta) -> float:
    return nonnegative("beta", beta)


# solve() returns the same stationary-point record that transition() reports for its branches.
SaddleResult = BranchState


@lru_cache(maxsize=64)
def _minima_curve(kind: int, L: float, s_qk: float, s_uv: float):
    """The branch sampled on a kappa grid (dense at small kappa), for locating the stable stationary
    points at any beta: (kappa, g, beta) arrays."""
    k_hi = _tr.kappa_range(kind, L, s_qk, s_uv)
    ks = k_hi * np.linspace(0.0, 1.0, 3201)[1:] ** 2
    g, b, *_ = _sd.stationary_curve(kind, ks, L, s_qk, s_uv)
    return ks, g, b


def _branch_starts(kind: int, beta: float, L: float, s_qk: float, s_uv: float):
    """(kappa, g) of the stable stationary points at beta on the non-trivial branch, by kappa."""
    ks, g, b = _minima_curve(kind, L, s_qk, s_uv)
    ok = np.isfinite(b)
    ks, g, b = ks[ok], g[ok], b[ok]
    if beta > b[-1]:
        raise ValueError(f"beta = {beta:g} is beyond the resolved branch (beta <= {b[-1]:.4g} here: copy "
                         f"logit kappa <= {ks[-1]:.4g})")
    d = b - beta
    idx = np.flatnonzero((d[:-1] <= 0) & (d[1:] > 0))  # beta increasing through the target: stable
    out = []
    for i in idx:
        k = _tr.kappa_at_beta(kind, beta, ks[i], ks[i + 1], L, s_qk, s_uv)
        out.append((k, _sd.branch_point_at_kappa(kind, k, L, s_qk, s_uv)[0]))
    if kind == _sd.SOFTMAX and beta < b[0]:
        out.insert(0, (ks[0], g[0]))
    return out


def solve(beta, *, L, kind="softmax", s_qk, s_uv, init="uniform", tol=1e-12, max_iter=100) -> SaddleResult:
    """Solve the saddle-point equations grad f = 0 at beta by Newton (line search, trust radius,
    steepest-descent fallback).

    Minima are located on the exact parametric branch (``attention_saddle.branch_point_at_kappa``)
    and polished by Newton.

    Parameters
    ----------
    beta : float
        Amount of data alpha / sigma^2, >= 0.
    L : float
        Sequence length, >= 2.
    kind : {'softmax', 'linear'}
    s_qk, s_uv : float
        Prior scales s_q s_k and s_u s_v, > 0.
    init : {'uniform', 'copy'} or (float, float)
        'uniform': softmax, the minimum with the smallest kappa; linear, kappa = g = 0 (exact).
        'copy': the minimum with the largest kappa (the copy branch where it exists, otherwise the
        unique minimum).  An explicit (kappa, g) start: Newton converges to the nearest stationary
        point, possibly unstable (check ``stable``).
    tol : float
        Newton tolerance on max |grad f| / (1 + beta L).
    max_iter : int
        Newton iterations.

    Returns
    -------
    SaddleResult
        beta, kappa, g, c, eps, w = g c, free_energy, min_hessian_eig (``stable`` if > 0),
        converged, residual, iterations.

    Examples
    --------
    >>> r = solve(13.0, L=8, s_qk=0.25, s_uv=9.0, init="copy")   # between the spinodals
    >>> round(r.c, 4), round(r.g, 4), r.stable, r.converged
    (0.3123, 1.8904, True, True)
    >>> round(solve(13.0, L=8, s_qk=0.25, s_uv=9.0).c, 4)          # the uniform branch, c ~ 1/L
    0.1461
    """
    k = _kind(kind)
    L, s_qk, s_uv = _check(L, s_qk, s_uv)
    beta = _beta(beta)
    if isinstance(init, str):
        if init not in ("uniform", "copy"):
            raise ValueError(f"init must be 'uniform', 'copy' or (kappa, g), got {init!r}")
        if k == _sd.LINEAR and init == "uniform":
            start = (0.0, 0.0)
        else:
            starts = _branch_starts(k, beta, L, s_qk, s_uv)
            if not starts:  # linear below the copy branch: the trivial point is the minimum
                start = (0.0, 0.0)
            else:
                start = starts[0] if init == "uniform" else starts[-1]
    else:
        start = tuple(float(v) for v in init)
        if len(start) != 2 or not all(math.isfinite(v) for v in start):
            raise ValueError(f"init must be 'uniform', 'copy' or a finite (kappa, g), got {init!r}")
    return _tr.state_at(k, beta, start[0], start[1], L, s_qk, s_uv, tol=tol, max_iter=max_iter)


def _ansatz_scores(kind: str, kappa: float, L: int) -> np.ndarray:
    Pi = np.roll(np.eye(L), -1, axis=1)  # Pi[l, l-1] = 1
    return kappa * (Pi - 1.0 / L) if kind == "softmax" else kappa * Pi


def solve_full(beta, *, L, kind="softmax", s_qk, s_uv, init="uniform", tol=1e-9,
               max_iter=5000) -> FullSaddleResult:
    """Minimise the full free energy F(S, g) over all L^2 + 1 order parameters (§3, §5.5;
    BFGS with a strong-Wolfe line search, then Newton with a finite-difference Hessian).

    Parameters
    ----------
    beta : float
        Amount of data alpha / sigma^2, >= 0.
    L : int
        Sequence length, >= 2 (an integer: S is an L x L matrix).
    kind : {'softmax', 'linear'}
    s_qk, s_uv : float
        Prior scales, > 0.
    init : {'uniform', 'copy'} or (ndarray, float)
        Start on the corresponding reduced minimum (``solve``) written as an L x L score matrix, or
        an explicit (S0, g0) with S0 of shape (L, L).
    tol : float
        Tolerance on the max-abs gradient.
    max_iter : int
        BFGS iterations.

    Returns
    -------
    FullSaddleResult
        S (L, L), g, free_energy, c, eps, row_spread (0 if the rows are translation invariant),
        converged, residual, iterations, min_hessian_eig.

    Examples
    --------
    >>> r = solve_full(13.0, L=8, s_qk=0.25, s_uv=9.0, init="copy")
    >>> r.S.shape, round(r.c, 4), r.converged, r.row_spread < 1e-8      # the copy ansatz, unrestricted
    ((8, 8), 0.3123, True, True)
    """
    _kind(kind)
    if isinstance(init, str):
        r = solve(beta, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv, init=init)
        S0, g0 = _ansatz_scores(kind, r.kappa, int(L)), r.g
    else:
        S0, g0 = init
    return _full.minimize_full(beta, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv, S0=S0, g0=g0, tol=tol,
                               max_iter=max_iter)


@dataclass(frozen=True)
class AnsatzCheck:
    """Outcome of ``check_copy_ansatz``: every local minimum of the full problem found from the
    uniform, copy and random starts, compared with the reduced minima at the same beta.

    max_free_energy_gap: max over converged full minima of min over reduced minima |F - f|;
    max_row_spread: max deviation from translation invariance of the attention rows;
    n_converged / n_starts; all_on_ansatz: every converged minimum matched a reduced one (gap and
    spread below ``tol``)."""

    beta: float
    n_starts: int
    n_converged: int
    max_free_energy_gap: float
    max_row_spread: float
    all_on_ansatz: bool


def check_copy_ansatz(beta, *, L, kind="softmax", s_qk, s_uv, n_random=6, seed=0,
                      tol=1e-6) -> AnsatzCheck:
    """The check of §5.5: minimise F(S, g) from the uniform start, the copy start and ``n_random`` random
    starts (S ~ N(0, 1), g ~ U(0, 2), seeded) and check every minimum is one of the reduced
    (copy-ansatz) minima.

    Parameters
    ----------
    beta : float
        Amount of data, >= 0.
    L : int
        Sequence length, >= 2.
    kind : {'softmax', 'linear'}
    s_qk, s_uv : float
        Prior scales, > 0.
    n_random : int
        Random starts besides the uniform and copy ones.
    seed : int
        Seed of the random starts.
    tol : float
        Largest free-energy gap and row spread that count as "on the ansatz".

    Returns
    -------
    AnsatzCheck

    Examples
    --------
    >>> check_copy_ansatz(13.0, L=4, s_qk=0.25, s_uv=9.0, n_random=2).all_on_ansatz
    True
    """
    L = int(L)
    reduced = {solve(beta, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv, init=i).free_energy
               for i in ("uniform", "copy")}
    rng = np.random.default_rng(seed)
    starts = ["uniform", "copy"] + [(rng.standard_normal((L, L)), rng.uniform(0.0, 2.0))
                                    for _ in range(n_random)]
    gaps, spreads, n_conv = [], [], 0
    for st in starts:
        r = solve_full(beta, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv, init=st)
        if not (r.converged and r.min_hessian_eig > 0):
            continue
        n_conv += 1
        gaps.append(min(abs(r.free_energy - f) for f in reduced))
        spreads.append(r.row_spread)
    gap = max(gaps, default=math.nan)
    spread = max(spreads, default=math.nan)
    return AnsatzCheck(beta=float(beta), n_starts=len(starts), n_converged=n_conv,
                       max_free_energy_gap=gap, max_row_spread=spread,
                       all_on_ansatz=bool(n_conv > 0 and gap < tol and spread < tol))


@dataclass(frozen=True)
class Branches:
    """Branches of stationary points at each requested beta (arrays of shape (len(betas),), nan
    where a branch does not exist), and the traced curve itself.

    branches: dict name -> dict of arrays (kappa, g, c, eps, w, free_energy, min_hessian_eig,
    residual).  Softmax names: 'uniform', 'unstable', 'copy' (first order) or 'crossover'.  Linear:
    'trivial' (kappa = g = 0), 'copy' (stable non-trivial), 'unstable' (subcritical part, if any).
    curve: dict of arrays along arclength (kappa, g, beta, min_hessian_eig).
    converged: every reported point passed the Newton tolerance (residual <= 1e-10)."""

    kind: str
    betas: np.ndarray
    branches: dict
    curve: dict
    converged: bool


def trace(betas, *, L, kind="softmax", s_qk, s_uv) -> Branches:
    """Follow the stationary curve by pseudo-arclength continuation in beta (through the folds)
    and report every branch at each beta.

    Parameters
    ----------
    betas : array-like, shape (nb,)
        Finite values >= 0.
    L : float
        Sequence length, >= 2.
    kind : {'softmax', 'linear'}
    s_qk, s_uv : float
        Prior scales, > 0.

    Returns
    -------
    Branches
        Per branch name a dict of arrays of shape (nb,) (nan where the branch does not exist at that
        beta), and the traced curve.

    Examples
    --------
    >>> b = trace([12.0, 13.0, 15.0], L=8, s_qk=0.25, s_uv=9.0)
    >>> sorted(b.branches), np.round(b.branches["copy"]["c"], 4).tolist(), b.converged
    (['copy', 'uniform', 'unstable'], [nan, 0.3123, 0.3617], True)
    """
    k = _kind(kind)
    L, s_qk, s_uv = _check(L, s_qk, s_uv)
    betas = np.atleast_1d(np.asarray(betas, dtype=np.float64))
    if betas.size == 0 or not np.all(np.isfinite(betas)) or np.any(betas < 0):
        raise ValueError("betas must be a non-empty array of finite numbers >= 0")
    t = _tr.analyse_softmax(L, s_qk, s_uv) if k == _sd.SOFTMAX else _tr.analyse_linear(L, s_qk, s_uv)
    top = t.beta_spinodal[1] if t.beta_spinodal else t.beta_c
    curve = _br.trace_curve(k, L, s_qk, s_uv, max(float(betas.max()), top) * 1.05, float(betas.min()))
    names = _br.COLUMNS[:-1]
    out = {}
    for piece in curve.pieces:
        pts = _br.points_on_piece(curve, piece, k, betas, L, s_qk, s_uv)
        out[piece] = {n: pts[:, i] for i, n in enumerate(names)}
    if k == _sd.LINEAR:
        pts = _br.trivial_points(betas, L, s_qk, s_uv)
        out["trivial"] = {n: pts[:, i] for i, n in enumerate(names)}
    res = np.concatenate([b["residual"] for b in out.values()])
    return Branches(kind=kind, betas=betas, branches=out,
                    curve=dict(kappa=curve.kappa, g=curve.g, beta=curve.beta,
                               min_hessian_eig=curve.min_hessian_eig),
                    converged=bool(np.all(res[np.isfinite(res)] <= 1e-10)))


def transition(*, L, kind="softmax", s_qk, s_uv) -> Transition:
    """Classify the transition and locate it.

    Parameters
    ----------
    L : float
        Sequence length, >= 2.
    kind : {'softmax', 'linear'}
    s_qk, s_uv : float
        Prior scales, > 0.

    Returns
    -------
    Transition
        order ('first', 'second', 'crossover', 'tricritical' or 'critical'), beta_c, beta_spinodal,
        jump, exponent, the branch states at beta_c, barrier, B2 (linear), converged.

    Examples
    --------
    >>> t = transition(L=8, s_qk=0.25, s_uv=9.0)
    >>> t.order, round(t.beta_c, 4), t.converged
    ('first', 12.9682, True)
    """
    k = _kind(kind)
    L, s_qk, s_uv = _check(L, s_qk, s_uv)
    return _tr.analyse_softmax(L, s_qk, s_uv) if k == _sd.SOFTMAX else _tr.analyse_linear(L, s_qk, s_uv)


def critical_end_point(*, kind="softmax", s_qk, s_uv, vary="L", L=8.0, bracket=None,
                       fit_exponents=True) -> CriticalEndPoint:
    """Critical end point of the softmax first-order line, varying L or s_qk at fixed L.

    Parameters
    ----------
    kind : {'softmax'}
        Only softmax attention has a critical end point.
    s_qk, s_uv : float
        Prior scales, > 0 (s_qk is the varied one when vary='s_qk').
    vary : {'L', 's_qk'}
    L : float
        The fixed L when vary='s_qk'.
    bracket : (float, float), optional
        Search interval of the varied parameter (default (2, 64) for L, (1e-2, 10) for s_qk).
    fit_exponents : bool
        Also fit the jump and spinodal-width exponents (mean field: 1/2 and 3/2).

    Returns
    -------
    CriticalEndPoint
        x_c, beta_star, kappa_star, the exponents (nan if not fitted), converged, iterations,
        residual.  Unpacks as (x_c, beta_star).

    Examples
    --------
    >>> L_c, beta_star = critical_end_point(s_qk=0.25, s_uv=9.0, fit_exponents=False)
    >>> round(L_c, 3), round(beta_star, 3)
    (5.455, 10.847)
    """
    if kind != "softmax":
        raise ValueError("kind: only softmax attention has a critical end point (linear has a "
                         "tricritical point: s_qk s_uv = (1 + L) / (2 sqrt L))")
    if vary not in ("L", "s_qk"):
        raise ValueError(f"vary must be 'L' or 's_qk', got {vary!r}")
    L, s_qk, s_uv = _check(L, s_qk, s_uv)
    if bracket is None:
        bracket = (2.0, 64.0) if vary == "L" else (1e-2, 10.0)
    return _pd.critical_end_point(vary, L, s_qk, s_uv, tuple(float(b) for b in bracket), fit_exponents)


def phase_diagram(betas, Ls, *, kind="softmax", s_qk, s_uv, vary="L", L=8.0) -> "xarray.Dataset":
    """Order parameters on the (L, beta) grid (or (s_qk, beta) with vary='s_qk' and ``Ls`` the
    s_qk values) and the transition lines, as a labelled Dataset.

    Parameters
    ----------
    betas : array-like, shape (nb,)
        Finite values >= 0.
    Ls : array-like, shape (nx,)
        Values of the varied parameter: L >= 2 (vary='L') or s_qk > 0 (vary='s_qk').
    kind : {'softmax', 'linear'}
    s_qk, s_uv : float
        Prior scales (> 0); s_qk is ignored as a fixed value when vary='s_qk'.
    vary : {'L', 's_qk'}
    L : float
        The fixed L when vary='s_qk'.

    Returns
    -------
    xarray.Dataset
        Dimensions (``vary``, ``beta``); per ``vary`` value the ``order`` (CF flag variable: decode
        with ``grokphase.results.flag_labels``), ``beta_c`` and the spinodals ``beta_sp_lo/hi``; on
        the grid the equilibrium ``kappa, g, c, eps, w, free_energy, min_hessian_eig, residual``,
        its ``branch`` (flag) and ``c_metastable``.  Attributes: ``kind``, ``varied``, the fixed
        parameters (typed), ``residual_tol`` and ``converged``.  Save with
        ``grokphase.results.save_dataset`` (netCDF).

    Examples
    --------
    >>> pd = phase_diagram(np.linspace(1, 30, 25), [4, 8, 12], s_qk=0.25, s_uv=9.0)
    >>> round(float(pd.c.sel(L=8, beta=13, method="nearest")), 4), pd.converged   # copy branch (1/L uniform)
    (0.3153, True)
    """
    k = _kind(kind)
    if vary not in ("L", "s_qk"):
        raise ValueError(f"vary must be 'L' or 's_qk', got {vary!r}")
    L, s_qk, s_uv = _check(L, s_qk, s_uv)
    betas = np.asarray(betas, dtype=np.float64)
    xs = np.asarray(Ls, dtype=np.float64)
    if betas.ndim != 1 or betas.size == 0 or np.any(~np.isfinite(betas)) or np.any(betas < 0):
        raise ValueError("betas must be a non-empty 1-d array of finite numbers >= 0")
    if xs.ndim != 1 or xs.size == 0:
        raise ValueError(f"Ls must be a non-empty 1-d array of {'L >= 2' if vary == 'L' else 's_qk > 0'} values")
    for x in xs:
        _check(x, s_qk, s_uv) if vary == "L" else _positive("s_qk", x)
    return _pd.compute_phase_diagram(k, betas, xs, axis=vary, L=L, s_qk=s_qk, s_uv=s_uv)


def map_state(beta, *, L, kind="softmax", s_qk, s_uv) -> MapState:
    """The MAP copy state (best point with kappa > 0) at beta.

    Parameters
    ----------
    beta : float
        Amount of data, >= 0.
    L : float
        Sequence length, >= 2.
    kind : {'softmax', 'linear'}
    s_qk, s_uv : float
        Prior scales, > 0.

    Returns
    -------
    MapState
        kappa, g, c, w = g c (as in ``solve``), its MAP ``objective`` and that of the uniform /
        trivial point (``objective_uniform``; ``copy_is_global`` compares them), ``converged``.

    Examples
    --------
    >>> m = map_state(40.0, L=8, s_qk=0.25, s_uv=9.0)
    >>> round(m.c, 4), m.copy_is_global, m.converged
    (0.536, True, True)
    """
    k = _kind(kind)
    L, s_qk, s_uv = _check(L, s_qk, s_uv)
    return _map.map_copy_minimum(k, _beta(beta), L, s_qk, s_uv)


def map_transition(*, L, kind="softmax", s_qk, s_uv) -> MapTransition:
    """MAP (weight decay = prior) thresholds, §9: local instability of the uniform point and
    the global switch to copying.

    Parameters
    ----------
    L : float
        Sequence length, >= 2.
    kind : {'softmax', 'linear'}
    s_qk, s_uv : float
        Prior scales, > 0.

    Returns
    -------
    MapTransition
        beta_local (inf for linear attention), beta_switch and the copy state there, converged,
        iterations, residual.

    Examples
    --------
    >>> m = map_transition(L=8, s_qk=0.25, s_uv=9.0)
    >>> round(m.beta_local, 4), round(m.beta_switch, 4), m.converged   # both above the Bayesian beta_c
    (32.1111, 17.0424, True)
    """
    k = _kind(kind)
    L, s_qk, s_uv = _check(L, s_qk, s_uv)
    return _map.map_transition(k, L, s_qk, s_uv)
