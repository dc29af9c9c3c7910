"""Hysteresis of Bayesian softmax attention at finite N (docs/attention_copy.md §8): HMC branch
means against the large-N saddle point.

Design :class:`Hysteresis` (fixed parameters), point :func:`point` (one width N and seed), swept
over ``N x seed`` by :func:`grokphase.sweep.run_sweep`.  At every alpha of the design each point
samples from the 'uniform' start (a prior draw) and from the 'copy' start (the large-N copy state
at beta_c: kappa_hat ~ kappa_copy, g ~ g_copy), all chains batched in one HMC run (whitened data,
sigma^2 = 1, so beta = alpha).  Each (alpha, start) is assigned to the large-N stable branch
(``grokphase.attention.trace``) whose copy weight is nearest to its mean; :func:`summarize` gives
the rms of c_HMC - c_branch over the (alpha, start) pairs whose chains settled (split R-hat < 1.1;
chains caught switching branch near a spinodal are counted separately): a few 1e-3 by N ~ 256.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from grokphase import attention
from grokphase.results import flag_array
from grokphase.validation.copy_attention import CopyModel, copy_start, data_statistic, prior_draw
from grokphase.validation.samplers import hmc

ALPHAS = (10.5, 11.5, 12.0, 12.3, 12.6, 12.97, 13.3, 13.6, 13.9, 14.2, 14.5, 15.0, 16.0, 18.0)
STARTS = ("uniform", "copy")
OBSERVABLES = ("c", "g", "eps")
BRANCHES = ("uniform", "copy", "crossover")


@dataclass(frozen=True)
class Hysteresis:
    """Fixed parameters of the hysteresis experiment (softmax attention, sigma^2 = 1).

    Parameters
    ----------
    L : int
        Sequence length (>= 2; the transition must be first order at (L, s_qk, s_uv)).
    s_qk, s_uv : float
        Prior scale products s_q s_k and s_u s_v (> 0).
    alphas : tuple of float
        Data per width alpha = beta at which both starts are sampled.
    chains_per : int
        HMC chains per (alpha, start) (>= 2 for split R-hat across chains).
    n_iter : int
        HMC iterations per chain (first half discarded; >= 20).
    """

    L: int = 8
    s_qk: float = 0.25
    s_uv: float = 9.0
    alphas: tuple[float, ...] = ALPHAS
    chains_per: int = 2
    n_iter: int = 2000

    VERSION: ClassVar[int] = 1
    LABELS: ClassVar[dict] = {
        "N": {"long_name": "width N"}, "seed": {"long_name": "random seed"},
        "alpha": {"long_name": "data per width alpha = beta (sigma^2 = 1)"},
        "start": {"long_name": "chain start (prior draw / large-N copy state)"},
        "c": {"long_name": "posterior mean copy weight"}, "g": {"long_name": "posterior mean value gain"},
        "eps": {"long_name": "posterior mean error per position"},
        "branch": {"long_name": "nearest large-N stable branch"},   # flag variable: codes of BRANCHES
        "c_theory": {"long_name": "large-N copy weight on that branch"},
        "acceptance": {"long_name": "HMC acceptance rate"}}

    def __post_init__(self):
        if self.L < 2:
            raise ValueError(f"L must be >= 2, got {self.L}")
        for name in ("s_qk", "s_uv"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.alphas or min(self.alphas) <= 0:
            raise ValueError(f"alphas must be a non-empty tuple of numbers > 0, got {self.alphas}")
        if self.chains_per < 2 or self.n_iter < 20:
            raise ValueError(f"chains_per must be >= 2 and n_iter >= 20, got {self.chains_per}, {self.n_iter}")

    def warmup(self) -> None:
        """Load the large-N solver's compiled kernels (Numba cache) in this process."""
        large_n(self.L, self.s_qk, self.s_uv, self.alphas)


