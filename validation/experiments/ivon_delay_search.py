"""The IVON delay search of the uncertainty study (``docs/icl_grokking.md`` §5, temporal claim).

The study's IVON runs on addition mod 97 (preset ``grok97-ivon``) memorise and generalise together
(train and test accuracy rise within 100 steps), so the EU peak of IVON's posterior cannot be told
apart from memorisation.  This search trains IVON runs with the preset's settings except the
effective sample size (``ess_scale`` x the number of training pairs: less posterior noise, so the
training set can be fitted before the rule is found) and the prior precision (``weight_decay``,
IVON's decay lr delta / (h + delta) per step), and reports for each run its memorisation and
grokking times (half the final accuracy gain above chance, ``grokking_times.event_times``; no
event unless that gain exceeds 3 binomial sd of the set's accuracy) and
whether the delay reaches ``min_delay`` logging intervals with the test accuracy above
``min_test_acc`` at the end: the criterion was fixed before the runs.

Design: :class:`IVONDelaySearch` with :func:`point` over (ess_scale, weight_decay, seed), run by
:func:`search` through ``grokphase.sweep.run_sweep``.  The run folders,
``{root}/mod_ivonsearch_e{ess_scale}_wd{weight_decay}_s{seed}_{id}`` (``id`` the configuration hash),
are the store: a rerun resumes unfinished runs and reads finished ones.  The runs keep parameter
snapshots, so a run that qualifies can be evaluated by the study's estimators afterwards.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from grokphase._checks import integer, real
from grokphase.sweep import Grid, run_sweep
from grokphase.validation.bayes.grokking_times import event_times
from grokphase.validation.experiments import modular_grokking as mg
from grokphase.validation.tasks import modular_dataset
from grokphase.validation.training import read_metrics

__all__ = ["IVONDelaySearch", "GRID", "search_run", "point", "search"]

#: The grid searched (fixed before the runs): ess x {1, 10, 100}, prior precision {1e-3, 3e-3}.
GRID = {"ess_scale": (1.0, 10.0, 100.0), "weight_decay": (1e-3, 3e-3), "seed": (0,)}


@dataclass(frozen=True)
class IVONDelaySearch:
    """Design of the search.

    Parameters
    ----------
    base : str
        The ``modular_grokking`` preset the runs start from (an IVON preset).
    steps : int, optional
        Another length than the preset's (None: its 3500).
    min_delay : float
        Qualifying delay, in logging intervals (the study's delay filter, 3).
    min_test_acc : float
        Qualifying final test accuracy (the run must generalise), in (0, 1].
    root : str
        Parent folder of the run folders.
    """

    base: str = "grok97-ivon"
    steps: int | None = None
    min_delay: float = 3.0
    min_test_acc: float = 0.95
    root: str = "runs/study"

    def __post_init__(self):
        if self.base not in mg.PRESETS or mg.PRESETS[self.base].optimizer != "ivon":
            raise ValueError(f"base must be an IVON preset of modular_grokking "
                             f"({sorted(k for k, r in mg.PRESETS.items() if r.optimizer == 'ivon')}); got {self.base!r}")
        if self.steps is not None:
            integer("steps", self.steps, 1)
        real("min_delay", self.min_delay, 0.0)
        real("min_test_acc", self.min_test_acc, 0.0, 1.0, lo_open=True)


def search_run(design: IVONDelaySearch, ess_scale: float, weight_decay: float, seed: int):
    """(ModularRun, run folder) of one grid point."""
    run = dataclasses.replace(mg.PRESETS[design.base], ess_scale=float(ess_scale), weight_decay=float(weight_decay),
                              seed=int(seed), **({} if design.steps is None else {"steps": design.steps}))
    return run, Path(design.root) / f"mod_ivonsearch_e{ess_scale:g}_wd{weight_decay:g}_s{seed}_{mg.config_id(run)}"


def point(design: IVONDelaySearch, ess_scale: float, weight_decay: float, seed: int) -> dict:
    """Train (or resume, or read) one search run and time its memorisation and grokking.

    Returns
    -------
    dict
        ``memorisation_time``, ``grokking_time``, ``delay`` (steps; nan where an event did not
        happen), ``delay_intervals``, ``final_train_acc``, ``final_test_acc``, ``qualified``
        (delay >= min_delay intervals and final test accuracy >= min_test_acc), ``wall_time`` (s),
        ``run_dir``.
    """
    run, run_dir = search_run(design, ess_scale, weight_decay, seed)
    summary = mg.run_modular(run, run_dir, progress=False)
    rows = [r for r in read_metrics(run_dir) if "test_acc" in r]
    if not rows:
        raise ValueError(f"run_dir: {run_dir} has no evaluated metrics rows (train_acc, test_acc)")
    steps = [r["step"] for r in rows]
    ds = modular_dataset(run.p, run.op, run.frac, seed=run.seed, split=run.split, k=run.k, offset=run.offset)
    chance = 1.0 / run.p
    noise = tuple(3.0 * math.sqrt(chance * (1.0 - chance) / len(ds.split(s)[1])) for s in ("train", "test"))
    times = event_times(steps, [r["train_acc"] for r in rows], [r["test_acc"] for r in rows], chance,
                        min_gain=noise)
    delay = times["delay"]
    final_test = float(rows[-1]["test_acc"])
    intervals = math.nan if delay is None else delay / run.log_every
    nan = lambda x: math.nan if x is None else float(x)  # noqa: E731
    return {"memorisation_time": nan(times["memorisation_time"]), "grokking_time": nan(times["grokking_time"]),
            "delay": nan(delay), "delay_intervals": intervals, "final_train_acc": float(rows[-1]["train_acc"]),
            "final_test_acc": final_test,
            "qualified": bool(delay is not None and intervals >= design.min_delay and final_test >= design.min_test_acc),
            "wall_time": float(summary["wall_time"]), "run_dir": str(run_dir)}


def search(design: IVONDelaySearch = IVONDelaySearch(), grid: dict | None = None, *, executor=None, progress=None):
    """Every run of the search grid (default :data:`GRID`) through ``grokphase.sweep.run_sweep``.

    Returns
    -------
    xarray.Dataset
        :func:`point`'s results over (ess_scale, weight_decay, seed).
    """
    g = GRID if grid is None else grid
    return run_sweep(point, Grid.product(**{k: list(v) for k, v in g.items()}), design=design, executor=executor,
                     progress=progress)
