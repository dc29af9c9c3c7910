"""Linear attention at finite N (spec §7-§8): w(beta) from the exact reduced posterior for growing N
and from full HMC at small N, against the large-N pitchfork curve.

beta in units of beta_c = 1/(sqrt(L) s_qk s_uv); full HMC with sigma^2 = 10 (spec §1), whitened data.
The spec expects slow ~50/N corrections at REF and w = O(1/N) below beta_c.  Results per N are
written atomically to ``out_dir`` and reused on a rerun.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from grokphase import attention
from grokphase.validation.copy_posterior import copy_posterior_means

RATIOS = (0.5, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0)


def large_n_curve(ratios=RATIOS, L=8, s_qk=0.25, s_uv=9.0) -> list[float]:
    """w at each beta = ratio * beta_c on the stable large-N branch (0 below beta_c)."""
    bc = attention.transition(L=L, kind="linear", s_qk=s_qk, s_uv=s_uv).beta_c
    return [attention.solve(r * bc, L=L, kind="linear", s_qk=s_qk, s_uv=s_uv, init="copy").w for r in ratios]


def run_N(N: int, sampler: str, ratios=RATIOS, *, L=8, s_qk=0.25, s_uv=9.0, n_chains=8, n_iter=2000, seed=0) -> dict:
    bc = attention.transition(L=L, kind="linear", s_qk=s_qk, s_uv=s_uv).beta_c
    rows = []
    for i, r in enumerate(ratios):
        out = copy_posterior_means(r * bc, N=N, L=L, kind="linear", s_qk=s_qk, s_uv=s_uv, sigma2=10.0,
                                   start="copy", sampler=sampler, n_chains=n_chains, n_iter=n_iter,
                                   seed=seed + 17 * i)
        w = out["w"]   # posterior mean of w = g c (the reduced sampler: Rao-Blackwellised)
        rows.append({"ratio": r, "beta": r * bc, "w": w.mean, "w_se": w.se, "w_rhat": w.rhat,
                     "acceptance": out.acceptance})
    return {"N": N, "sampler": sampler, "rows": rows, "w_large_n": large_n_curve(ratios, L, s_qk, s_uv)}


def run(plan=((64, "hmc"), (128, "hmc"), (64, "reduced"), (128, "reduced"), (256, "reduced"), (1024, "reduced"),
              (4096, "reduced")), out_dir="runs/attention_linear", **kw) -> list[dict]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for N, sampler in plan:
        path = out_dir / f"{sampler}_N{N}.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            continue
        res = run_N(N, sampler, **kw)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(res))
        os.replace(tmp, path)
        results.append(res)
    return results
