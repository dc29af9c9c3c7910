"""The one-hot attention copy model at finite N (docs/attention_onehot.md §2, §5, §6): HMC posterior
means of the count-tensor posterior against the large-N stable states, for both starts.

Design :class:`OneHotFiniteN` (fixed parameters), point :func:`point` (one width N, beta, start
and seed), swept over ``N x beta x start x seed`` by :func:`grokphase.sweep.run_sweep` (preset
``onehot-hysteresis`` for softmax, ``onehot-linear`` for linear attention).

Softmax: the 'uniform' start is a prior draw, the 'copy' start is the exact ansatz at the large-N
copy state at beta_c (S = kappa (Pi - J/L), W = g (I - J/V) + m J/V).  Inside the spinodals both
large-N minima are stable and each start should stay on its branch (hysteresis); each point is
assigned to the stable state (``numerics.attention_onehot.softmax_stable_states``) nearest in c.
Linear attention: 'copy' starts on the large-N ordered state with the largest g at this beta (the
origin below the onset); the theory state is the stable one nearest in (w_c, w_a, w_m) among the
ordered minima and, below the onset, the origin.

:func:`summarize` gives, per N, the rms and max |x_HMC - x_theory| over the settled points (split
R-hat below 1.1) of the design's observables.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from grokphase import attention
from grokphase.numerics import attention_onehot as oh_n
from grokphase.results import flag_array
from grokphase.sweep import point_rng
from grokphase.validation.samplers import hmc

STARTS = ("uniform", "copy")
#: Large-N states a point can sit on (softmax: the two branches; linear: origin or ordered minimum).
BRANCHES = ("uniform", "copy", "origin", "ordered")
OBSERVABLES = {"softmax": ("c", "g", "m", "eps", "kappa_hat"), "linear": ("w_c", "w_a", "w_m", "g", "m", "eps")}
#: The observables compared with theory in ``summarize`` (sign-invariant under linear's Z2).
COMPARED = {"softmax": ("c", "g", "eps"), "linear": ("w_c", "w_a", "w_m", "eps")}


@dataclass(frozen=True)
class OneHotFiniteN:
    """Fixed parameters of the finite-N one-hot experiment.

    Parameters
    ----------
    kind : {'softmax', 'linear'}
    L, V : int
        Sequence length (>= 2) and vocabulary size (>= 2).
    s_qk, s_uv : float
        Prior scale products (> 0): s_q = s_k = sqrt(s_qk), s_o = s_v = sqrt(s_uv).
    sigma2 : float
        Noise variance (> 0); P = round(beta sigma2 N) sequences.
    whitened : bool
        Whitened count tensor C = P E[x x^T] (True) or P random sequences, one data set per point.
    chains_per : int
        HMC chains per point (>= 2, for split R-hat across chains).
    n_iter : int
        HMC iterations per chain (>= 20; the first half is discarded).
    """

    kind: str = "softmax"
    L: int = 8
    V: int = 4
    s_qk: float = 0.25
    s_uv: float = 9.0
    sigma2: float = 1.0
    whitened: bool = True
    chains_per: int = 4
    n_iter: int = 2000

    VERSION: ClassVar[int] = 1
    LABELS: ClassVar[dict] = {
        "N": {"long_name": "width N"}, "beta": {"long_name": "beta = alpha / sigma^2"},
        "start": {"long_name": "chain start (prior draw / large-N copy state)"},
        "seed": {"long_name": "random seed"}, "acceptance": {"long_name": "HMC acceptance rate"},
        "branch": {"long_name": "nearest large-N stable state"},
        "n_stable": {"long_name": "number of large-N stable states at beta"}}

    def __post_init__(self):
        if self.kind not in ("softmax", "linear"):
            raise ValueError(f"kind must be 'softmax' or 'linear', got {self.kind!r}")
        if self.L < 2 or self.V < 2:
            raise ValueError(f"L and V must be >= 2, got L={self.L}, V={self.V}")
        for name in ("s_qk", "s_uv", "sigma2"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.chains_per < 2 or self.n_iter < 20:
            raise ValueError(f"chains_per must be >= 2 and n_iter >= 20, got {self.chains_per}, {self.n_iter}")

    @property
    def variant(self) -> attention.Variant:
        """The model sampled: one-hot tokens over V symbols, this attention kind, product score prior."""
        return attention.Variant(self.kind, tokens="onehot", V=self.V)

    def warmup(self) -> None:
        """Load the large-N solver's compiled kernels (Numba cache) in this process."""
        if self.kind == "softmax":
            oh_n.softmax_transition(self.L, self.V, self.s_qk, self.s_uv)
        else:
            oh_n.linear_beta_c(self.L, self.V, self.s_qk, self.s_uv)


