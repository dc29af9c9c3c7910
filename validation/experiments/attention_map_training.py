"""MAP training of the finite-N copy network with Adam (weight decay = the Gaussian prior) and plain
MSE training, from small initialisation (docs/attention_copy.md §9).

The objective is -log p(theta | D) of ``copy_attention`` (prior terms = L2 weight decay |theta|^2 /
(2 s^2), i.e. coupled L2, whose minimum is the MAP), or the bare energy (``prior=False``: plain MSE).
Adam (torch defaults, no decoupled decay: the decay is in the gradient) from theta0 = init_scale *
prior draw.  The MAP theory (``grokphase.attention.map_transition``): softmax stays uniform
(c = 1/L) below beta_local = L/s_qk + 1/s_uv and learns above it; linear attention stays at the
origin for every beta; bare MSE always learns the copy.

Design :class:`MapTraining`, point :func:`point` (one width N, beta and seed: Adam on the MAP and on
the MSE objective from the same initialisation, next to the MAP theory).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from grokphase import attention
from grokphase.sweep import point_rng
from grokphase.validation.copy_attention import CopyModel, data_statistic, neg_log_posterior, observables, prior_draw
from grokphase.validation.optim import AdamW


def adam_train(betas, *, N=64, L=8, kind="softmax", s_qk=0.25, s_uv=9.0, steps=4000, lr=1e-2, init_scale=1e-2,
               prior=True, seed=0, record_every=50) -> dict:
    """Adam on the MAP (prior=True) or MSE (prior=False) objective for each beta (sigma^2 = 1), all
    betas as one batch of chains; ``seed`` an int or a Generator for the initial draw.
    Returns {"betas", "t" (k,), observable: (n_beta, k)} with the trajectory every record_every steps."""
    betas = np.asarray(betas, float)
    model = CopyModel(L=L, N=N, kind=kind, s_q=math.sqrt(s_qk), s_k=math.sqrt(s_qk), s_u=math.sqrt(s_uv),
                      s_v=math.sqrt(s_uv), sigma2=1.0)
    rng = np.random.default_rng(seed)
    names = ("Q", "K", "u", "v")
    params = dict(zip(names, (init_scale * t for t in prior_draw(model, len(betas), rng))))
    C = np.stack([data_statistic(L, int(round(b * N))) for b in betas])
    opt = AdamW(params, lr=lr, weight_decay=0.0)
    rec, ts = [], []
    for step in range(steps + 1):
        theta = tuple(params[k] for k in names)
        if step % record_every == 0:
            rec.append(observables(model, theta))
            ts.append(step)
        if step == steps:
            break
        _, G = neg_log_posterior(model, theta, C)
        if not prior:  # remove the prior's gradient: plain MSE
            G = tuple(g - t / s**2 for g, t, s in zip(G, theta, model.scales))
        opt.step(params, dict(zip(names, G)))
    return {"betas": betas.tolist(), "t": ts, **{k: np.stack([r[k] for r in rec], axis=1).tolist() for k in rec[0]}}


@dataclass(frozen=True)
class MapTraining:
    """Fixed parameters of the Adam/MAP threshold scan (sigma^2 = 1).

    Parameters
    ----------
    kind : {'softmax', 'linear'}
        Attention type.
    L : int
        Sequence length (>= 2).
    s_qk, s_uv : float
        Prior scale products (> 0).
    steps : int
        Adam steps (>= 1).
    lr : float
        Adam learning rate (> 0).
    init_scale : float
        Initial parameters = init_scale * a prior draw (> 0).
    """

    kind: str = "softmax"
    L: int = 8
    s_qk: float = 0.25
    s_uv: float = 9.0
    steps: int = 4000
    lr: float = 1e-2
    init_scale: float = 1e-2

    VERSION: ClassVar[int] = 1
    LABELS: ClassVar[dict] = {
        "N": {"long_name": "width N"}, "seed": {"long_name": "random seed"},
        "beta": {"long_name": "inverse temperature beta"},
        "adam_map_c": {"long_name": "final copy weight, Adam with weight decay = prior"},
        "adam_mse_c": {"long_name": "final copy weight, Adam on the bare MSE"},
        "map_theory_c": {"long_name": "copy weight of the MAP theory's learned state"}}

    def __post_init__(self):
        if self.kind not in ("softmax", "linear"):
            raise ValueError(f"kind must be 'softmax' or 'linear', got {self.kind!r}")
        for name in ("s_qk", "s_uv", "lr", "init_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.L < 2 or self.steps < 1:
            raise ValueError(f"need L >= 2 and steps >= 1; got {self.L}, {self.steps}")

    def theory(self):
        """``attention.map_transition`` at the design's parameters (beta_local, beta_switch)."""
        return attention.map_transition(L=self.L, kind=self.kind, s_qk=self.s_qk, s_uv=self.s_uv)


def point(design: MapTraining, N: int, beta: float, seed: int) -> dict:
    """Final c and w of Adam on the MAP and on the MSE objective (same initial draw) at one
    (N, beta), and the MAP theory's c and w (``attention.map_state``)."""
    d = design
    kw = dict(N=N, L=d.L, kind=d.kind, s_qk=d.s_qk, s_uv=d.s_uv, steps=d.steps, lr=d.lr, init_scale=d.init_scale,
              record_every=d.steps)
    out = {}
    for name, prior in (("map", True), ("mse", False)):
        r = adam_train([beta], prior=prior, seed=point_rng(seed, N, beta), **kw)
        out[f"adam_{name}_c"], out[f"adam_{name}_w"] = r["c"][0][-1], r["w"][0][-1]
    th = attention.map_state(beta, L=d.L, kind=d.kind, s_qk=d.s_qk, s_uv=d.s_uv)
    return {**out, "map_theory_c": th.c, "map_theory_w": th.w}


def summarize(ds: xr.Dataset) -> xr.Dataset:
    """The final states with the MAP theory's thresholds beta_local and beta_switch added."""
    from grokphase.sweep import design_of

    tr = design_of(ds).theory()
    return ds.assign(beta_local=tr.beta_local, beta_switch=tr.beta_switch)
