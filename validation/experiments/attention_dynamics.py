"""Training dynamics of the finite-N copy network under overdamped Langevin noise (spec §8):
noisy full-batch gradient descent whose stationary law is the posterior, from a prior draw.

softmax: c stays near the uniform branch and jumps abruptly to the copy branch past the upper
spinodal, after a delay that grows as beta -> beta_sp^+ (saddle-node bottleneck); linear: w rises
sigmoidally to a plateau that grows continuously with beta, with an onset time that grows as
beta -> beta_c (critical slowing).  Onset time: first recorded time at which the observable crosses
half-way from its initial value to the mean of its last quarter (nan if it never rises by 0.05).
"""

from __future__ import annotations

import math

import numpy as np

from grokphase.validation.copy_attention import CopyModel, data_statistic, prior_draw
from grokphase.validation.samplers import langevin


def run(betas, *, kind="softmax", N=256, L=8, s_qk=0.25, s_uv=9.0, sigma2=None, eta=5e-4, T=20.0,
        n_rep=2, seed=0, record_every=200) -> dict:
    """Langevin trajectories for every beta (n_rep replicas each), time t = eta * step up to T.
    sigma2 defaults to 1 (softmax) or 10 (linear), as in spec §1."""
    sigma2 = (1.0 if kind == "softmax" else 10.0) if sigma2 is None else sigma2
    model = CopyModel(L=L, N=N, kind=kind, s_q=math.sqrt(s_qk), s_k=math.sqrt(s_qk), s_u=math.sqrt(s_uv),
                      s_v=math.sqrt(s_uv), sigma2=sigma2)
    rng = np.random.default_rng(seed)
    betas = np.repeat(np.asarray(betas, float), n_rep)
    C = np.stack([data_statistic(L, int(round(b * sigma2 * N))) for b in betas])
    tr = langevin(model, prior_draw(model, len(betas), rng), C, rng, eta, int(round(T / eta)), record_every)
    obs = "c" if kind == "softmax" else "w"   # linear: w = g c (sign-invariant)
    t, x = tr.posterior["t"].values, tr.posterior[obs].values
    return {"kind": kind, "N": N, "eta": eta, "betas": betas.tolist(), "t": t.tolist(),
            obs: x.tolist(), "onset": onset_times(t, x).tolist(), "final": x[:, -len(t) // 4:].mean(axis=1).tolist()}


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
