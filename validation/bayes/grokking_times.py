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

The delay filter (``timing_table``): EU peak and collapse can only lead or lag grokking measurably
when memorisation and grokking are apart.  Per run: memorisation time t_mem (train accuracy at half
its final gain above chance), grokking time t_grok (the same on the test set), delay t_grok - t_mem;
a run qualifies when delay >= ``min_delay`` logging intervals (default 3).  Only qualified runs get
the EU timings: EU-peak step, its lead t_grok - t_peak (positive: EU peaks before grokking), the
collapse factor (peak / final EU) and the monitor's detection step with its lag t_det - t_grok
(negative: detected before grokking); ``timing_statistics`` summarises them over the qualified runs.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from grokphase import _checks as chk


def _check(steps, values, name: str):
    """steps (n,) numbers and values (n,) finite numbers, n >= 1."""
    steps = np.asarray(steps)
    if steps.ndim != 1 or steps.size == 0 or not np.issubdtype(steps.dtype, np.number):
        raise ValueError(f"steps must be a non-empty 1-d array of numbers; got shape {steps.shape}, dtype {steps.dtype}")
    values = chk.array(name, values, ndim=1)
    if values.shape != steps.shape:
        raise ValueError(f"steps and {name} must have equal length; got {steps.shape}, {values.shape}")
    return steps, values


def threshold_time(steps, acc, chance: float, fraction: float = 0.5) -> int | float | None:
    """First logged step (or time: the type of ``steps``) where acc >= chance + fraction (acc[-1] - chance)."""
    fraction = chk.real("fraction", fraction, 0.0, 1.0, lo_open=True)
    chance = chk.real("chance", chance)
    steps, acc = _check(steps, acc, "acc")
    gain = acc[-1] - chance
    if not gain > 0:
        return None
    hit = np.flatnonzero(acc >= chance + fraction * gain)
    return steps[hit[0]].item()


def eu_peak(steps, eu) -> tuple[int, float]:
    """(step of the maximum EU, peak EU / final EU)."""
    steps, eu = _check(steps, eu, "eu")
    i = int(np.argmax(eu))
    return int(steps[i]), (float(eu[i] / eu[-1]) if eu[-1] > 0 else math.inf)


class EUMonitor:
    """Label-free grokking detector (module docstring).  ``update(step, eu)`` returns True once, when
    the rule is met; the detection step stays in ``detected_step``."""

    def __init__(self, drop: float = 2.0, rise: float = 2.0, patience: int = 3):
        self.drop = chk.real("drop", drop, 1.0, lo_open=True)
        self.rise = chk.real("rise", rise, 1.0)
        self.patience = chk.integer("patience", patience, 1)
        self.first = None
        self.peak = -math.inf
        self._low: list[int] = []
        self.detected_step: int | None = None

    def update(self, step: int, eu: float) -> bool:
        eu = chk.real("eu", eu)
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
    steps, eu = _check(steps, eu, "eu")
    mon = EUMonitor(drop, rise, patience)
    for s, e in zip(steps, eu):
        mon.update(int(s), float(e))
    return mon.detected_step


def event_times(steps, train_acc, test_acc, chance: float, *, fraction: float = 0.5,
                min_gain: float = 0.0) -> dict:
    """Memorisation and grokking times of one run and their difference.

    Parameters
    ----------
    steps : array (n,)
        Logged steps.
    train_acc, test_acc : array (n,)
        Accuracy on the training and the held-out set at those steps.
    chance : float
        Chance accuracy.
    fraction : float
        Fraction of the final gain above chance that marks the event (``threshold_time``).
    min_gain : float or (float, float)
        A final gain above chance <= min_gain (e.g. 3 binomial sd of the set) gives no event; a
        pair gives the training set's and the held-out set's.

    Returns
    -------
    dict
        ``{"memorisation_time", "grokking_time", "delay"}``: steps (type of ``steps``) or None.
    """
    gains = tuple(min_gain) if isinstance(min_gain, (tuple, list)) else (min_gain, min_gain)
    if len(gains) != 2:
        raise ValueError(f"min_gain must be a number >= 0 or a pair (train, test) of them; got {min_gain!r}")
    gains = tuple(chk.nonnegative(f"min_gain[{i}]", g) for i, g in enumerate(gains))

    def event(acc, gain):
        acc = chk.array("acc", acc, ndim=1)
        return threshold_time(steps, acc, chance, fraction) if acc[-1] - chance > gain else None

    mem, grok = event(train_acc, gains[0]), event(test_acc, gains[1])
    return {"memorisation_time": mem, "grokking_time": grok,
            "delay": None if mem is None or grok is None else grok - mem}


TIMING_LABELS = {
    "memorisation_time": {"long_name": "memorisation time (train accuracy at half its final gain)", "units": "step"},
    "grokking_time": {"long_name": "grokking time (test accuracy at half its final gain)", "units": "step"},
    "delay": {"long_name": "grokking time - memorisation time", "units": "step"},
    "delay_intervals": {"long_name": "delay in logging intervals", "units": "1"},
    "qualified": {"long_name": "delay >= min_delay logging intervals (EU timings computed)"},
    "eu_peak_step": {"long_name": "step of the largest EU", "units": "step"},
    "eu_peak_lead": {"long_name": "grokking time - EU-peak step (positive: EU peaks first)", "units": "step"},
    "eu_collapse_factor": {"long_name": "peak EU / final EU", "units": "1"},
    "detected_step": {"long_name": "label-free EU monitor detection step", "units": "step"},
    "detection_lag": {"long_name": "detection step - grokking time (negative: lead)", "units": "step"},
}


