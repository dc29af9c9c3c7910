"""Training dynamics of the finite-N copy network under overdamped Langevin noise
(docs/attention_copy.md §8): noisy full-batch gradient descent whose stationary law is the
posterior, from a prior draw.

Design :class:`Dynamics`, point :func:`point` (one width N, beta and seed; ``n_rep`` replicas).
softmax: c stays near the uniform branch and jumps abruptly to the copy branch past the upper
spinodal, after a delay that grows as beta -> beta_sp^+ (saddle-node bottleneck); linear: w rises
sigmoidally to a plateau that grows continuously with beta, with an onset time that grows as
beta -> beta_c (critical slowing).  Onset time: first recorded time at which the observable crosses
half-way from its initial value to the mean of its last quarter (nan if it never rises by 0.05).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from grokphase import attention
from grokphase.sweep import point_rng
from grokphase.validation.copy_attention import CopyModel, data_statistic, prior_draw
from grokphase.validation.samplers import langevin

BETA_UNITS = ("1", "beta_c")


@dataclass(frozen=True)
class Dynamics:
    """Fixed parameters of the Langevin dynamics experiment.

    Parameters
    ----------
    kind : {'softmax', 'linear'}
        Attention type; the recorded observable is c (softmax) or w = g c (linear, sign-invariant).
    L : int
        Sequence length (>= 2).
    s_qk, s_uv : float
        Prior scale products (> 0).
    sigma2 : float
        Noise variance (docs/attention_copy.md §1 uses 1 for softmax, 10 for linear).
    eta : float
        Langevin step (time t = eta * step).
    T : float
        Final time (> 0).
    n_rep : int
        Replicas per point (>= 1), from independent prior draws.
    record_every : int
        Steps between recorded observables.
    beta_unit : {'1', 'beta_c'}
        Unit of the grid's ``beta``: absolute, or the large-N beta_c of (kind, L, s_qk, s_uv).
    """

    kind: str = "softmax"
    L: int = 8
    s_qk: float = 0.25
    s_uv: float = 9.0
    sigma2: float = 1.0
    eta: float = 5e-4
    T: float = 20.0
    n_rep: int = 3
    record_every: int = 200
    beta_unit: str = "1"

    VERSION: ClassVar[int] = 1
    LABELS: ClassVar[dict] = {
        "N": {"long_name": "width N"}, "seed": {"long_name": "random seed"},
        "beta": {"long_name": "inverse temperature beta (in units of beta_unit)"},
        "beta_abs": {"long_name": "inverse temperature beta"}, "t": {"long_name": "Langevin time eta * step"},
        "rep": {"long_name": "replica"}, "c": {"long_name": "copy weight"}, "w": {"long_name": "w = g c"},
        "onset": {"long_name": "onset time (half-way to the late mean)"},
        "final": {"long_name": "mean of the observable over the last quarter"}}

    def __post_init__(self):
        if self.kind not in ("softmax", "linear"):
            raise ValueError(f"kind must be 'softmax' or 'linear', got {self.kind!r}")
        if self.beta_unit not in BETA_UNITS:
            raise ValueError(f"beta_unit must be one of {BETA_UNITS}, got {self.beta_unit!r}")
        for name in ("s_qk", "s_uv", "sigma2", "eta", "T"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.L < 2 or self.n_rep < 1 or self.record_every < 1:
            raise ValueError(f"need L >= 2, n_rep >= 1, record_every >= 1; got {self.L}, {self.n_rep}, "
                             f"{self.record_every}")

    @property
    def observable(self) -> str:
        """'c' (softmax) or 'w' (linear)."""
        return "c" if self.kind == "softmax" else "w"

    def beta_value(self, beta: float) -> float:
        """The absolute beta of a grid value."""
        if self.beta_unit == "1":
            return float(beta)
        return beta * attention.transition(L=self.L, kind=self.kind, s_qk=self.s_qk, s_uv=self.s_uv).beta_c

    def warmup(self) -> None:
        """Load the large-N solver's compiled kernels (Numba cache) in this process."""
        attention.transition(L=self.L, kind=self.kind, s_qk=self.s_qk, s_uv=self.s_uv)


def point(design: Dynamics, N: int, beta: float, seed: int) -> xr.Dataset:
    """Langevin trajectories of ``n_rep`` replicas at one (N, beta), t = eta * step up to T.

    Returns
    -------
    xarray.Dataset
        c or w (rep, t), onset (rep), final (rep), beta_abs (scalar).
    """
    d = design
    b = d.beta_value(beta)
    model = CopyModel(L=d.L, N=N, kind=d.kind, s_q=math.sqrt(d.s_qk), s_k=math.sqrt(d.s_qk),
                      s_u=math.sqrt(d.s_uv), s_v=math.sqrt(d.s_uv), sigma2=d.sigma2)
    rng = point_rng(seed, N, b)
    C = np.stack([data_statistic(d.L, int(round(b * d.sigma2 * N)))] * d.n_rep)
    tr = langevin(model, prior_draw(model, d.n_rep, rng), C, rng, d.eta, int(round(d.T / d.eta)), d.record_every)
    t, x = tr.posterior["t"].values, tr.posterior[d.observable].values
    return xr.Dataset({d.observable: (("rep", "t"), x), "onset": ("rep", onset_times(t, x)),
                       "final": ("rep", x[:, -len(t) // 4:].mean(axis=1)), "beta_abs": b}, coords={"t": t})


def onset_times(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per trajectory (rows of x): first t where x crosses half-way to its late mean (see module)."""
    out = np.full(x.shape[0], np.nan)
    for i, xi in enumerate(x):
        late = xi[-len(xi) // 4:].mean()
        if late - xi[0] < 0.05:
            continue
        half = xi[0] + 0.5 * (late - xi[0])
        out[i] = t[np.argmax(xi >= half)]
    return out


def summarize(ds: xr.Dataset) -> xr.Dataset:
    """Onset times and late means per replica (the trajectories left out)."""
    return ds[["beta_abs", "onset", "final"]]
