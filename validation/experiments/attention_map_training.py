"""MAP training of the finite-N copy network with Adam (weight decay = the Gaussian prior) and plain
MSE training, from small initialisation (spec §9).

The objective is -log p(theta | D) of ``copy_attention`` (prior terms = L2 weight decay |theta|^2 /
(2 s^2), i.e. coupled L2, whose minimum is the MAP), or the bare energy (``prior=False``: plain MSE).
All betas run as one batch of chains; Adam (torch defaults, no decoupled decay: the decay is in the
gradient) from theta0 = init_scale * prior draw.  The spec's MAP theory (``grokphase.attention.
map_transition``): softmax stays uniform (c = 1/L) below beta_local = L/s_qk + 1/s_uv and learns
above it; linear attention stays at the origin for every beta; bare MSE always learns the copy.
"""

from __future__ import annotations

import math

import numpy as np

from grokphase.validation.copy_attention import CopyModel, data_statistic, neg_log_posterior, observables, prior_draw
from grokphase.validation.optim import AdamW


def adam_train(betas, *, N=64, L=8, kind="softmax", s_qk=0.25, s_uv=9.0, steps=4000, lr=1e-2, init_scale=1e-2,
               prior=True, seed=0, record_every=50) -> dict:
    """Adam on the MAP (prior=True) or MSE (prior=False) objective for each beta (sigma^2 = 1).
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


def threshold_scan(betas, *, N=64, L=8, kind="softmax", s_qk=0.25, s_uv=9.0, steps=4000, seed=0) -> dict:
    """Final Adam/MAP and MSE states over betas next to the MAP theory (``attention.map_state`` and
    ``map_transition``)."""
    from grokphase import attention

    mp = adam_train(betas, N=N, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv, steps=steps, seed=seed)
    mse = adam_train(betas, N=N, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv, steps=steps, seed=seed, prior=False)
    tr = attention.map_transition(L=L, kind=kind, s_qk=s_qk, s_uv=s_uv)
    theory = [attention.map_state(b, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv) for b in betas]
    return {"betas": list(map(float, betas)), "adam_map_c": [c[-1] for c in mp["c"]],
            "adam_map_w": [w[-1] for w in mp["w"]], "adam_mse_c": [c[-1] for c in mse["c"]],
            "adam_mse_w": [w[-1] for w in mse["w"]], "map_theory_c": [t.c for t in theory],
            "map_theory_w": [t.w for t in theory], "beta_local": tr.beta_local, "beta_switch": tr.beta_switch,
            "trajectories": mp}
