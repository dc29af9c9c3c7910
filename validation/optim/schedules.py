"""Learning-rate schedules (multipliers of the base rate)."""

from __future__ import annotations

import math
from dataclasses import dataclass


def warmup_cosine(step: int, *, warmup: int, total: int, start: float = 0.0, final: float = 1.0) -> float:
    """Multiplier at optimiser step ``step`` (0-based, the step about to be taken).

    Linear warm-up from ``start`` to 1 over ``warmup`` steps (Nanda's grokking runs: start 0,
    multiplier min(step/warmup, 1)), then cosine decay from 1 to ``final`` at ``total`` steps
    (final = 1: constant after warm-up; the ICL paper: start 0.01, final 0.1)."""
    if step < warmup:
        return start + (1.0 - start) * step / warmup
    if total <= warmup or final == 1.0:
        return 1.0
    frac = min(1.0, (step - warmup) / (total - warmup))
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * frac))


@dataclass(frozen=True)
class WarmupCosine:
    """:func:`warmup_cosine` as a recorded schedule: ``WarmupCosine(...)(step)`` is the multiplier.

    ``total`` (the step where the cosine reaches ``final``) is needed only when ``final != 1`` (and
    stored as None otherwise, so that equal schedules compare equal); a schedule with ``final = 1`` (constant after warm-up) does not depend on the run's length, so a
    run trained with it can be extended.  A decaying schedule spans ``total`` steps: a longer run is
    a different run.
    """

    warmup: int = 0
    total: int | None = None
    start: float = 0.0
    final: float = 1.0

    def __post_init__(self):
        if not (isinstance(self.warmup, int) and self.warmup >= 0):
            raise ValueError(f"warmup must be an integer >= 0, got {self.warmup!r}")
        for name in ("start", "final"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 <= v <= 1.0):
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if self.final != 1.0 and not (isinstance(self.total, int) and self.total > self.warmup):
            raise ValueError(f"total must be an integer > warmup ({self.warmup}) for a decaying schedule "
                             f"(final = {self.final}), got {self.total!r}")
        if self.final == 1.0:
            object.__setattr__(self, "total", None)

    def __call__(self, step: int) -> float:
        return warmup_cosine(step, warmup=self.warmup, total=self.total or 0, start=self.start, final=self.final)
