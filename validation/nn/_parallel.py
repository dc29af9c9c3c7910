"""Run a Numba kernel over contiguous chunks of rows on a few threads (the kernels release the GIL).

``run(kernel, n, work, *args)`` calls ``kernel(c, lo, hi, *args)`` for chunk c = 0 .. k - 1 covering
rows [lo, hi) of 0 .. n - 1, k = ``n_chunks(n, work)`` (work: element operations in all); the calling thread and ``threads() - 1`` pool workers
take chunks from a shared counter, so a thread that the OS deschedules (a loaded machine) takes
fewer of them.  Kernels that reduce over rows write one partial result per chunk (index c).

Why not ``numba.prange``: Numba's OpenMP layer keeps its threads spinning after each kernel, and
on a loaded 2-core machine a LayerNorm kernel then took 16 ms instead of 1 ms (its workqueue layer
does not spin but aborts when two Python threads launch kernels at once).  Here waiting threads
sleep, and concurrent callers simply share the pool.

Thread count: ``NUMBA_NUM_THREADS`` (Numba's setting; default the number of CPUs).
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numba

_pool: ThreadPoolExecutor | None = None
_pool_pid = -1


def threads() -> int:
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


SERIAL_WORK = 1 << 17
"""Below this many element operations a kernel runs in the calling thread (handing chunks to the
pool costs some 10-50 us, more than small layers take)."""


def n_chunks(n: int, work: int) -> int:
    """Chunks for n rows and ``work`` element operations in all: one when the work is small,
    else about four per thread (load balance), at most n."""
    return 1 if work < SERIAL_WORK else max(1, min(n, 4 * threads()))


def _executor() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():       # a forked child has no pool threads
        _pool = ThreadPoolExecutor(max_workers=threads() - 1, thread_name_prefix="grokphase-nn")
        _pool_pid = os.getpid()
    return _pool


def run(kernel, n: int, work: int, *args) -> int:
    """kernel(c, lo, hi, *args) over k = n_chunks(n, work) chunks of range(n); returns k."""
    k = n_chunks(n, work)
    bounds = [c * n // k for c in range(k + 1)]
    if k == 1 or threads() == 1:
        for c in range(k):
            kernel(c, bounds[c], bounds[c + 1], *args)
        return k
    counter = itertools.count()

    def work():
        while (c := next(counter)) < k:
            kernel(c, bounds[c], bounds[c + 1], *args)

    pool = _executor()
    futures = [pool.submit(work) for _ in range(min(threads(), k) - 1)]
    work()
    for f in futures:
        f.result()
    return k
