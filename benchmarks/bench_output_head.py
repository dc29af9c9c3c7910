"""Benchmark: the fused output head (``grokphase.validation.nn.output_head``: unembedding, loss and
their backward in blocks of rows) against the unfused route over the full logits, for a range of
block sizes, in one run.

Workload: the LM configuration of ``bench_transformer.py`` at the head: M = 4096 rows (64 sequences
x 64 positions), D = 128, V = 2500, float32, tied embeddings (W_U = E^T), cross-entropy.
Unfused route: logits = h W_U (rows split over the threads), the float64-accumulated cross-entropy
kernel over all rows in chunks, dh = G W_U^T and dW_U = h^T G (the model's ``wgrad``) - the step
as it was before the head was fused, except that both routes use today's loss kernel (float32
exponentials), so the ratio is that of the fusion alone.  Each variant: the median of ``--repeats`` calls after one
discarded call, BLAS held to one thread per pool thread as in the model.

Run:  python benchmarks/bench_output_head.py [--threads N] [--repeats R] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path


def _args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "bench_output_head.json"))
    return ap.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from grokphase._io import atomic_write_json  # noqa: E402
from grokphase.validation.nn import _kernels as K  # noqa: E402
from grokphase.validation.nn import _parallel, output_head  # noqa: E402
from grokphase.validation.nn.layers import wgrad  # noqa: E402

BLOCKS_KIB = (512, 1024, 2048, 4096, 8192, 16384)


def _unfused(h, W, t, z, dh):
    _parallel.matmul(h, W, z)
    M = h.shape[0]
    part = np.zeros(_parallel.n_chunks(M, z.size))

    def ce(c, lo, hi):
        part[c] = K.cross_entropy_rows(z[lo:hi], t[lo:hi], 1.0 / M, z[lo:hi])
    _parallel.run(ce, M, z.size)
    _parallel.matmul(z, W.T, dh)
    return float(part.sum()) / M, dh, wgrad(h, z)


def _median_ms(f, repeats):
    f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main():
    rng = np.random.default_rng(0)
    M, D, V = 4096, 128, 2500
    h = rng.standard_normal((M, D)).astype(np.float32)
    E = (0.1 * rng.standard_normal((V, D))).astype(np.float32)
    W, t = E.T, rng.integers(0, V, M)
    z, dh = np.empty((M, V), np.float32), np.empty((M, D), np.float32)
    out = {"threads": ARGS.threads, "shape": {"M": M, "D": D, "V": V}, "load_average_1min_before": os.getloadavg()[0]}
    default = output_head.BLOCK_BYTES
    with _parallel.single_threaded_blas():
        ref = _unfused(h, W, t, z, dh)
        fused = output_head.unembed_loss_backward(h, W, t)
        out["max_rel_diff_fused_vs_unfused"] = float(max(np.abs(a - b).max() / np.abs(b).max()
                                                         for a, b in zip(fused[1:], ref[1:])))
        out["unfused_ms"] = _median_ms(lambda: _unfused(h, W, t, z, dh), ARGS.repeats)
        out["fused_ms"] = {}
        try:
            for kib in BLOCKS_KIB:
                output_head.BLOCK_BYTES = kib << 10
                out["fused_ms"][f"{kib}KiB/{output_head.block_rows(V, 4)}rows"] = _median_ms(
                    lambda: output_head.unembed_loss_backward(h, W, t), ARGS.repeats)
        finally:
            output_head.BLOCK_BYTES = default
    out["default_block"] = f"{default >> 10}KiB/{output_head.block_rows(V, 4)}rows"
    out["speedup_default_over_unfused"] = out["unfused_ms"] / out["fused_ms"][out["default_block"]]
    out["load_average_1min_after"] = os.getloadavg()[0]
    print(f"threads {ARGS.threads}; unfused {out['unfused_ms']:.1f} ms; fused (max rel diff "
          f"{out['max_rel_diff_fused_vs_unfused']:.1e}):")
    for k, v in out["fused_ms"].items():
        print(f"  {k:>18} {v:7.1f} ms  {out['unfused_ms'] / v:5.2f}x" + ("  (default)" if k == out["default_block"] else ""))
    atomic_write_json(ARGS.json, out)
    print("wrote", ARGS.json)


if __name__ == "__main__":
    main()
