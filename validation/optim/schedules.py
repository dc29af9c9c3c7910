"""Learning-rate schedules (multipliers of the base rate)."""

from __future__ import annotations

import math

from grokphase import _checks as chk


def warmup_cosine(step: int, *, warmup: int, total: int, start: float = 0.0, final: float = 1.0) -> float:
    """Multiplier at optimiser step ``step`` (0-based, the step about to be taken).

    Linear warm-up from ``start`` to 1 over ``warmup`` steps (Nanda's grokking runs: start 0,
    multiplier min(step/warmup, 1)), then cosine decay from 1 to ``final`` at ``total`` steps
    (final = 1: constant after warm-up; the ICL paper: start 0.01, final 0.1).  step, warmup, total:
    integers >= 0; start, final: finite numbers >= 0."""
    step, warmup, total = (chk.integer(k, v, 0) for k, v in (("step", step), ("warmup", warmup), ("total", total)))
    start, final = chk.nonnegative("start", start), chk.nonnegative("final", final)
    if step < warmup:
        return start + (1.0 - start) * step / warmup
    if total <= warmup or final == 1.0:
        return 1.0
    frac = min(1.0, (step - warmup) / (total - warmup))
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * frac))
