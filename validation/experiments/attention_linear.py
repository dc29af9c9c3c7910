"""Linear attention at finite N (docs/attention_copy.md §7-§8): w(beta) from the exact reduced
posterior for growing N and from full HMC at small N, against the large-N pitchfork curve.

Design :class:`LinearFiniteN`, point :func:`point` (one width N, sampler and seed); the usual plan
zips (N, sampler) pairs: full HMC at small N, the reduced sampler up to N ~ 4096.  beta is given in
units of beta_c = 1/(sqrt(L) s_qk s_uv); whitened data.  Expected: slow ~50/N corrections at
L = 8, s_qk = 0.25, s_uv = 9 and w = O(1/N) below beta_c.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from grokphase import attention
from grokphase.validation.copy_posterior import copy_posterior_means

RATIOS = (0.5, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0)
SAMPLERS = ("hmc", "reduced")


@dataclass(frozen=True)
class LinearFiniteN:
    """Fixed parameters of the finite-N linear-attention experiment.

    Parameters
    ----------
    L : int
        Sequence length (>= 2).
    s_qk, s_uv : float
        Prior scale products (> 0).
    sigma2 : float
        Noise variance (> 0); beta = alpha / sigma2.
    ratios : tuple of float
        beta / beta_c values (>= 0).
    n_chains, n_iter : int
        Chains (>= 2) and iterations per chain (>= 20; first half discarded).
    """

    L: int = 8
    s_qk: float = 0.25
    s_uv: float = 9.0
    sigma2: float = 10.0
    ratios: tuple[float, ...] = RATIOS
    n_chains: int = 8
    n_iter: int = 2000

    VERSION: ClassVar[int] = 1
    LABELS: ClassVar[dict] = {
        "N": {"long_name": "width N"}, "seed": {"long_name": "random seed"},
        "sampler": {"long_name": "full HMC or the exact reduced (keys-integrated) posterior"},
        "ratio": {"long_name": "beta / beta_c"}, "beta": {"long_name": "inverse temperature beta"},
        "w": {"long_name": "posterior mean w = g c"}, "w_se": {"long_name": "standard error of w"},
        "w_rhat": {"long_name": "split R-hat of w"}, "acceptance": {"long_name": "acceptance rate"},
        "w_large_n": {"long_name": "large-N w on the stable branch"}}

    def __post_init__(self):
        if self.L < 2 or not (self.s_qk > 0 and self.s_uv > 0 and self.sigma2 > 0):
            raise ValueError(f"need L >= 2 and s_qk, s_uv, sigma2 > 0; got {self.L}, {self.s_qk}, {self.s_uv}, "
                             f"{self.sigma2}")
        if not self.ratios or min(self.ratios) < 0:
            raise ValueError(f"ratios must be a non-empty tuple of numbers >= 0, got {self.ratios}")
        if self.n_chains < 2 or self.n_iter < 20:
            raise ValueError(f"need n_chains >= 2 and n_iter >= 20; got {self.n_chains}, {self.n_iter}")

    @property
    def beta_c(self) -> float:
        """The large-N pitchfork beta_c."""
        return attention.transition(L=self.L, kind="linear", s_qk=self.s_qk, s_uv=self.s_uv).beta_c

    def warmup(self) -> None:
        """Load the large-N solver's compiled kernels (Numba cache) in this process."""
        _ = self.beta_c


def large_n_curve(design: LinearFiniteN) -> np.ndarray:
    """w at each beta = ratio * beta_c on the stable large-N branch (0 below beta_c)."""
    d, bc = design, design.beta_c
    return np.array([attention.solve(r * bc, L=d.L, kind="linear", s_qk=d.s_qk, s_uv=d.s_uv, init="copy").w
                     for r in d.ratios])


def point(design: LinearFiniteN, N: int, sampler: str, seed: int) -> xr.Dataset:
    """Posterior mean of w at every ratio for one width N and sampler ('hmc' or 'reduced').

    Returns
    -------
    xarray.Dataset
        Over ``ratio``: beta, w, w_se, w_rhat, acceptance and the large-N w_large_n.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    d, bc = design, design.beta_c
    rows = [copy_posterior_means(r * bc, N=N, L=d.L, kind="linear", s_qk=d.s_qk, s_uv=d.s_uv, sigma2=d.sigma2,
                                 start="copy", sampler=sampler, n_chains=d.n_chains, n_iter=d.n_iter,
                                 seed=seed + 17 * i) for i, r in enumerate(d.ratios)]
    # posterior mean of w = g c (the reduced sampler: Rao-Blackwellised)
    data = {"w": [r["w"].mean for r in rows], "w_se": [r["w"].se for r in rows], "w_rhat": [r["w"].rhat for r in rows],
            "acceptance": [r.acceptance for r in rows]}
    data = {k: ("ratio", np.array(v, float)) for k, v in data.items()}
    return xr.Dataset({**data, "beta": ("ratio", np.array(d.ratios) * bc), "w_large_n": ("ratio", large_n_curve(d))},
                      coords={"ratio": np.array(d.ratios, float)})


def summarize(ds: xr.Dataset) -> xr.Dataset:
    """The posterior means of w with their errors next to the large-N curve, per sweep point."""
    return ds[["beta", "w", "w_se", "w_rhat", "w_large_n"]]