def timing_table(runs: dict, *, chance: float | None = None, interval: float | None = None, min_delay: float = 3,
                 fraction: float = 0.5, min_gain: float = 0.0, drop: float = 2.0, rise: float = 2.0,
                 patience: int = 3) -> xr.Dataset:
    """Event times of every run, and EU timings of the runs whose delay passes the filter
    (module docstring).

    Parameters
    ----------
    runs : dict of str -> mapping
        Per run name: ``steps`` (n,), ``train_acc`` (n,), ``test_acc`` (n,), ``eu`` (n,) on the
        target set, optionally ``eu_unlabeled`` (n,) for the monitor (default ``eu``), ``chance``,
        ``interval`` and ``min_gain`` (overriding the keyword defaults).
    chance : float, optional
        Chance accuracy (required unless every run gives its own).
    interval : float, optional
        The logging interval in steps (``log_every``; required unless every run gives its own).
    min_delay : float
        Qualifying delay, in logging intervals (default 3).
    fraction, min_gain
        As for :func:`event_times`.
    drop, rise, patience
        The monitor's settings (:class:`EUMonitor`).

    Returns
    -------
    xarray.Dataset
        Over ``run``: ``memorisation_time``, ``grokking_time``, ``delay``, ``delay_intervals``,
        ``qualified`` (bool) for every run; ``eu_peak_step``, ``eu_peak_lead``,
        ``eu_collapse_factor``, ``detected_step``, ``detection_lag`` for qualified runs (NaN
        otherwise, and where an event does not occur).  Attributes: ``min_delay`` and the
        :func:`timing_statistics` numbers.
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError(f"runs must be a non-empty dict of run name -> curves; got {type(runs).__name__}")
    min_delay = chk.nonnegative("min_delay", min_delay)
    cols = {k: [] for k in TIMING_LABELS}
    nan = math.nan
    for name, r in runs.items():
        missing = [k for k in ("steps", "train_acc", "test_acc", "eu") if k not in r]
        if missing:
            raise ValueError(f"runs[{name!r}] lacks {missing}")
        c = r.get("chance", chance)
        dt = r.get("interval", interval)
        if c is None or dt is None:
            raise ValueError(f"runs[{name!r}]: give chance and interval (keywords or per run)")
        dt = chk.positive("interval", dt, note="the logging interval in steps")
        ev = event_times(r["steps"], r["train_acc"], r["test_acc"], c, fraction=fraction,
                         min_gain=r.get("min_gain", min_gain))
        delay = ev["delay"]
        ok = delay is not None and delay >= min_delay * dt
        row = {"memorisation_time": ev["memorisation_time"], "grokking_time": ev["grokking_time"], "delay": delay,
               "delay_intervals": None if delay is None else delay / dt, "qualified": ok}
        if ok:
            steps, eu = _check(r["steps"], r["eu"], "eu")
            peak, factor = eu_peak(steps, eu)
            det = detect(steps, r.get("eu_unlabeled", eu), drop, rise, patience)
            g = ev["grokking_time"]
            row |= {"eu_peak_step": peak, "eu_peak_lead": g - peak, "eu_collapse_factor": factor,
                    "detected_step": det, "detection_lag": None if det is None else det - g}
        for k in cols:
            v = row.get(k)
            cols[k].append(bool(v) if k == "qualified" else (nan if v is None else float(v)))
    ds = xr.Dataset({k: ("run", np.asarray(v, bool if k == "qualified" else float)) for k, v in cols.items()},
                    coords={"run": list(runs)})
    for k, a in TIMING_LABELS.items():
        ds[k].attrs.update(a)
    ds.attrs.update({"min_delay": float(min_delay), **timing_statistics(ds)})
    return ds


def timing_statistics(table: xr.Dataset) -> dict:
    """Summary of the EU timings over the qualified runs of a :func:`timing_table`.

    Parameters
    ----------
    table : xarray.Dataset
        A :func:`timing_table`.

    Returns
    -------
    dict
        ``n_runs``, ``n_qualified``; for ``eu_peak_lead``, ``eu_collapse_factor`` and
        ``detection_lag``: ``<name>_median``, ``<name>_min``, ``<name>_max`` over the qualified runs
        where defined (NaN when none); ``eu_peak_leads_fraction``: the fraction of qualified runs
        whose EU peak precedes grokking; ``detected_fraction``: the fraction detected at all.
    """
    q = table.qualified.values
    out = {"n_runs": int(q.size), "n_qualified": int(q.sum())}
    for name in ("eu_peak_lead", "eu_collapse_factor", "detection_lag"):
        v = table[name].values[q]
        v = v[~np.isnan(v)]
        for stat, f in (("median", np.median), ("min", np.min), ("max", np.max)):
            out[f"{name}_{stat}"] = float(f(v)) if v.size else math.nan
    lead = table.eu_peak_lead.values[q]
    out["eu_peak_leads_fraction"] = float(np.mean(lead > 0)) if q.any() else math.nan
    out["detected_fraction"] = float(np.mean(~np.isnan(table.detected_step.values[q]))) if q.any() else math.nan
    return out
