"""Run Numba kernels and BLAS products over contiguous chunks of rows on a few threads.

``run(kernel, n, work, *args)`` calls ``kernel(c, lo, hi, *args)`` for chunk c = 0 .. k - 1 covering
rows [lo, hi) of 0 .. n - 1, k = ``n_chunks(n, work)`` (work: element operations in all); the calling thread and ``threads() - 1`` pool workers
take chunks from a shared counter, so a thread that the OS deschedules (a loaded machine) takes
fewer of them.  Kernels that reduce over rows write one partial result per chunk (index c).

Why not ``numba.prange``: Numba's OpenMP layer keeps its threads spinning after each kernel, and
on a loaded 2-core machine a LayerNorm kernel then took 16 ms instead of 1 ms (its workqueue layer
does not spin but aborts when two Python threads launch kernels at once).  Here waiting threads
sleep, and concurrent callers simply share the pool.

Products: ``matmul`` splits the rows of a (B T, .) x (., .) product and ``matmul_tn`` the long
contraction of a weight gradient a^T b over the pool, each piece a single-threaded BLAS call, with
BLAS held to one thread by ``single_threaded_blas`` (the model's public methods run inside it).
OpenBLAS's own threads synchronise (spinning) after every block of the contraction, and on a loaded
2-core machine a (128 x 24,576) x (24,576 x 128) weight gradient then took a median 131 ms with two
threads against 16 ms with one; split this way a descheduled thread costs one late join instead.

Thread count: ``NUMBA_NUM_THREADS`` (Numba's setting; default the number of CPUs).
"""

from __future__ import annotations

import functools
import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

_pool: ThreadPoolExecutor | None = None
_pool_pid = -1


def threads() -> int:
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


SERIAL_WORK = 1 << 17
"""Below this many element operations a kernel runs in the calling thread (handing chunks to the
pool costs some 10-50 us, more than small layers take)."""


def n_chunks(n: int, work: int, per_thread: int = 4) -> int:
    """Chunks for n rows and ``work`` element operations in all: one when the work is small,
    else ``per_thread`` per thread (load balance), at most n."""
    return 1 if work < SERIAL_WORK else max(1, min(n, per_thread * threads()))


def _executor() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():       # a forked child has no pool threads
        _pool = ThreadPoolExecutor(max_workers=threads() - 1, thread_name_prefix="grokphase-nn")
        _pool_pid = os.getpid()
    return _pool


def run(kernel, n: int, work: int, *args, per_thread: int = 4) -> int:
    """kernel(c, lo, hi, *args) over k = n_chunks(n, work, per_thread) chunks of range(n); returns k."""
    k = n_chunks(n, work, per_thread)
    bounds = [c * n // k for c in range(k + 1)]
    if k == 1 or threads() == 1:
        for c in range(k):
            kernel(c, bounds[c], bounds[c + 1], *args)
        return k
    counter = itertools.count()
    errors = np.geterr()               # np.errstate is per thread: the workers take the caller's

    def work():
        with np.errstate(**errors):
            while (c := next(counter)) < k:
                kernel(c, bounds[c], bounds[c + 1], *args)

    pool = _executor()
    futures = [pool.submit(work) for _ in range(min(threads(), k) - 1)]
    work()
    for f in futures:
        f.result()
    return k


# ----------------------------------------------------------------------------- BLAS products
_controller = None


def single_threaded_blas():
    """Context manager holding the BLAS libraries to one thread (threadpoolctl)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def blas_single(method):
    """Decorator: run ``method`` inside ``single_threaded_blas``."""

    @functools.wraps(method)
    def wrapped(*args, **kwargs):
        with single_threaded_blas():
            return method(*args, **kwargs)
    return wrapped


def _rows_matmul(c, lo, hi, a, b, out):
    np.matmul(a[lo:hi], b, out=out[lo:hi])


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """a (M, K) @ b (K, N) into out (M, N) (C-contiguous; new when None), rows of a in chunks."""
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    run(_rows_matmul, a.shape[0], a.shape[0] * a.shape[1] * b.shape[1], a, b, out, per_thread=2)
    return out


def _tn_matmul(c, lo, hi, a, b, part):
    np.matmul(a[lo:hi].T, b[lo:hi], out=part[c])


def matmul_tn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a.T @ b for tall a (N, m), b (N, n): the contraction over N in chunks, partial products summed."""
    N, m, n = a.shape[0], a.shape[1], b.shape[1]
    work = N * m * n
    k = n_chunks(N, work, 2)
    if k == 1:
        return a.T @ b
    part = np.empty((k, m, n), np.result_type(a, b))
    run(_tn_matmul, N, work, a, b, part, per_thread=2)
    return part.sum(axis=0)
