"""A sweep of finite-N points (HMC hysteresis, 8+ points of a few seconds each) run serially and on a
Dask LocalCluster in the same run: the wall-clock ratio, that both give the identical Dataset, and
the cold vs warm cost of one point in a fresh worker process (import + Numba cache load).

Run:  python benchmarks/bench_sweep.py [--workers 2] [--n-iter 300] [--N 32 64] [--seeds 4] [--json PATH]

The serial baseline runs before and after the Dask runs (their mean is the baseline) and the
machine's load average is recorded at each phase: on a shared machine the ratio says how much of
the ideal speed-up (the number of workers) the other processes left.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

COLD = """
import json, time
t0 = time.perf_counter()
from grokphase.validation.experiments import attention_hysteresis as H
t1 = time.perf_counter()
d = H.Hysteresis(n_iter={n_iter})
d.warmup()
t2 = time.perf_counter()
H.point(d, N={N}, seed=0)
t3 = time.perf_counter()
H.point(d, N={N}, seed=1)
t4 = time.perf_counter()
print(json.dumps(dict(import_seconds=t1 - t0, warmup_seconds=t2 - t1, first_point_seconds=t3 - t2,
                      warm_point_seconds=t4 - t3)))
"""


def cold_worker(n_iter: int, N: int) -> dict:
    """Times in a fresh process: import, design warm-up (Numba cache load), first and second point."""
    import json

    out = subprocess.run([sys.executable, "-c", COLD.format(n_iter=n_iter, N=N)], capture_output=True, text=True,
                         check=True)
    r = json.loads(out.stdout)
    r["cold_total_seconds"] = r["import_seconds"] + r["warmup_seconds"] + r["first_point_seconds"]
    return r


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n-iter", type=int, default=300)
    ap.add_argument("--N", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--json", default=str(Path(__file__).resolve().parent / "results" / "bench_sweep.json"))
    args = ap.parse_args(argv)

    import dask
    import xarray as xr
    from distributed import Client, LocalCluster

    from grokphase._io import atomic_write_json
    from grokphase.sweep import Grid, run_sweep
    from grokphase.sweep.run import UNSET_MALLOC_TRIM
    from grokphase.validation.experiments import attention_hysteresis as H

    design = H.Hysteresis(n_iter=args.n_iter)
    grid = Grid.product(N=args.N, seed=list(range(args.seeds)))
    load_before = os.getloadavg()
    cold = cold_worker(args.n_iter, max(args.N))

    def serial_run():
        t0 = time.perf_counter()
        ds = run_sweep(H.point, grid, design=design, progress=False)
        return ds, time.perf_counter() - t0

    design.warmup()                                    # serial baseline in a warm process, before and after
    serial, t_serial_a = serial_run()
    load_dask = os.getloadavg()

    t0 = time.perf_counter()
    with dask.config.set({UNSET_MALLOC_TRIM: None}), \
            LocalCluster(n_workers=args.workers, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        t_start = time.perf_counter() - t0
        t1 = time.perf_counter()
        dask = run_sweep(H.point, grid, design=design, executor=client, progress=False)
        t_dask = time.perf_counter() - t1
        t2 = time.perf_counter()
        run_sweep(H.point, grid, design=design, executor=client, progress=False)   # workers now warm
        t_dask_warm = time.perf_counter() - t2
    t_total = time.perf_counter() - t0
    load_after_dask = os.getloadavg()
    serial_b, t_serial_b = serial_run()
    t_serial = 0.5 * (t_serial_a + t_serial_b)
    xr.testing.assert_identical(serial, dask)
    xr.testing.assert_identical(serial, serial_b)
    out = dict(points=len(grid), grid=dict(zip(grid.dims, grid.shape)), n_iter=args.n_iter, workers=args.workers,
               cpus=os.cpu_count(), load_average_before=load_before, load_average_before_dask=load_dask,
               load_average_after_dask=load_after_dask, load_average_after=os.getloadavg(),
               serial_seconds_before=t_serial_a, serial_seconds_after=t_serial_b,
               serial_seconds=t_serial, serial_seconds_per_point=t_serial / len(grid),
               dask_cluster_start_seconds=t_start, dask_sweep_seconds=t_dask, dask_sweep_warm_workers_seconds=t_dask_warm,
               dask_total_seconds=t_total, speedup_sweep=t_serial / t_dask, speedup_warm_workers=t_serial / t_dask_warm,
               speedup_including_cluster=t_serial / t_total, identical=True, cold_worker=cold)
    print(f"{len(grid)} points (hysteresis, n_iter {args.n_iter}, N {args.N}, {args.seeds} seeds) on "
          f"{os.cpu_count()} cores, identical Datasets serial/dask")
    print(f"1-minute load average: start {load_before[0]:.1f}, before dask {load_dask[0]:.1f}, after dask "
          f"{load_after_dask[0]:.1f}, end {out['load_average_after'][0]:.1f}")
    print(f"serial {t_serial_a:.1f} s before, {t_serial_b:.1f} s after, mean {t_serial:.1f} s "
          f"({t_serial / len(grid):.2f} s/point); dask {args.workers} workers: sweep "
          f"{t_dask:.1f} s (ratio {t_serial / t_dask:.2f}), warm workers {t_dask_warm:.1f} s (ratio "
          f"{t_serial / t_dask_warm:.2f}), with cluster start/stop {t_total:.1f} s (ratio {t_serial / t_total:.2f})")
    print(f"fresh worker: import {cold['import_seconds']:.2f} s + warm-up {cold['warmup_seconds']:.2f} s + first point "
          f"{cold['first_point_seconds']:.2f} s = {cold['cold_total_seconds']:.2f} s vs warm point "
          f"{cold['warm_point_seconds']:.2f} s")
    print(f"wrote {atomic_write_json(args.json, out, indent=2)}")
    return out


if __name__ == "__main__":
    main()
