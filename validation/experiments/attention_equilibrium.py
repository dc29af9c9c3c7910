"""Finite-N equilibrium of softmax attention (``docs/attention_copy.md`` §7-§8): alpha_c(N) from
umbrella sampling + MBAR at several N, its fit alpha_c(N) = alpha_c + a1/N, the one-loop a1
(``validation.one_loop``) and the barrier per N.  Per-N results are written atomically to
``out_dir/N{N}.json`` (resumable).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from grokphase import attention
from grokphase.validation.one_loop import one_loop_shift
from grokphase.validation.umbrella import equal_mass_point, sample_windows


def run(Ns=(64, 128, 256), out_dir="runs/attention_equilibrium", n_iter=2000, seed=0) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for N in Ns:
        path = out_dir / f"N{N}.json"
        if not path.exists():
            r = equal_mass_point(sample_windows(N, n_iter=n_iter, seed=seed))
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(r))
            os.replace(tmp, path)
        rows.append(json.loads(path.read_text()))
    return summarize(rows)


def summarize(rows: list[dict]) -> dict:
    """Weighted least squares alpha_c(N) = alpha_c + a1/N (weights 1/se^2 from the bootstrap when
    available), against the solver and one loop."""
    t = attention.transition(L=8, s_qk=0.25, s_uv=9.0)
    inv = np.array([1.0 / r["N"] for r in rows])
    ac = np.array([r["alpha_c"] for r in rows])
    se = np.array([r.get("alpha_c_se", np.nan) for r in rows])
    w = 1.0 / se if np.all(np.isfinite(se)) and np.all(se > 0) else None
    (a1_fit, ac_inf), cov = np.polyfit(inv, ac, 1, w=w, cov="unscaled" if w is not None else True) if len(rows) > 2 \
        else (np.polyfit(inv, ac, 1), np.full((2, 2), np.nan))
    ol = one_loop_shift()
    return {"rows": rows, "alpha_c_extrapolated": float(ac_inf), "a1_fit": float(a1_fit), "beta_c": t.beta_c,
            "alpha_c_extrapolated_se": float(np.sqrt(cov[1, 1])), "a1_fit_se": float(np.sqrt(cov[0, 0])),
            "rel_err_extrapolation": float(ac_inf / t.beta_c - 1), "a1_one_loop": ol["a1"], "delta_one_loop": ol["delta"],
            "barrier_large_n": t.barrier, "one_loop_prediction": [t.beta_c + ol["a1"] / r["N"] for r in rows]}
