"""The uncertainty study's runs (``docs/icl_grokking.md`` §4-§5): which presets, where their folders
are, and one call each to train a run and to evaluate every run of a task.

Tasks: 'modular' (addition mod 97, train fraction 0.4; presets ``grok97-adamw`` / ``grok97-ivon`` of
``modular_grokking``) and 'icl' (in-context arithmetic, p = 7; presets ``study-p7-adamw`` /
``study-p7-ivon`` of ``icl_training``).  Run folders: ``{root}/{mod|icl}_{optimizer}_s{seed}_{id}``
with ``id`` the run's configuration hash (``config_id``), so runs of other settings never share one.
In-context sweeps at the end of training (``context_noise_sweeps``): number of context examples
k = 0..n_ctx-1 and context-noise probability 0, 0.1, ..., 1 on ID-train and OOD-val (claims 3-4).
Task diversity x training fraction (``diversity_grid``, claim 1): AdamW runs of the study preset
with n_task and alpha changed (and the batch moved to the nearest multiple of T = 4 n_task), folders ``{root}/icl_div_T{4 n_task}_a{alpha}_s{seed}_{id}``, evaluated at
their last snapshot on the four splits.
Evaluation (``uncertainty_study.evaluate_snapshots``) is cached in each folder's uncertainty.json and
redone only when a newer snapshot exists.

Designs (run through ``grokphase.sweep.run_sweep``, so on any executor: serial, processes, Dask):
:class:`StudyTraining` + :func:`train_point` (one study run per (optimizer, seed); :func:`train_study`)
and :class:`DiversityGrid` + :func:`diversity_point` (one grid cell per (n_task, alpha, seed);
:func:`diversity_dataset`, :func:`diversity_grid`).  The run folders are their store.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from grokphase._checks import integer
from grokphase.sweep import Grid, run_sweep
from grokphase.validation.experiments import icl_training, modular_grokking
from grokphase.validation.experiments.uncertainty_study import (ESTIMATORS, evaluate_final, evaluate_snapshots,
                                                                 icl_setup, icl_sweep_sets, modular_setup,
                                                                 snapshot_files, summarise)
from grokphase.validation.tasks.icl import SPLITS

TASKS = {"modular": ("mod", modular_grokking, "grok97-{}", modular_grokking.run_modular, modular_setup),
         "icl": ("icl", icl_training, "study-p7-{}", icl_training.run_icl, icl_setup)}
OPTIMIZERS = ("adamw", "ivon")


def _task(task: str):
    if task not in TASKS:
        raise ValueError(f"task must be one of {tuple(TASKS)}, got {task!r}")
    return TASKS[task]


def study_run(task: str, optimizer: str, seed: int, root="runs/study", *, steps: int | None = None):
    """(run config, run folder) of one study run (``steps``: another length than the preset's)."""
    prefix, module, name, _, _ = _task(task)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    run = dataclasses.replace(module.PRESETS[name.format(optimizer)], seed=seed)
    if steps is not None:
        run = dataclasses.replace(run, steps=steps)
    return run, Path(root) / f"{prefix}_{optimizer}_s{seed}_{module.config_id(run)}"


def train_study_run(task: str, optimizer: str, seed: int, root="runs/study", *, steps: int | None = None,
                    progress: bool | None = None) -> dict:
    """Train (resumable) and return the run summary.  ``steps`` changes the preset's length: a longer
    mod-p run extends the preset's run (its schedule is constant after warm-up); an in-context run
    decays its learning rate over its steps, so another length is another run (its own folder)."""
    run, run_dir = study_run(task, optimizer, seed, root, steps=steps)
    return _task(task)[3](run, run_dir, progress=progress)


EVALUATION = {"modular": {"samples": 16, "every": 2}, "icl": {"samples": 8, "every": 3}}


def evaluate_study(task: str, seeds=(0, 1, 2), root="runs/study", *, samples: int | None = None,
                   every: int | None = None) -> dict:
    """Trajectories and summaries of every study run of ``task`` that has snapshots:
    {"task", "runs": [{"optimizer", "seed", "run", "summary", "trajectory"}]}.  samples / every:
    posterior samples and snapshot stride (defaults ``EVALUATION[task]``: 16 / 2 for mod 97, whose
    evaluation sets are smaller; 8 / 3 in-context, whose 5 sets of 64 sequences x all tasks of the split
    (2,560 / 576 prompts on the ID / OOD splits at T = 40) cost more);
    cached results are reused only when computed with the same settings."""
    samples = EVALUATION[task]["samples"] if samples is None else samples
    every = EVALUATION[task]["every"] if every is None else every
    setup_fn = _task(task)[4]
    out = []
    for opt in OPTIMIZERS:
        for seed in seeds:
            run, run_dir = study_run(task, opt, seed, root)
            if not (run_dir / "snapshots").exists():
                continue
            setup = setup_fn(run)
            cache = run_dir / "uncertainty.json"
            try:
                stored = json.loads(cache.read_text()) if cache.exists() else None
            except ValueError:       # a damaged cache is recomputed (and rewritten atomically)
                stored = None
            if (isinstance(stored, dict) and (stored["samples"], stored["every"], stored["seed"]) == (samples, every, seed)
                    and cache.stat().st_mtime > snapshot_files(run_dir)[-1].stat().st_mtime):
                rows = stored["rows"]
            else:
                rows = evaluate_snapshots(setup, run_dir, samples=samples, every=every, seed=seed)
            out.append({"optimizer": opt, "seed": seed, "run": dataclasses.asdict(run),
                        "summary": summarise(rows, setup), "trajectory": rows})
    return {"task": task, "runs": out}


NOISES = tuple(round(0.1 * i, 1) for i in range(11))


def context_noise_sweeps(seeds=(0, 1, 2), root="runs/study", *, samples: int = 8, n_seqs: int = 64, ks=None,
                         noises=NOISES) -> dict:
    """{"runs": [{"optimizer", "seed", "step", "sets": {"{split}/k{k}" | "{split}/noise{p}": {acc,
    estimator: {tu, au, eu, acc}}}}]} for every in-context study run with snapshots (each set n_seqs
    >= 64 fresh input sequences x all tasks of its split; ks: context examples, default 0..n_ctx-1;
    noises: context-noise probabilities, default NOISES)."""
    out = []
    for opt in OPTIMIZERS:
        for seed in seeds:
            run, run_dir = study_run("icl", opt, seed, root)
            if not (run_dir / "snapshots").exists():
                continue
            sets = icl_sweep_sets(run, ks=range(run.n_ctx) if ks is None else ks, noises=noises, n_seqs=n_seqs)
            res = evaluate_final(icl_setup(run), run_dir, sets, samples=samples, seed=seed)
            out.append({"optimizer": opt, "seed": seed, "step": res.pop("step"), "sets": res})
    return {"runs": out}


def diversity_run(n_task: int, alpha: float, seed: int, root="runs/study", *, steps: int = 6000):
    """(run config, folder) of one task-diversity grid run (AdamW study preset, n_task, alpha, steps).
    The batch is the multiple r T of T = 4 n_task nearest the preset's (r >= 1; 120 for every T of the
    default grid, 8, 24 and 40), as the balanced layout needs."""
    run, _ = study_run("icl", "adamw", seed, root)
    n_task = integer("n_task", n_task, 1)
    T = 4 * n_task
    run = dataclasses.replace(run, n_task=n_task, alpha=alpha, steps=steps, batch=T * max(1, round(run.batch / T)))
    return run, Path(root) / f"icl_div_T{4 * n_task}_a{alpha:g}_s{seed}_{icl_training.config_id(run)}"


@dataclass(frozen=True)
class StudyTraining:
    """Design: the study's training runs of ``task`` ('modular' or 'icl'), one run per grid point
    (``optimizer``, ``seed``) of :func:`train_point`, in run folders under ``root``.

    ``steps``: another length than the presets' (None: theirs).  The run folders are the store:
    each holds its configuration and checkpoint, so a sweep rerun resumes unfinished runs and only
    reads finished ones (no second cache that could go stale)."""

    task: str = "modular"
    steps: int | None = None
    root: str = "runs/study"

    def __post_init__(self):
        _task(self.task)
        if self.steps is not None:
            integer("steps", self.steps, 1)


def train_point(design: StudyTraining, optimizer: str, seed: int) -> dict:
    """Train (or resume, or read) one study run; its length, wall time, configuration hash and the
    final logged metrics (numbers only)."""
    s = train_study_run(design.task, optimizer, seed, design.root, steps=design.steps, progress=False)
    final = {f"final_{k}": float(v) for k, v in s["final"].items()
             if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("step", "time")}
    return {"steps": s["steps"], "wall_time": s["wall_time"], "config_hash": s["config_hash"], **final}


def train_study(task: str, seeds=(0, 1, 2), root="runs/study", *, steps: int | None = None,
                optimizers=OPTIMIZERS, executor=None, progress: bool | None = None):
    """Every study run of ``task`` (``optimizers`` x ``seeds``) through ``grokphase.sweep.run_sweep``
    (``executor``: serial, a concurrent.futures executor or Dask; see there): an xarray Dataset over
    (optimizer, seed) of :func:`train_point`'s results."""
    return run_sweep(train_point, Grid.product(optimizer=list(optimizers), seed=list(seeds)),
                     design=StudyTraining(task, steps, str(root)), executor=executor, progress=progress)


@dataclass(frozen=True)
class DiversityGrid:
    """Design: the task-diversity x training-fraction grid (:func:`diversity_point` at each
    (n_task, alpha, seed)): AdamW runs of the in-context study preset with ``steps`` steps in
    folders under ``root`` (:func:`diversity_run`), trained first when ``train``, evaluated at their
    last snapshot with ``samples`` posterior samples."""

    steps: int = 6000
    root: str = "runs/study"
    samples: int = 16
    train: bool = False

    def __post_init__(self):
        integer("steps", self.steps, 1)
        integer("samples", self.samples, 2)


_SETS = SPLITS + ("unlabeled",)


def diversity_point(design: DiversityGrid, n_task: int, alpha: float, seed: int) -> dict:
    """One grid cell: ``step`` of the evaluated snapshot (-1: no such run, values NaN), ``acc``
    (set) at the snapshot weights, and per estimator (set, estimator) ``tu``, ``au``, ``eu`` (nats)
    and ``pred_acc`` (posterior-predictive accuracy); NaN where an estimator does not apply."""
    import numpy as np
    import xarray as xr

    run, run_dir = diversity_run(n_task, alpha, seed, design.root, steps=design.steps)
    if design.train:
        icl_training.run_icl(run, run_dir, progress=False)
    res = {}
    if (run_dir / "summary.json").exists():
        setup = icl_setup(run)
        res = evaluate_final(setup, run_dir, setup.sets, samples=design.samples, seed=seed)
    coords = {"set": list(_SETS), "estimator": list(ESTIMATORS)}
    acc = [res.get(s, {}).get("acc", np.nan) for s in _SETS]
    q = {k: [[res.get(s, {}).get(e, {}).get(k, np.nan) for e in ESTIMATORS] for s in _SETS]
         for k in ("tu", "au", "eu", "acc")}
    out = {"step": res.get("step", -1), "acc": xr.DataArray(acc, dims="set", coords={"set": coords["set"]})}
    for k, v in q.items():
        out["pred_acc" if k == "acc" else k] = xr.DataArray(v, dims=("set", "estimator"), coords=coords)
    return out


def diversity_dataset(n_tasks=(2, 6, 10), alphas=(0.5, 0.8), seeds=(0,), root="runs/study", *, steps: int = 6000,
                      train: bool = False, samples: int = 16, executor=None, progress: bool | None = None):
    """:func:`diversity_point` over n_task x alpha x seed through ``grokphase.sweep.run_sweep``."""
    return run_sweep(diversity_point, Grid.product(n_task=list(n_tasks), alpha=list(alphas), seed=list(seeds)),
                     design=DiversityGrid(steps, str(root), samples, train), executor=executor, progress=progress)


def diversity_grid(n_tasks=(2, 6, 10), alphas=(0.5, 0.8), seed: int = 0, root="runs/study", *, steps: int = 6000,
                   train: bool = False, samples: int = 16, executor=None, progress: bool | None = None) -> dict:
    """The diversity grid as the figure's cells: {"cells": [{"T", "alpha", "seed", "step", "sets":
    {set: {"acc", estimator: {tu, au, eu, acc}}}}]} for the runs that exist (``train=True`` trains
    the missing ones first, resumably); from :func:`diversity_dataset`."""
    import math

    ds = diversity_dataset(n_tasks, alphas, (seed,), root, steps=steps, train=train, samples=samples,
                           executor=executor, progress=progress)
    cells = []
    for nt in ds.n_task.values.tolist():
        for a in ds.alpha.values.tolist():
            c = ds.sel(n_task=nt, alpha=a, seed=seed)
            if int(c.step) < 0:
                continue
            sets = {}
            for name in _SETS:
                x = c.sel(set=name)
                entry = {} if math.isnan(float(x.acc)) else {"acc": float(x.acc)}
                for e in ESTIMATORS:
                    q = {k: float(x[v].sel(estimator=e)) for k, v in (("tu", "tu"), ("au", "au"), ("eu", "eu"),
                                                                       ("acc", "pred_acc"))}
                    if not math.isnan(q["eu"]):
                        entry[e] = {k: v for k, v in q.items() if not (k == "acc" and math.isnan(v))}
                sets[name] = entry
            cells.append({"T": 4 * nt, "alpha": a, "seed": seed, "step": int(c.step), "sets": sets})
    return {"cells": cells}


def run_full_study(root="runs/study", seeds=(0, 1, 2), *, executor=None, progress: bool | None = None) -> None:
    """Everything the study's figures read (resumable; about 5 CPU-hours on one core, less on an
    ``executor`` with several workers): the mod-97 and in-context runs for both optimisers and all
    seeds (:func:`train_study`), and the task-diversity grid (:func:`diversity_grid`, trained).
    ``grokphase figs`` then evaluates (cached) and draws."""
    for task in TASKS:
        train_study(task, seeds, root, executor=executor, progress=progress)
    diversity_grid(alphas=(0.5, 0.8), root=root, train=True, executor=executor, progress=progress)
