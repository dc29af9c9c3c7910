"""Posterior means of the copy-task observables at finite N (spec §8), by batched HMC.

``copy_posterior_means`` is the public entry point.  Priors: s_q = s_k = sqrt(s_qk),
s_u = s_v = sqrt(s_uv) (only the products enter the large-N theory).  alpha = beta sigma2 and
P = round(alpha N) sequences; whitened data C = P I (default) or one random data set shared by
all chains.  The 'copy' start puts every chain near the large-N copy branch at this beta
(``grokphase.attention.solve(init='copy')``), the 'uniform' start is a prior draw.
Standard errors use the effective sample size over all chains; R-hat is split R-hat.
"""

from __future__ import annotations

import math

import numpy as np

from grokphase import _checks as chk
from grokphase.validation.copy_attention import CopyModel, copy_start, data_statistic, prior_draw
from grokphase.validation.samplers import effective_sample_size, hmc, split_rhat

OBSERVABLES = ("c", "g", "eps", "w", "kappa_hat")


def copy_posterior_means(beta, *, N, L, kind="softmax", s_qk=0.25, s_uv=9.0, sigma2=1.0, start="uniform",
                         sampler="hmc", n_chains=4, n_iter=2000, seed=0, whitened=True) -> dict:
    """Returns {name: mean, name + '_se': standard error, name + '_rhat': split R-hat} for name in
    c, g, eps, w (= g kappa_hat), kappa_hat, plus 'acceptance' (mean) and 'P' (sequences).

    sampler 'reduced': softmax — the value path integrated out exactly (spec §2.3; HMC over Q, K and
    rho = |u|^2/N, with g, eps, w as conditional expectations); linear (whitened data) — the exact
    keys-integrated posterior of spec §2.4, which gives w only (Rao-Blackwellised E[w | lam, g];
    ``start`` does not apply, its chains start at the posterior mode), needs N > L + 1.

    N, L, n_chains (>= 2), n_iter (>= 20) and seed (>= 0) must be integers (no truncation);
    ValueError names any parameter out of its range."""
    chk.choice("sampler", sampler, ("hmc", "reduced"))
    chk.choice("kind", kind, ("softmax", "linear"))
    chk.choice("start", start, ("uniform", "copy"))
    beta = chk.nonnegative("beta", beta)
    L = chk.integer("L", L, 2, note="sequence length")
    N = chk.integer("N", N, 1, note="width")
    s_qk, s_uv, sigma2 = (chk.positive(k, v) for k, v in (("s_qk", s_qk), ("s_uv", s_uv), ("sigma2", sigma2)))
    n_chains = chk.integer("n_chains", n_chains, 2)
    n_iter = chk.integer("n_iter", n_iter, 20, note="HMC iterations; the first half is discarded")
    seed = chk.seed("seed", seed)
    whitened = chk.flag("whitened", whitened)
    if sampler == "reduced" and kind == "linear":
        if not whitened:
            raise ValueError("whitened: the keys-integrated linear posterior (spec §2.4) needs whitened data; "
                             "got whitened=False")
        from grokphase.validation.copy_reduced import linear_reduced_w

        r = linear_reduced_w(beta, N=N, L=L, s_qk=s_qk, s_uv=s_uv, n_chains=n_chains, n_iter=n_iter, seed=seed)
        return {"w": r["w"], "w_se": r["w_se"], "w_rhat": r["w_rhat"], "acceptance": r["acceptance"]}
    model = CopyModel(L=L, N=N, kind=kind, s_q=math.sqrt(s_qk), s_k=math.sqrt(s_qk),
                      s_u=math.sqrt(s_uv), s_v=math.sqrt(s_uv), sigma2=sigma2)
    rng = np.random.default_rng(seed)
    P = int(round(beta * sigma2 * N))
    C = data_statistic(model.L, P, None if whitened else rng)
    if start == "uniform" or beta == 0:
        theta = prior_draw(model, n_chains, rng)
    else:
        from grokphase import attention

        r = attention.solve(beta, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv, init="copy")
        theta = copy_start(model, n_chains, rng, r.kappa, r.g)
    if sampler == "reduced":  # softmax: value path integrated out (spec §2.3)
        from grokphase.validation.copy_reduced import value_integrated_hmc

        Q, K, u, _ = theta
        draws, acc = value_integrated_hmc(model, (Q, K, np.log(np.einsum("cn,cn->c", u, u) / model.N)), C, rng,
                                          n_iter=n_iter)
    else:
        res = hmc(model, theta, C, rng, n_iter=n_iter)
        draws, acc = res.draws, res.acceptance
    out = {"P": P, "acceptance": float(acc.mean())}
    for name in OBSERVABLES:
        x = draws[name]
        out[name] = float(x.mean())
        out[name + "_se"] = float(x.std(ddof=1) / math.sqrt(effective_sample_size(x)))
        out[name + "_rhat"] = split_rhat(x)
    return out