@functools.lru_cache(maxsize=8)
def large_n(L: int, s_qk: float, s_uv: float, alphas: tuple[float, ...]):
    """(transition, stable branches at beta = alphas: {name: {'c', 'g', 'eps': (n_alpha,)}})."""
    t = attention.transition(L=L, s_qk=s_qk, s_uv=s_uv)
    if t.order != "first":
        raise ValueError(f"L, s_qk, s_uv = {L}, {s_qk}, {s_uv}: the transition is {t.order!r}, hysteresis "
                         f"needs a first-order one")
    b = attention.trace(np.asarray(alphas, float), L=L, s_qk=s_qk, s_uv=s_uv)
    branches = {n: {k: b.branches[n][k] for k in ("c", "g", "eps")}
                for n in BRANCHES if n in b.branches}
    return t, branches


def point(design: Hysteresis, N: int, seed: int) -> xr.Dataset:
    """HMC from both starts at every alpha for one width N.

    Returns
    -------
    xarray.Dataset
        Over (alpha, start): c, g, eps (posterior means), their standard errors ``*_se`` and split
        R-hats ``*_rhat``, acceptance, the nearest large-N stable branch (a CF flag variable:
        codes of ``BRANCHES``, ``grokphase.results.flag_labels`` decodes it) and its c, g, eps
        (``*_theory``).
    """
    d = design
    t, theory = large_n(d.L, d.s_qk, d.s_uv, d.alphas)
    model = CopyModel(L=d.L, N=N, s_q=math.sqrt(d.s_qk), s_k=math.sqrt(d.s_qk), s_u=math.sqrt(d.s_uv),
                      s_v=math.sqrt(d.s_uv), sigma2=1.0)
    rng = np.random.default_rng(seed + 1000 * N)
    A = np.asarray(d.alphas, float)
    n_a, k = len(A), d.chains_per
    # chains ordered (start, alpha, replica)
    C = np.stack([data_statistic(d.L, int(round(a * N))) for _ in STARTS for a in A for _ in range(k)])
    th_u = prior_draw(model, n_a * k, rng)
    th_c = copy_start(model, n_a * k, rng, t.copy.kappa, t.copy.g)
    res = hmc(model, tuple(np.concatenate([u, c]) for u, c in zip(th_u, th_c)), C, rng, n_iter=d.n_iter)
    shape = (n_a, len(STARTS))
    out = {name: np.empty(shape) for name in
           ("acceptance", *OBSERVABLES, *(o + "_se" for o in OBSERVABLES), *(o + "_rhat" for o in OBSERVABLES),
            *(o + "_theory" for o in OBSERVABLES))}
    branch = np.empty(shape, dtype=object)
    for si in range(len(STARTS)):
        for a in range(n_a):
            idx = np.arange((si * n_a + a) * k, (si * n_a + a + 1) * k)
            out["acceptance"][a, si] = res.acceptance[idx].mean()
            for o in OBSERVABLES:
                e = res.estimate(o, chains=idx)
                out[o][a, si], out[o + "_se"][a, si], out[o + "_rhat"][a, si] = e.mean, e.se, e.rhat
            cands = {n: br["c"][a] for n, br in theory.items() if np.isfinite(br["c"][a])}
            name = min(cands, key=lambda n: abs(cands[n] - out["c"][a, si]))
            branch[a, si] = name
            for o in OBSERVABLES:
                out[o + "_theory"][a, si] = theory[name][o][a]
    dims = ("alpha", "start")
    code = flag_array(branch.astype(str), BRANCHES, dims, long_name=Hysteresis.LABELS["branch"]["long_name"])
    return xr.Dataset({**{n: (dims, v) for n, v in out.items()}, "branch": code},
                      coords={"alpha": A, "start": list(STARTS)})


def summarize(ds: xr.Dataset, rhat_max: float = 1.1) -> xr.Dataset:
    """rms/max |c_HMC - c_branch| over the settled (alpha, start) pairs (split R-hat of c below
    ``rhat_max``) and the number left out (chains caught switching branch near a spinodal sit on
    no branch), per point of the sweep: variables rms_dc, max_abs_dc, n_settled, n_switching."""
    settled = ds.c_rhat < rhat_max
    dc = (ds.c - ds.c_theory).where(settled)
    pair = ("alpha", "start")
    n = settled.sum(pair)
    return xr.Dataset({"rms_dc": np.sqrt((dc**2).mean(pair)), "max_abs_dc": abs(dc).max(pair),
                       "n_settled": n, "n_switching": ds.alpha.size * ds.start.size - n}, attrs=ds.attrs)
