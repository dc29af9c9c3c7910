"""Benchmark: emp/gen excess risk, accuracy and EU on 10^4 times x 100 values of lam.

Target: < 1 s on 2 cores.  Baseline measured in the same run: a plain
``scipy.integrate.quad`` route (QAWS with the square-root edge weights, one quad call per
moment per (lam, t)), timed on a random subsample of grid points and extrapolated linearly
to the full grid (it would take minutes to run in full).  We also report the baseline's
accuracy against ours: plain quad loses the late-time tail.

Run:  python benchmarks/bench_linear_vi_curves.py [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np
from scipy.integrate import quad

from grokphase import sweep_lam
from grokphase.numerics.vi_curves import accuracy_closure, eu_regression, eu_threshold
from grokphase.numerics.spectra import MarchenkoPastur

NBAR, EPS = 5e7, 1e-3


def quad_point(lam: float, t: float):
    """Baseline: both moments by scipy quad with weight (nu - lo)^1/2 (hi - nu)^1/2, then closures."""
    r = math.sqrt(lam)
    lo, hi = (1 - r) ** 2, (1 + r) ** 2
    c = 2 * NBAR * t
    pref = 1.0 / (2 * math.pi * lam)
    m0 = quad(lambda v: pref * math.exp(-c * v) / v, lo, hi, weight="alg", wvar=(0.5, 0.5))[0]
    m1 = quad(lambda v: pref * math.exp(-c * v), lo, hi, weight="alg", wvar=(0.5, 0.5))[0]
    le, lg = (math.log(m1) if m1 > 0 else -np.inf), (math.log(m0) if m0 > 0 else -np.inf)
    acc = accuracy_closure(np.array([le, lg]), EPS)
    eu = eu_threshold(np.array([le, lg]), EPS)
    reg = eu_regression(MarchenkoPastur(lam), np.array([le]), np.array([lg]), NBAR, 0.0, 1.0, 0.5)
    return le, lg, acc, eu, reg


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the measured numbers here")
    ap.add_argument("--baseline-points", type=int, default=300)
    args = ap.parse_args(argv)

    lams = np.linspace(0.01, 0.99, 100)
    t = np.logspace(-10, -2, 10_000)
    sweep_lam(lams[:2], t[:3], n_over_sigma2=NBAR, eps=EPS)          # compile / load the cache
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        sweep_lam(lams, t, n_over_sigma2=NBAR, eps=EPS)
        runs.append(time.perf_counter() - t0)
    ours = min(runs)

    rng = np.random.default_rng(0)
    idx = rng.integers(0, lams.size, args.baseline_points), rng.integers(0, t.size, args.baseline_points)
    t0 = time.perf_counter()
    base = [quad_point(lams[i], t[j]) for i, j in zip(*idx)]
    per_point = (time.perf_counter() - t0) / args.baseline_points
    baseline_full = per_point * lams.size * t.size

    # accuracy of the baseline against the edge-respecting quadrature (log excess risks)
    pts = [MarchenkoPastur(lams[i]).log_laplace_moments(np.array([2 * NBAR * t[j]]))
           for i, j in zip(*idx)]
    ours_log_gen = np.array([p[0][0] - 2 * NBAR * MarchenkoPastur(lams[i]).nu_min * t[j]
                             for p, i, j in zip(pts, *idx)])
    base_log_gen = np.array([b[1] for b in base])
    rel = np.abs(np.expm1(base_log_gen - ours_log_gen))
    late = ours_log_gen < math.log(1e-6)
    out = dict(grid=[int(lams.size), int(t.size)], threads=os.environ.get("NUMBA_NUM_THREADS", "all"),
               ours_seconds=ours, ours_runs=runs, target_seconds=1.0, baseline_seconds_per_point=per_point,
               baseline_seconds_extrapolated=baseline_full, speedup=baseline_full / ours,
               baseline_max_rel_err=float(np.nanmax(rel)),
               baseline_max_rel_err_late=float(np.nanmax(rel[late])) if late.any() else None,
               baseline_points=args.baseline_points)
    print(json.dumps(out, indent=2))
    if args.json:
        from grokphase._io import atomic_write_json

        atomic_write_json(args.json, out, indent=2)
    return out


if __name__ == "__main__":
    main()