def theory_states(design: OneHotFiniteN, beta: float) -> dict:
    """The large-N stable states at beta: {branch name: state} (names from ``BRANCHES``)."""
    d = design
    if d.kind == "softmax":
        states = oh_n.softmax_stable_states(beta, d.L, d.V, d.s_qk, d.s_uv)
        if len(states) == 2:
            return {"uniform": states[0], "copy": states[1]}
        t = oh_n.softmax_transition(d.L, d.V, d.s_qk, d.s_uv)
        return {"uniform" if beta < t.beta_c else "copy": states[0]}
    out = {"ordered": s for s in oh_n.linear_stable_states(beta, d.L, d.V, d.s_qk, d.s_uv)[-1:]}
    if beta <= oh_n.linear_beta_c(d.L, d.V, d.s_qk, d.s_uv):
        out["origin"] = oh_n.linear_origin(beta, d.L, d.V, d.s_qk, d.s_uv)
    return out


def _start(design: OneHotFiniteN, model, start: str, beta: float, rng):
    """``design.chains_per`` chains: prior draws ('uniform') or the exact ansatz on the large-N copy
    state ('copy': at beta_c for softmax, the copy-side ordered state at beta for linear)."""
    d, v = design, design.variant
    if start == "uniform":
        return v.finite_n.prior_draw(model, d.chains_per, rng)
    params = dict(L=d.L, kind=v, s_qk=d.s_qk, s_uv=d.s_uv)
    state = (attention.transition(**params).copy if d.kind == "softmax"
             else attention.solve(beta, **params, init="copy"))
    return v.finite_n_start(model, d.chains_per, rng, state)


def point(design: OneHotFiniteN, N: int, beta: float, start: str, seed: int) -> xr.Dataset:
    """HMC of the count-tensor posterior at one (N, beta, start, seed).

    Returns
    -------
    xarray.Dataset
        Scalars: for each observable of ``OBSERVABLES[kind]`` its posterior mean, standard error
        ``*_se``, split R-hat ``*_rhat`` and the large-N value ``*_theory`` on the nearest stable
        state; acceptance; ``branch`` (a CF flag variable, codes of ``BRANCHES``) and ``n_stable``.
    """
    d = design
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS}, got {start!r}")
    model = d.variant.finite_n_model(d.L, N, s_qk=d.s_qk, s_uv=d.s_uv, sigma2=d.sigma2)
    rng = point_rng(seed, N, beta, start)
    P = int(round(beta * d.sigma2 * N))
    C = d.variant.finite_n_data(d.L, P, None if d.whitened else rng)
    res = hmc(model, _start(d, model, start, beta, rng), C, rng, n_iter=d.n_iter, progress=False)
    obs = OBSERVABLES[d.kind]
    out = {"acceptance": float(res.acceptance.mean())}
    for o in obs:
        e = res.estimate(o)
        out[o], out[o + "_se"], out[o + "_rhat"] = e.mean, e.se, e.rhat
    states = theory_states(d, beta)
    key = ("c",) if d.kind == "softmax" else ("w_c", "w_a", "w_m")
    name = min(states, key=lambda n: sum((getattr(states[n], k) - out[k]) ** 2 for k in key))
    for o in obs:
        if o != "kappa_hat":
            out[o + "_theory"] = float(getattr(states[name], o))
    if "kappa_hat" in obs:
        out["kappa_hat_theory"] = float(states[name].kappa)
    code = flag_array(np.array(name), BRANCHES, (), long_name=OneHotFiniteN.LABELS["branch"]["long_name"])
    return xr.Dataset({**out, "branch": code, "n_stable": len(states)})


def summarize(ds: xr.Dataset, rhat_max: float = 1.1) -> xr.Dataset:
    """Per N: rms and max |x_HMC - x_theory| over the settled points (split R-hat of every compared
    observable below ``rhat_max``) for each compared observable (``COMPARED[kind]``), and the
    number of settled points: variables ``rms_d{x}``, ``max_abs_d{x}``, ``n_settled``."""
    kind = str(ds.attrs["kind"])
    names = COMPARED[kind]
    settled = functools.reduce(operator.and_, [ds[o + "_rhat"] < rhat_max for o in names])
    others = [dim for dim in ds.dims if dim != "N"]
    out = {"n_settled": settled.sum(others)}
    for o in names:
        dx = (ds[o] - ds[o + "_theory"]).where(settled)
        out["rms_d" + o] = np.sqrt((dx**2).mean(others))
        out["max_abs_d" + o] = abs(dx).max(others)
    return xr.Dataset(out, attrs=ds.attrs)
