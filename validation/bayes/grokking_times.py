"""Numeric event times along a training trajectory and the label-free grokking monitor.

``docs/icl_grokking.md`` §4, claim 2, with its definitions of the event times, on a logged step grid
steps (n,) with values (n,):

- grokking time: the first logged step where accuracy passes chance + f (final - chance), f = 1/2
  (and the 90 % point, f = 0.9); None when the final gain is not positive (nothing to pass).
- EU-peak time: the step of the largest epistemic uncertainty; EU-collapse factor: peak EU over the
  final EU (inf when the final EU is 0).
- ``EUMonitor``: a training callback fed (step, EU on a fixed set of unlabeled prompts) that fires
  "grokking detected" once EU has stayed <= peak / ``drop`` for ``patience`` consecutive evaluations
  after the running peak reached ``rise`` x the first value (EU must rise, as in memorisation, before
  its fall counts; one low evaluation is not enough).  The detection step is the first of those
  evaluations, reported when the last of them arrives.  Labels are never read.  Defaults drop = 2,
  rise = 2, patience = 3.
"""

from __future__ import annotations

import math

import numpy as np


def _check(steps, values):
    steps, values = np.asarray(steps), np.asarray(values, float)
    if steps.ndim != 1 or steps.shape != values.shape or steps.size == 0:
        raise ValueError(f"steps and values must be 1-d of equal, nonzero length, got {steps.shape}, {values.shape}")
    return steps, values


def threshold_time(steps, acc, chance: float, fraction: float = 0.5) -> int | float | None:
    """First logged step (or time: the type of ``steps``) where acc >= chance + fraction (acc[-1] - chance)."""
    if not (0.0 < fraction <= 1.0):
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    steps, acc = _check(steps, acc)
    gain = acc[-1] - chance
    if not gain > 0:
        return None
    hit = np.flatnonzero(acc >= chance + fraction * gain)
    return steps[hit[0]].item()


def eu_peak(steps, eu) -> tuple[int, float]:
    """(step of the maximum EU, peak EU / final EU)."""
    steps, eu = _check(steps, eu)
    i = int(np.nanargmax(eu))
    return int(steps[i]), (float(eu[i] / eu[-1]) if eu[-1] > 0 else math.inf)


class EUMonitor:
    """Label-free grokking detector (module docstring).  ``update(step, eu)`` returns True once, when
    the rule is met; the detection step stays in ``detected_step``."""

    def __init__(self, drop: float = 2.0, rise: float = 2.0, patience: int = 3):
        if not (drop > 1 and rise >= 1 and patience >= 1):
            raise ValueError(f"drop must be > 1, rise >= 1 and patience >= 1, got {drop}, {rise}, {patience}")
        self.drop, self.rise, self.patience = float(drop), float(rise), int(patience)
        self.first = None
        self.peak = -math.inf
        self._low: list[int] = []
        self.detected_step: int | None = None

    def update(self, step: int, eu: float) -> bool:
        if self.detected_step is not None:
            return False
        if self.first is None:
            self.first = eu
        if eu > self.peak:
            self.peak = eu
            self._low = []
        if self.peak >= self.rise * self.first and eu <= self.peak / self.drop:
            self._low.append(int(step))
        else:
            self._low = []
        if len(self._low) >= self.patience:
            self.detected_step = self._low[0]
            return True
        return False


def detect(steps, eu, drop: float = 2.0, rise: float = 2.0, patience: int = 3) -> int | None:
    """Replay a logged EU series through ``EUMonitor``; the detection step or None."""
    steps, eu = _check(steps, eu)
    mon = EUMonitor(drop, rise, patience)
    for s, e in zip(steps, eu):
        mon.update(int(s), float(e))
    return mon.detected_step
