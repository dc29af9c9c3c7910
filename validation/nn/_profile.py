"""Opt-in wall-clock profile per operation of the transformer's step (read by
``benchmarks/bench_transformer.py``).

Inside ``with profiling() as table:`` every ``lap(name, flops)`` adds the time since the previous
lap (or since the start of the block) to ``table[name] = [seconds, flops, calls]``; so the laps of
one step partition its time and nothing goes unaccounted.  Outside such a block ``lap`` returns at
once (one global test), which is what the model calls on every operation.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

_table: dict | None = None
_last = 0.0


@contextmanager
def profiling():
    """Collect laps into a fresh dict name -> [seconds, flops, calls] (not re-entrant)."""
    global _table, _last
    if _table is not None:
        raise RuntimeError("profiling() blocks do not nest")
    table: dict = {}
    _table, _last = table, time.perf_counter()
    try:
        yield table
    finally:
        _table = None


def lap(name: str, flops: float = 0.0) -> None:
    """Charge the time since the previous lap to ``name`` (with ``flops`` floating-point operations)."""
    global _last
    if _table is None:
        return
    now = time.perf_counter()
    rec = _table.get(name)
    if rec is None:
        rec = _table[name] = [0.0, 0.0, 0]
    rec[0] += now - _last
    rec[1] += flops
    rec[2] += 1
    _last = now
