"""Which progress measure tracks the test loss: correlation and lead time, as pure functions of
logged curves.  Definitions: ``docs/uniformity_med.md`` (§1, claim 3).

For one run with logged steps t_i, a measure x_i and the test loss L_i, from the memorisation step
on (first step with train accuracy >= 0.99):

* ``correlation``: Pearson correlation of x with log L;
* ``turning point`` of a curve: the logged step where it is furthest from its final value (the
  peak of MED, the start of a monotone decay);
* ``half-change step``: the first step from the turning point on at which the curve has covered
  half of the way from its turning-point value to its final value;
* ``lead time`` = half-change step of log L minus that of x (positive: the measure moves first).
  The turning-point lead (turning step of log L minus that of x) is reported too.

A curve that never moves (turning value = final value) has no turning point: None.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MEASURES", "memorisation_index", "correlation", "turning_index", "half_change_index",
           "compare_run"]

#: the progress measures logged by the experiments that the comparison ranks
MEASURES = ("med", "rms_adjacent", "spacing_spread", "weight_norm", "embedding_norm", "fourier_sparsity",
            "token_norm_spread", "excluded_loss", "restricted_loss")


def _arr(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"curves must be 1-d, got shape {a.shape}")
    return a


def memorisation_index(train_acc, threshold: float = 0.99) -> int | None:
    """Index of the first logged step with train accuracy >= threshold (None if never)."""
    hit = np.flatnonzero(_arr(train_acc) >= threshold)
    return int(hit[0]) if hit.size else None


def correlation(x, y) -> float | None:
    """Pearson correlation of two equal-length curves (None when one is constant or < 3 points)."""
    x, y = _arr(x), _arr(y)
    if x.shape != y.shape:
        raise ValueError(f"curves must have equal lengths, got {x.size} and {y.size}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def turning_index(x) -> int | None:
    """Index where x is furthest from its final value (first such index); None if x is constant."""
    x = _arr(x)
    dev = np.abs(x - x[-1])
    return int(np.argmax(dev)) if dev.max() > 0 else None


def half_change_index(x) -> int | None:
    """First index from the turning point on with |x - x_final| <= |x_turn - x_final| / 2."""
    x = _arr(x)
    i = turning_index(x)
    if i is None:
        return None
    half = 0.5 * abs(x[i] - x[-1])
    return i + int(np.flatnonzero(np.abs(x[i:] - x[-1]) <= half)[0])


def compare_run(rows: list[dict], measures=MEASURES, loss_key: str = "test_loss") -> list[dict]:
    """One table row per measure for a run's logged rows (dicts with ``step``, ``train_acc``,
    ``loss_key`` and the measures): {"measure", "correlation", "turning_step", "half_step",
    "lead_half", "lead_turning"} over the rows from memorisation on (empty list if the run never
    memorised; measures absent from the rows are skipped)."""
    start = memorisation_index([r["train_acc"] for r in rows])
    if start is None:
        return []
    rows = rows[start:]
    steps = np.array([r["step"] for r in rows])
    logL = np.log(np.array([r[loss_key] for r in rows], dtype=np.float64))
    ti_L, hi_L = turning_index(logL), half_change_index(logL)
    out = []
    for name in measures:
        if any(r.get(name) is None for r in rows):
            continue
        x = np.array([r[name] for r in rows], dtype=np.float64)
        ti, hi = turning_index(x), half_change_index(x)
        step = lambda i: None if i is None else int(steps[i])  # noqa: E731
        out.append({"measure": name, "correlation": correlation(x, logL), "turning_step": step(ti),
                    "half_step": step(hi),
                    "lead_half": None if hi is None or hi_L is None else int(steps[hi_L] - steps[hi]),
                    "lead_turning": None if ti is None or ti_L is None else int(steps[ti_L] - steps[ti])})
    return out
