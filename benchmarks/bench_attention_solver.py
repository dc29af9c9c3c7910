"""Benchmark: the Numba saddle-point solver of the attention copy task, and a full phase diagram.

(i) Per-solve time at REF (softmax, L = 8, s_qk = 0.25, s_uv = 9) on 2000 (beta, start) pairs:
    1000 betas in the coexistence window [12.3, 14.2], each started near the uniform and near the
    copy minimum (seeded random perturbation of up to 10% in kappa and 5% in g).  Compared:
      * ``attention_saddle.newton_reduced`` (Numba), called in a Python loop;
      * the public ``grokphase.attention.solve(beta, ..., init=(kappa0, g0))`` (same Newton, plus
        argument checks, Hessian eigenvalue and observables);
      * the baseline: ``scipy.optimize.root(method='hybr')`` on the same gradient, with the
        generated kernels ``_attention_kernels.softmax_grad`` / ``softmax_hess`` (called from
        Python) as fun / jac, from the same starts.
      * for reference, the same Newton looped inside Numba over all pairs
        (``attention_branches.polish_many``): the cost without Python-to-Numba dispatch, which
        dominates the Python loop.
    Both must reach the same stationary points: we report max |dkappa|, max |dg| and the residuals
    max |grad f| / (1 + beta L).  Compile time is excluded from the timings and reported separately:
    a cold compile in a subprocess with an empty NUMBA_CACHE_DIR, and the first call in this
    process (normally a cache load).
(ii) The 200 (beta) x 60 (L) softmax phase diagram at REF priors: wall time (warm; median of 3)
     and grid points per second.

Targets: >= 50x per solve vs the SciPy path; phase diagram < 10 s.

Run:  python benchmarks/bench_attention_solver.py [--json PATH] [--pairs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import root

L, SQK, SUV = 8.0, 0.25, 9.0
TOL, MAX_ITER = 1e-12, 100
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "bench_attention_solver.json"

COLD = """
import time
t0 = time.perf_counter()
from grokphase.numerics import attention_saddle as sd
t1 = time.perf_counter()
sd.newton_reduced(0, 1.0, 1.8, 13.0, 8.0, 0.25, 9.0, 1e-12, 100)
t2 = time.perf_counter()
from grokphase import attention
t3 = time.perf_counter()
attention.solve(13.0, L=8, s_qk=0.25, s_uv=9.0, init='copy')
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t4 - t3)
"""


def cold_compile_seconds() -> dict:
    """Compile from scratch in a subprocess whose Numba cache is an empty temporary directory (the
    repository's cache is neither read nor written)."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        out = subprocess.run([sys.executable, "-c", COLD], env=env, capture_output=True, text=True, check=True)
    imp, newton, solve = map(float, out.stdout.split())
    return dict(import_seconds=imp, newton_reduced_compile_seconds=newton,
                public_solve_first_call_seconds=solve)


def make_pairs(n_pairs: int, seed: int = 0):
    """(beta, kappa0, g0) near both minima, and the minimum each start belongs to."""
    from grokphase import attention

    rng = np.random.default_rng(seed)
    betas = np.linspace(12.3, 14.2, n_pairs // 2)
    rows = []
    for b in betas:
        for init in ("uniform", "copy"):
            s = attention.solve(b, L=L, s_qk=SQK, s_uv=SUV, init=init)
            k0 = s.kappa * (1.0 + 0.1 * rng.uniform(-1, 1))
            g0 = s.g * (1.0 + 0.05 * rng.uniform(-1, 1))
            rows.append((b, k0, g0, s.kappa, s.g))
    return np.array(rows)


def time_loop(fn, pairs, repeats: int = 3):
    """Best-of-repeats seconds per call of fn(beta, k0, g0) over all pairs, and its outputs."""
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = [fn(b, k0, g0) for b, k0, g0 in pairs]
        best = min(best, time.perf_counter() - t0)
        out = res
    return best / len(pairs), np.array(out, dtype=float)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=str(DEFAULT_JSON), help="write the measured numbers here")
    ap.add_argument("--pairs", type=int, default=2000, help="number of (beta, start) pairs (even)")
    args = ap.parse_args(argv)

    cold = cold_compile_seconds()
    t0 = time.perf_counter()
    from grokphase.numerics import _attention_kernels as K
    from grokphase.numerics import attention_saddle as sd
    from grokphase.numerics.attention_branches import polish_many
    t1 = time.perf_counter()
    sd.newton_reduced(0, 1.0, 1.8, 13.0, L, SQK, SUV, TOL, MAX_ITER)
    t2 = time.perf_counter()
    from grokphase import attention
    attention.solve(13.0, L=L, s_qk=SQK, s_uv=SUV, init="copy")
    t3 = time.perf_counter()
    first_call = dict(import_seconds=t1 - t0, newton_reduced_first_call_seconds=t2 - t1,
                      public_solve_first_call_seconds=t3 - t2,
                      newton_reduced_cache_hits=sum(sd.newton_reduced.stats.cache_hits.values()))

    pairs_full = make_pairs(args.pairs)
    pairs = pairs_full[:, :3]

    def numba_newton(b, k0, g0):
        k, g, res, it, status = sd.newton_reduced(0, k0, g0, b, L, SQK, SUV, TOL, MAX_ITER)
        return k, g, res, status

    def public(b, k0, g0):
        s = attention.solve(b, L=L, kind="softmax", s_qk=SQK, s_uv=SUV, init=(k0, g0), tol=TOL,
                            max_iter=MAX_ITER)
        return s.kappa, s.g, s.residual, 0 if s.converged else 1

    def scipy_hybr(b, k0, g0):
        def fun(x):
            return np.array(K.softmax_grad(x[0], x[1], b, L, SQK, SUV))

        def jac(x):
            h = K.softmax_hess(x[0], x[1], b, L, SQK, SUV)
            return np.array([[h[0], h[1]], [h[1], h[2]]])

        r = root(fun, np.array([k0, g0]), jac=jac, method="hybr", options=dict(xtol=1e-13))
        G = fun(r.x)
        return r.x[0], r.x[1], max(abs(G[0]), abs(G[1])) / (1.0 + b * L), 0 if r.success else 1

    for fn in (numba_newton, public, scipy_hybr):  # warm every path (and Python's caches)
        [fn(*p) for p in pairs[:20]]
    per_numba, out_n = time_loop(numba_newton, pairs)
    per_public, out_p = time_loop(public, pairs)
    per_scipy, out_s = time_loop(scipy_hybr, pairs)

    # batched: the same Newton looped inside Numba (attention_branches.polish_many, which also
    # evaluates the Hessian eigenvalue and observables): the per-solve cost without Python dispatch
    b_, k_, g_ = (np.ascontiguousarray(pairs[:, i]) for i in range(3))
    polish_many(0, b_, k_, g_, L, SQK, SUV, TOL, MAX_ITER)
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        out_b = polish_many(0, b_, k_, g_, L, SQK, SUV, TOL, MAX_ITER)
        best = min(best, time.perf_counter() - t0)
    per_batch = best / len(pairs)

    # the same solutions?  hybr may land on a different stationary point (e.g. the saddle near a
    # spinodal) from a start between two of them: count those and compare the rest
    dk = np.abs(out_n[:, 0] - out_s[:, 0])
    same = dk <= 1e-8 * (1.0 + np.abs(out_n[:, 0]))
    agree = dict(
        n_same_stationary_point=int(same.sum()), n_different_stationary_point=int((~same).sum()),
        different_points=[dict(beta=float(pairs[i, 0]), kappa0=float(pairs[i, 1]), g0=float(pairs[i, 2]),
                               kappa_numba=float(out_n[i, 0]), kappa_scipy=float(out_s[i, 0]))
                          for i in np.flatnonzero(~same)],
        max_abs_dkappa_numba_vs_scipy_same_point=float(dk[same].max()),
        max_abs_dg_numba_vs_scipy_same_point=float(np.abs(out_n[same, 1] - out_s[same, 1]).max()),
        max_abs_dkappa_numba_vs_scipy_all=float(dk.max()),
        max_abs_dkappa_batched_vs_loop=float(np.max(np.abs(out_b[:, 0] - out_n[:, 0]))),
        max_abs_dkappa_public_vs_numba=float(np.max(np.abs(out_p[:, 0] - out_n[:, 0]))),
        max_abs_dkappa_vs_target_minimum=float(np.max(np.abs(out_n[:, 0] - pairs_full[:, 3]))),
        max_residual_numba=float(out_n[:, 2].max()), max_residual_scipy=float(out_s[:, 2].max()),
        failures_numba=int((out_n[:, 3] != 0).sum()), failures_public=int((out_p[:, 3] != 0).sum()),
        scipy_success_false=int((out_s[:, 3] != 0).sum()),
        scipy_success_false_max_residual=float(out_s[out_s[:, 3] != 0, 2].max()) if (out_s[:, 3] != 0).any() else None)

    # (ii) phase diagram
    betas, Ls = np.linspace(0.5, 40, 200), np.linspace(2, 40, 60)
    t0 = time.perf_counter()
    pd = attention.phase_diagram(betas, Ls, kind="softmax", s_qk=SQK, s_uv=SUV)
    pd_first = time.perf_counter() - t0
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        pd = attention.phase_diagram(betas, Ls, kind="softmax", s_qk=SQK, s_uv=SUV)
        runs.append(time.perf_counter() - t0)
    pd_med = statistics.median(runs)

    out = dict(
        params=dict(L=L, s_qk=SQK, s_uv=SUV, tol=TOL, max_iter=MAX_ITER, pairs=len(pairs),
                    beta_range=[12.3, 14.2], threads=os.environ.get("NUMBA_NUM_THREADS", "all"),
                    cpus=os.cpu_count()),
        compile=dict(cold=cold, this_process=first_call),
        per_solve_seconds=dict(numba_newton_reduced=per_numba, public_solve=per_public,
                               numba_batched_polish_many=per_batch, scipy_root_hybr=per_scipy),
        speedup=dict(numba_vs_scipy=per_scipy / per_numba, public_vs_scipy=per_scipy / per_public,
                     batched_vs_scipy=per_scipy / per_batch),
        agreement=agree,
        phase_diagram=dict(grid=[len(betas), len(Ls)], first_call_seconds=pd_first, runs_seconds=runs,
                           median_seconds=pd_med, points_per_second=betas.size * Ls.size / pd_med,
                           converged=pd.attrs["converged"], max_residual=float(pd.residual.max()),
                           nan_points=int(pd.c.isnull().sum())),
        targets=dict(speedup_min=50.0, phase_diagram_max_seconds=10.0,
                     speedup_met=per_scipy / per_numba >= 50.0, phase_diagram_met=pd_med < 10.0),
    )

    print(f"{'path':<28}{'s / solve':>12}{'vs SciPy':>10}")
    for name, per in (("numba newton_reduced", per_numba), ("public attention.solve", per_public),
                      ("numba batched polish_many", per_batch),
                      ("scipy root(hybr) + kernels", per_scipy)):
        print(f"{name:<28}{per:>12.3e}{per_scipy / per:>9.1f}x")
    print(f"agreement: same stationary point in {agree['n_same_stationary_point']}/{len(pairs)} pairs, "
          f"there max|dkappa| = {agree['max_abs_dkappa_numba_vs_scipy_same_point']:.1e}, "
          f"max|dg| = {agree['max_abs_dg_numba_vs_scipy_same_point']:.1e}; residuals numba "
          f"{agree['max_residual_numba']:.1e}, scipy {agree['max_residual_scipy']:.1e}; Newton failures "
          f"{agree['failures_numba']}/{agree['failures_public']}; hybr success=False "
          f"{agree['scipy_success_false']}")
    for d in agree["different_points"]:
        print(f"  different point: beta={d['beta']:.4f} start kappa={d['kappa0']:.4f}: Newton "
              f"{d['kappa_numba']:.6f}, hybr {d['kappa_scipy']:.6f}")
    print(f"compile: cold {cold['newton_reduced_compile_seconds']:.2f} s (newton_reduced), "
          f"{cold['public_solve_first_call_seconds']:.2f} s (solve, rest); this process first call "
          f"{first_call['newton_reduced_first_call_seconds']:.3f} s (cache hits "
          f"{first_call['newton_reduced_cache_hits']})")
    print(f"phase diagram 200 x 60: median {pd_med:.3f} s ({betas.size * Ls.size / pd_med:.0f} points/s), "
          f"first call {pd_first:.3f} s, converged {pd.converged}")
    if args.json:
        from grokphase._io import atomic_write_json

        print(f"wrote {atomic_write_json(args.json, out, indent=2)}")
    return out


if __name__ == "__main__":
    main()
