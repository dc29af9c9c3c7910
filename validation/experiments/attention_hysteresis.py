"""Hysteresis of Bayesian softmax attention at finite N (spec §8): HMC branch means vs the saddle point.

For each N, every alpha of the grid is sampled from the 'uniform' start (a prior draw) and from the
'copy' start (kappa0 = 1.15, g0 = 1.89, spec §8), all chains batched in one HMC run (whitened data,
sigma^2 = 1, so beta = alpha).  Each (alpha, start) is assigned to the large-N stable branch
(``grokphase.attention.trace``) whose copy weight is nearest to its mean; the rms of c_HMC - c_branch
over the (alpha, start) pairs whose chains settled (split R-hat < 1.1; chains caught switching
branch near a spinodal are counted separately) measures the agreement (spec: a few 1e-3 by N ~ 256).  Results are written
per N, atomically, to ``out_dir/N{N}.json``; finished N are skipped on a rerun (resumable).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from grokphase import attention
from grokphase.validation.copy_attention import CopyModel, copy_start, data_statistic, prior_draw
from grokphase.validation.samplers import hmc

ALPHAS = (10.5, 11.5, 12.0, 12.3, 12.6, 12.97, 13.3, 13.6, 13.9, 14.2, 14.5, 15.0, 16.0, 18.0)
REF = dict(L=8, s_qk=0.25, s_uv=9.0)


def theory_branches(alphas, L=8, s_qk=0.25, s_uv=9.0) -> dict:
    """Large-N stable branches at beta = alpha: {'uniform': c array, 'copy': c array} (nan if absent)."""
    b = attention.trace(np.asarray(alphas, float), L=L, s_qk=s_qk, s_uv=s_uv)
    out = {}
    for name in ("uniform", "copy", "crossover"):
        if name in b.branches:
            out[name] = {k: b.branches[name][k].tolist() for k in ("c", "g", "eps", "kappa")}
    return out


def run_N(N: int, alphas=ALPHAS, *, chains_per: int = 2, n_iter: int = 2000, seed: int = 0, L: int = 8,
          s_qk: float = 0.25, s_uv: float = 9.0) -> dict:
    """HMC from both starts at every alpha for one N; returns plain numbers (JSON-ready)."""
    model = CopyModel(L=L, N=N, s_q=math.sqrt(s_qk), s_k=math.sqrt(s_qk), s_u=math.sqrt(s_uv),
                      s_v=math.sqrt(s_uv), sigma2=1.0)
    rng = np.random.default_rng(seed + 1000 * N)
    A = np.asarray(alphas, float)
    n_a = len(A)
    labels = [(a, s) for s in ("uniform", "copy") for a in range(n_a) for _ in range(chains_per)]
    C = np.stack([data_statistic(L, int(round(A[a] * N))) for a, _ in labels])
    th_u = prior_draw(model, n_a * chains_per, rng)
    th_c = copy_start(model, n_a * chains_per, rng, 1.15, 1.89)
    theta = tuple(np.concatenate([u, c]) for u, c in zip(th_u, th_c))
    res = hmc(model, theta, C, rng, n_iter=n_iter)
    theory = theory_branches(A, L, s_qk, s_uv)
    rows = []
    for si, start in enumerate(("uniform", "copy")):
        for a in range(n_a):
            idx = [i for i, (aa, ss) in enumerate(labels) if aa == a and ss == start]
            row = {"alpha": float(A[a]), "start": start, "acceptance": float(res.acceptance[idx].mean())}
            for k in ("c", "g", "eps"):
                e = res.estimate(k, chains=idx)
                row[k], row[k + "_se"], row[k + "_rhat"] = e.mean, e.se, e.rhat
            cands = {n: br["c"][a] for n, br in theory.items() if br["c"][a] is not None and np.isfinite(br["c"][a])}
            branch = min(cands, key=lambda n: abs(cands[n] - row["c"]))
            row["branch"], row["c_theory"] = branch, cands[branch]
            row["g_theory"], row["eps_theory"] = theory[branch]["g"][a], theory[branch]["eps"][a]
            rows.append(row)
    return summarize({"N": N, "n_iter": n_iter, "chains_per": chains_per, "rows": rows, "theory": theory})


def summarize(result: dict, rhat_max: float = 1.1) -> dict:
    """Add rms/max |c_HMC - c_branch| over the settled (alpha, start) pairs (split R-hat of c below
    rhat_max) and the number left out: chains caught switching branch during the run (near a
    spinodal) sit on no branch."""
    settled = [r for r in result["rows"] if r["c_rhat"] < rhat_max]
    dc = np.array([r["c"] - r["c_theory"] for r in settled])
    return {**result, "rms_dc": float(np.sqrt(np.mean(dc**2))), "max_abs_dc": float(np.max(np.abs(dc))),
            "n_settled": len(settled), "n_switching": len(result["rows"]) - len(settled)}


def run(Ns=(64, 128, 256, 512), out_dir="runs/attention_hysteresis", **kw) -> list[dict]:
    """run_N for each N (skipping finished ones), written atomically to out_dir/N{N}.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for N in Ns:
        path = out_dir / f"N{N}.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            continue
        r = run_N(N, **kw)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(r))
        os.replace(tmp, path)
        results.append(r)
    return results
