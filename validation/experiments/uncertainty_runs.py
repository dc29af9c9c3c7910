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
Designs (run through ``grokphase.sweep.run_sweep``, so on any executor: serial, processes, Dask):

- :class:`StudyTraining` + :func:`train_point`: one study run per (optimizer, seed)
  (:func:`train_study`); the run folders are its store;
- :class:`StudyEvaluation` + :func:`evaluation_point`: the posteriors at one snapshot of one run,
  per (optimizer, seed, run_id, step) along the dimension ``snapshot`` (:func:`study_dataset`,
  :func:`evaluate_study`);
- :class:`ContextSweeps` + :func:`context_point`: the context-length and context-noise sweeps at
  the last snapshot of one in-context run, per (optimizer, seed, run_id, step) along ``run``
  (:func:`context_noise_dataset`, :func:`context_noise_sweeps`);
- :class:`DiversityGrid` + :func:`diversity_point`: one grid cell per (n_task, alpha, seed)
  (:func:`diversity_dataset`, :func:`diversity_grid`).

The evaluations are stored point by point (``grokphase.sweep.store``) in
``{root}/sweeps/{name}-{key}``, ``key`` the hash of the design (task, root, posterior samples,
SWAG window, ...; see ``sweep_identity``): a rerun with the same settings reads its points back,
other settings are another store.  Within a store a point is keyed by its run's configuration hash
and snapshot step, so a run trained further (a newer last snapshot) or retrained with another
configuration gives new points, never a stale reuse.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from grokphase._checks import choice, integer
from grokphase.sweep import Grid, run_sweep
from grokphase.sweep.design import OMIT_DEFAULT, design_from_config
from grokphase.sweep.store import identity_key, sweep_identity
from grokphase.validation.experiments import icl_training, modular_grokking
from grokphase.validation.experiments.uncertainty_study import (evaluate_final, evaluated, file_step,
                                                                 icl_setup, icl_sweep_sets, modular_setup,
                                                                 result_arrays, result_entries, snapshot_files,
                                                                 snapshot_row, snapshot_window, summarise)
from grokphase.validation.tasks.icl import SPLITS

TASKS = {"modular": ("mod", modular_grokking, "grok97-{}", modular_grokking.run_modular, modular_setup),
         "icl": ("icl", icl_training, "study-p7-{}", icl_training.run_icl, icl_setup)}
OPTIMIZERS = ("adamw", "ivon")


def _task(task: str):
    if task not in TASKS:
        raise ValueError(f"task must be one of {tuple(TASKS)}, got {task!r}")
    return TASKS[task]


def study_run(task: str, optimizer: str, seed: int, root="runs/study", *, steps: int | None = None):
    """One study run's configuration and folder.

    Parameters
    ----------
    task : str
        'modular' or 'icl'.
    optimizer : str
        'adamw' or 'ivon'.
    seed : int
    root : path-like
        Parent folder of the run folders.
    steps : int, optional
        Another length than the preset's.

    Returns
    -------
    (ModularRun or ICLRun, pathlib.Path)
        The run and its folder ``{root}/{mod|icl}_{optimizer}_s{seed}_{config_id}``.
    """
    prefix, module, name, _, _ = _task(task)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    run = dataclasses.replace(module.PRESETS[name.format(optimizer)], seed=seed)
    if steps is not None:
        run = dataclasses.replace(run, steps=steps)
    return run, Path(root) / f"{prefix}_{optimizer}_s{seed}_{module.config_id(run)}"


def source_run(task: str, run_dir):
    """The run configuration recorded in a run folder (``config.json``), checked against its hash.

    Parameters
    ----------
    task : str
        'modular' or 'icl'.
    run_dir : path-like
        A run folder of that task (any preset, e.g. a study run, an ensemble member, a dropout run).

    Returns
    -------
    (ModularRun or ICLRun, str)
        The run (its ``steps`` the recorded length) and its configuration hash.
    """
    _, module, _, _, _ = _task(task)
    path = Path(run_dir) / "config.json"
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        cls = type(next(iter(module.PRESETS.values())))
        run = design_from_config(cls, {**rec["config"]["run"], "steps": rec["steps"]})
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: cannot read the run's configuration ({e}); is {run_dir} a {task} run folder?") from e
    if module.config_id(run) != rec["config_hash"]:
        raise ValueError(f"{path}: the recorded configuration hashes to {module.config_id(run)}, the file says "
                         f"{rec['config_hash']}")
    return run, rec["config_hash"]


def train_study_run(task: str, optimizer: str, seed: int, root="runs/study", *, steps: int | None = None,
                    progress: bool | None = None) -> dict:
    """Train one study run (resumable) and return its summary.

    Parameters
    ----------
    task, optimizer, seed, root
        As for :func:`study_run`.
    steps : int, optional
        Another length than the preset's: a longer mod-p run extends the preset's run (its schedule
        is constant after warm-up); an in-context run decays its learning rate over its steps, so
        another length is another run (its own folder).
    progress : bool, optional
        tqdm bar over the steps (None: only on a terminal).

    Returns
    -------
    dict
        The training summary (``validation.training.train``): steps, wall time, configuration hash,
        final metrics, run configuration.
    """
    run, run_dir = study_run(task, optimizer, seed, root, steps=steps)
    return _task(task)[3](run, run_dir, progress=progress)


EVALUATION = {"modular": {"samples": 16, "every": 2}, "icl": {"samples": 8, "every": 3}}

#: CF labels of the evaluation results and of the grid coordinates (shared by the designs below).
LABELS = {
    "acc": {"long_name": "accuracy at the snapshot weights", "units": "1"},
    "pred_acc": {"long_name": "posterior-predictive accuracy", "units": "1"},
    "tu": {"long_name": "total uncertainty TU (entropy of the mean predictive), mean over the set", "units": "nat"},
    "au": {"long_name": "aleatoric uncertainty AU (mean entropy of the sampled predictives)", "units": "nat"},
    "eu": {"long_name": "epistemic uncertainty EU = TU - AU (mutual information)", "units": "nat"},
    "optimizer": {"long_name": "optimiser of the training run"},
    "seed": {"long_name": "seed of the training run (and of the posterior draws)"},
    "run_id": {"long_name": "configuration hash of the run (suffix of its folder name)"},
    "step": {"long_name": "optimiser step of the evaluated snapshot", "units": "1"},
    "set": {"long_name": "evaluation set"},
    "estimator": {"long_name": "posterior (ivon: IVON q; laplace: last-layer Laplace, evidence prior; "
                               "laplace_wd: prior = weight decay; swag: moving-window SWAG)"},
    "split": {"long_name": "prompt split"},
    "k": {"long_name": "context examples before the query", "units": "1"},
    "p_noise": {"long_name": "probability that a context label is replaced by a uniform token", "units": "1"},
    "n_task": {"long_name": "base tasks (T = 4 n_task)", "units": "1"},
    "alpha": {"long_name": "training fraction of the input pairs", "units": "1"},
}


def _labels(*suffixes: str) -> dict:
    """:data:`LABELS` with the result variables also under ``name + suffix``."""
    out = dict(LABELS)
    for sfx in suffixes:
        out |= {k + sfx: v for k, v in LABELS.items() if k in ("acc", "pred_acc", "tu", "au", "eu")}
    return out


def _store(root, name: str, point, design, store):
    """The store folder of a sweep: ``{root}/sweeps/{name}-{key}`` for ``store=True`` (``key``: 8 hex
    digits of the design, its VERSION and the point function), None for False/None, else ``store``."""
    if store is True:
        return Path(root) / "sweeps" / f"{name}-{identity_key(sweep_identity(point, design), 8)}"
    return None if store is None or store is False else Path(store)


def _with_snapshots(find, optimizers, seeds) -> list[tuple[str, int, object, Path]]:
    """(optimizer, seed, run config, run folder) of the runs ``find(optimizer, seed)`` -> (run,
    folder) that have snapshots."""
    out = []
    for opt in optimizers:
        for seed in seeds:
            run, run_dir = find(opt, seed)
            if (run_dir / "snapshots").exists():
                out.append((opt, int(seed), run, run_dir))
    return out


def _runs_with_snapshots(task: str, seeds, root) -> list[tuple[str, int, object, Path]]:
    """(optimizer, seed, run config, run folder) of the study runs of ``task`` that have snapshots."""
    return _with_snapshots(lambda opt, seed: study_run(task, opt, seed, root), OPTIMIZERS, seeds)


def _run_id(run_dir: Path) -> str:
    return run_dir.name.rsplit("_", 1)[1]


def _checked(found, label: str, run_id: str):
    """(run, folder) ``found``, checked against the configuration hash the grid point was made for."""
    run, run_dir = found
    if _run_id(run_dir) != run_id:
        raise ValueError(f"run {label}: the configuration hash is {_run_id(run_dir)}, the grid point's {run_id}")
    return run, run_dir


def _study_run_checked(task: str, optimizer: str, seed: int, root, run_id: str):
    """study_run, checked against the configuration hash the grid point was made for."""
    return _checked(study_run(task, optimizer, seed, root), f"{task}/{optimizer}/seed {seed}", run_id)


@functools.lru_cache(maxsize=8)
def _setup(task: str, run):
    """The run's StudySetup (evaluation sets, Laplace inputs), once per process and run."""
    return _task(task)[4](run)


@dataclass(frozen=True)
class StudyEvaluation:
    """Design: posteriors (IVON, last-layer Laplace, SWAG) at the snapshots of the study's runs of
    ``task`` under ``root`` (:func:`evaluation_point`), ``samples`` posterior samples per estimator,
    SWAG fitted on the last ``swag_window`` snapshots up to the evaluated one."""

    task: str = "modular"
    root: str = "runs/study"
    samples: int = 16
    swag_window: int = 8

    VERSION: ClassVar[int] = 1
    LABELS: ClassVar[dict] = LABELS

    def __post_init__(self):
        _task(self.task)
        integer("samples", self.samples, 2)
        integer("swag_window", self.swag_window, 1)


def evaluation_point(design: StudyEvaluation, optimizer: str, seed: int, run_id: str, step: int) -> dict:
    """The posteriors at the snapshot ``step`` of one study run (``uncertainty_study.snapshot_row``).

    Parameters
    ----------
    design : StudyEvaluation
    optimizer : str
        'adamw' or 'ivon'.
    seed : int
        The run's seed (also the seed of the posterior draws, with ``step``).
    run_id : str
        The run's configuration hash (checked against the preset's).
    step : int
        The snapshot's step.

    Returns
    -------
    dict of str -> xarray.DataArray
        ``acc`` (set,) and ``tu``, ``au``, ``eu``, ``pred_acc`` (set, estimator); see
        ``uncertainty_study.result_arrays``.
    """
    run, run_dir = _study_run_checked(design.task, optimizer, seed, design.root, run_id)
    setup = _setup(design.task, run)
    row = snapshot_row(setup, snapshot_window(run_dir, step, design.swag_window), samples=design.samples, seed=seed)
    names = list(setup.sets)
    return result_arrays(row, names, ("set",), {"set": names})


def _study_sweep(task: str, runs, root, *, samples: int, every: int, swag_window: int, executor, progress, store):
    rows = [(opt, seed, _run_id(run_dir), file_step(files[i]))
            for opt, seed, _, run_dir in runs
            for files in [snapshot_files(run_dir)] for i in evaluated(len(files), every)]
    design = StudyEvaluation(task, str(root), samples, swag_window)
    grid = Grid.zip(dim="snapshot", **{k: [r[j] for r in rows] for j, k in
                                       enumerate(("optimizer", "seed", "run_id", "step"))})
    return run_sweep(evaluation_point, grid, design=design, store=_store(root, f"evaluate_{task}", evaluation_point,
                                                                         design, store),
                     executor=executor, progress=progress)


def _defaults(task: str, samples, every) -> tuple[int, int]:
    _task(task)
    samples = EVALUATION[task]["samples"] if samples is None else integer("samples", samples, 2)
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ValueError(f"every must be an integer >= 1 (evaluate every k-th snapshot), got {every!r}")
    return samples, EVALUATION[task]["every"] if every is None else every


def study_dataset(task: str, seeds=(0, 1, 2), root="runs/study", *, samples: int | None = None,
                  every: int | None = None, swag_window: int = 8, executor=None, progress: bool | None = None,
                  store=True):
    """The posteriors at every ``every``-th (and the last) snapshot of every study run of ``task``
    that has snapshots, through ``grokphase.sweep.run_sweep``.

    Parameters
    ----------
    task : str
        'modular' or 'icl'.
    seeds : sequence of int
        Seeds of the runs (both optimisers each).
    root : path-like
        Parent folder of the run folders.
    samples, every : int, optional
        Posterior samples per estimator (>= 2) and snapshot stride (>= 1); defaults
        ``EVALUATION[task]``.
    swag_window : int
        Snapshots SWAG is fitted on.
    executor, progress
        As for ``grokphase.sweep.run_sweep`` (serial, concurrent.futures, Dask; tqdm bar).
    store : bool or path-like
        True: the store ``{root}/sweeps/evaluate_{task}-{key}`` (module docstring); False: none;
        a path: that store folder (refused if made with other settings).

    Returns
    -------
    xarray.Dataset or None
        Over ``snapshot`` (coordinates optimizer, seed, run_id, step) x ``set`` [x ``estimator``]:
        ``acc``, ``tu``, ``au``, ``eu``, ``pred_acc`` (CF labels); None when no run has snapshots.
    """
    samples, every = _defaults(task, samples, every)
    runs = _runs_with_snapshots(task, seeds, root)
    if not runs:
        return None
    return _study_sweep(task, runs, root, samples=samples, every=every, swag_window=swag_window, executor=executor,
                        progress=progress, store=store)


def evaluate_study(task: str, seeds=(0, 1, 2), root="runs/study", *, samples: int | None = None,
                   every: int | None = None, swag_window: int = 8, executor=None, progress: bool | None = None,
                   store=True) -> dict:
    """Trajectories and summaries of every study run of ``task`` that has snapshots, from
    :func:`study_dataset`.

    Parameters
    ----------
    task : str
        'modular' or 'icl'.
    seeds : sequence of int
        Seeds of the runs (both optimisers each).
    root : path-like
        Parent folder of the run folders.
    samples, every : int, optional
        Posterior samples per estimator (>= 2) and snapshot stride (>= 1); defaults
        ``EVALUATION[task]``: 16 / 2 for mod 97, whose evaluation sets are smaller; 8 / 3
        in-context, whose 5 sets of 64 sequences x all tasks of the split (2,560 / 576 prompts on
        the ID / OOD splits at T = 40) cost more.
    swag_window : int
        Snapshots SWAG is fitted on.
    executor, progress
        As for ``grokphase.sweep.run_sweep``.
    store : bool or path-like
        As for :func:`study_dataset`: stored points are reused only when computed with the same
        settings, run configuration and snapshot (module docstring).

    Returns
    -------
    dict
        ``{"task", "runs": [{"optimizer", "seed", "run", "summary", "trajectory"}]}``: ``run`` the
        run's configuration, ``trajectory`` one ``uncertainty_study.snapshot_row`` per evaluated
        snapshot, ``summary`` from ``uncertainty_study.summarise``.
    """
    samples, every = _defaults(task, samples, every)
    runs = _runs_with_snapshots(task, seeds, root)
    if not runs:
        return {"task": task, "runs": []}
    ds = _study_sweep(task, runs, root, samples=samples, every=every, swag_window=swag_window, executor=executor,
                      progress=progress, store=store)
    opts, run_seeds = ds.optimizer.values, ds.seed.values
    out = []
    for opt, seed, run, _ in runs:
        sel = ds.isel(snapshot=np.flatnonzero((opts == opt) & (run_seeds == seed)))
        names = sel.set.values.tolist()
        rows = [{"step": int(sel.step.values[j]), **result_entries(sel.isel(snapshot=j), names, ("set",))}
                for j in range(sel.sizes["snapshot"])]
        out.append({"optimizer": opt, "seed": seed, "run": dataclasses.asdict(run),
                    "summary": summarise(rows, _setup(task, run)), "trajectory": rows})
    return {"task": task, "runs": out}


NOISES = tuple(round(0.1 * i, 1) for i in range(11))
SWEEP_SPLITS = ("id_train", "ood_val")


@dataclass(frozen=True)
class ContextSweeps:
    """Design: accuracy and TU/AU/EU at the last snapshot of an in-context run under ``root``
    (:func:`context_point`) against the number of context examples ``ks`` (None: 0..n_ctx-1) and
    the context-noise probabilities ``noises``, on ``n_seqs`` (>= 64) fresh input sequences x all
    tasks per set of each split of ``splits``, ``samples`` posterior samples per estimator,
    SWAG from the last ``swag_window`` snapshots.

    ``base`` (:data:`CONTEXT_BASES`) says which runs: 'study' - the in-context study runs (both
    optimisers; ``steps`` must stay None); 'positive-control' - the AdamW runs of the
    positive-control settings at T = 40, alpha 0.6 with snapshots (:func:`diversity_run` with n_task
    10 and ``steps``; None is resolved to the preset's 45,000), the runs that learn in context.
    ``splits``: distinct prompt splits, at least one."""

    root: str = "runs/study"
    samples: int = 8
    n_seqs: int = 64
    swag_window: int = 8
    ks: tuple[int, ...] | None = None
    noises: tuple[float, ...] = NOISES
    base: str = dataclasses.field(default="study", metadata={OMIT_DEFAULT: True})
    steps: int | None = dataclasses.field(default=None, metadata={OMIT_DEFAULT: True})
    splits: tuple[str, ...] = dataclasses.field(default=SWEEP_SPLITS, metadata={OMIT_DEFAULT: True})

    VERSION: ClassVar[int] = 1
    LABELS: ClassVar[dict] = _labels("_k", "_noise")

    def __post_init__(self):
        integer("samples", self.samples, 2)
        integer("n_seqs", self.n_seqs, 64, note="fresh input sequences per set (x all tasks of the split)")
        integer("swag_window", self.swag_window, 1)
        choice("base", self.base, CONTEXT_BASES)
        if self.base == "study":
            if self.steps is not None:
                raise ValueError(f"steps applies only to base='positive-control' (the study runs are the "
                                 f"presets'); got steps={self.steps!r}")
        else:
            steps = icl_training.PRESETS["positive-control"].steps if self.steps is None else self.steps
            object.__setattr__(self, "steps", integer("steps", steps, 1))
        object.__setattr__(self, "splits", tuple(self.splits))
        for sp in self.splits:
            choice("splits", sp, SPLITS)
        if not self.splits or len(set(self.splits)) != len(self.splits):
            raise ValueError(f"splits must be distinct prompt splits of {SPLITS}, at least one; got {self.splits!r}")

POSITIVE_CONTROL_N_TASK, POSITIVE_CONTROL_ALPHA = 10, 0.6
"""The positive control's grid cell: T = 40 tasks, training fraction 0.6."""


def _context_run(design: ContextSweeps, optimizer: str, seed: int):
    """(run, run folder) of one run the context sweeps read."""
    if design.base == "study":
        return study_run("icl", optimizer, seed, design.root)
    if optimizer != "adamw":
        raise ValueError(f"optimizer must be 'adamw' for the positive-control runs, got {optimizer!r}")
    return diversity_run(POSITIVE_CONTROL_N_TASK, POSITIVE_CONTROL_ALPHA, seed, design.root, steps=design.steps,
                         base="positive-control")


def _context_runs(design: ContextSweeps, seeds) -> list[tuple[str, int, object, Path]]:
    """(optimizer, seed, run, run folder) of the runs of ``design`` that have snapshots."""
    return _with_snapshots(lambda opt, seed: _context_run(design, opt, seed),
                           OPTIMIZERS if design.base == "study" else ("adamw",), seeds)


def _sweep_names(ks, noises, splits=SWEEP_SPLITS) -> tuple[np.ndarray, np.ndarray]:
    """Set names (split, k) and (split, p_noise) of ``uncertainty_study.icl_sweep_sets``."""
    return (np.array([[f"{sp}/k{k}" for k in ks] for sp in splits], dtype=object),
            np.array([[f"{sp}/noise{p:g}" for p in noises] for sp in splits], dtype=object))


def context_point(design: ContextSweeps, optimizer: str, seed: int, run_id: str, step: int) -> dict:
    """The context-length and context-noise sweeps of one in-context run at its last snapshot,
    which must be ``step`` (``uncertainty_study.evaluate_final`` on ``icl_sweep_sets``).

    Parameters
    ----------
    design : ContextSweeps
    optimizer : str
        'adamw' or 'ivon' ('adamw' only for the positive-control runs).
    seed : int
        The run's seed (also of the posterior draws).
    run_id : str
        The run's configuration hash (checked).
    step : int
        Step of the run's last snapshot (checked).

    Returns
    -------
    dict of str -> xarray.DataArray
        ``acc_k`` (split, k), ``tu_k``, ``au_k``, ``eu_k``, ``pred_acc_k`` (split, k, estimator);
        the same with suffix ``_noise`` over (split, p_noise[, estimator]).
    """
    run, run_dir = _checked(_context_run(design, optimizer, seed), f"{design.base} icl/{optimizer}/seed {seed}",
                            run_id)
    ks = list(range(run.n_ctx)) if design.ks is None else list(design.ks)
    noises = list(design.noises)
    splits = list(design.splits)
    sets = icl_sweep_sets(run, splits=splits, ks=ks, noises=noises, n_seqs=design.n_seqs)
    res = evaluate_final(_setup("icl", run), run_dir, sets, samples=design.samples, swag_window=design.swag_window,
                         seed=seed)
    if res["step"] != step:
        raise ValueError(f"{run_dir}: the last snapshot is at step {res['step']}, the grid point's at {step}")
    kn, nn = _sweep_names(ks, noises, splits)
    return {**result_arrays(res, kn, ("split", "k"), {"split": splits, "k": ks}, "_k"),
            **result_arrays(res, nn, ("split", "p_noise"), {"split": splits, "p_noise": noises},
                            "_noise")}


def context_noise_dataset(seeds=(0, 1, 2), root="runs/study", *, samples: int = 8, n_seqs: int = 64, ks=None,
                          noises=NOISES, base: str = "study", steps: int | None = None, splits=SWEEP_SPLITS,
                          executor=None, progress: bool | None = None, store=True):
    """:func:`context_point` for every in-context run of ``base`` with snapshots, through
    ``grokphase.sweep.run_sweep``.

    Parameters
    ----------
    seeds : sequence of int
        Seeds of the runs (both optimisers each for the study runs).
    root : path-like
        Parent folder of the run folders.
    samples : int
        Posterior samples per estimator (>= 2).
    n_seqs : int
        Fresh input sequences per set (>= 64), each with every task of the split.
    ks : sequence of int, optional
        Context examples (default 0..n_ctx-1).
    noises : sequence of float
        Context-noise probabilities (default ``NOISES``).
    base : str
        'study' or 'positive-control' (:class:`ContextSweeps`).
    steps : int, optional
        Steps of the positive-control runs (None: the preset's; must be None for the study runs).
    splits : sequence of str
        Prompt splits swept (default ``SWEEP_SPLITS``).
    executor, progress
        As for ``grokphase.sweep.run_sweep``.
    store : bool or path-like
        True: ``{root}/sweeps/context_sweeps-{key}``; False: none; a path: that store.

    Returns
    -------
    xarray.Dataset or None
        Over ``run`` (coordinates optimizer, seed, run_id, step) x split x k / p_noise [x estimator]
        (CF labels); None when no such run has snapshots.
    """
    design = ContextSweeps(str(root), samples, n_seqs, ks=None if ks is None else tuple(int(k) for k in ks),
                           noises=tuple(float(x) for x in noises), base=base, steps=steps, splits=tuple(splits))
    runs = _context_runs(design, seeds)
    if not runs:
        return None
    grid = Grid.zip(dim="run", optimizer=[r[0] for r in runs], seed=[r[1] for r in runs],
                    run_id=[_run_id(r[3]) for r in runs], step=[file_step(snapshot_files(r[3])[-1]) for r in runs])
    return run_sweep(context_point, grid, design=design, store=_store(root, "context_sweeps", context_point, design,
                                                                      store),
                     executor=executor, progress=progress)


def context_noise_sweeps(seeds=(0, 1, 2), root="runs/study", *, samples: int = 8, n_seqs: int = 64, ks=None,
                         noises=NOISES, base: str = "study", steps: int | None = None, splits=SWEEP_SPLITS,
                         executor=None, progress: bool | None = None, store=True) -> dict:
    """The sweeps of :func:`context_noise_dataset` as the figure's JSON.

    Parameters
    ----------
    seeds, root, samples, n_seqs, ks, noises, base, steps, splits, executor, progress, store
        As for :func:`context_noise_dataset`.

    Returns
    -------
    dict
        ``{"runs": [{"optimizer", "seed", "step", "sets": {"{split}/k{k}" | "{split}/noise{p:g}":
        {"acc", estimator: {"tu", "au", "eu", "acc"}}}}]}`` (estimators that apply only).
    """
    ds = context_noise_dataset(seeds, root, samples=samples, n_seqs=n_seqs, ks=ks, noises=noises, base=base,
                               steps=steps, splits=splits, executor=executor, progress=progress, store=store)
    if ds is None:
        return {"runs": []}
    kn, nn = _sweep_names(ds.k.values.tolist(), ds.p_noise.values.tolist(), ds.split.values.tolist())
    out = []
    for j in range(ds.sizes["run"]):
        c = ds.isel(run=j)
        sets = {**result_entries(c, kn, ("split", "k"), "_k"), **result_entries(c, nn, ("split", "p_noise"), "_noise")}
        out.append({"optimizer": str(c.optimizer.values), "seed": int(c.seed), "step": int(c.step), "sets": sets})
    return {"runs": out}


DIVERSITY_BASES = ("study", "positive-control", "positive-control-p11")
"""Presets a diversity grid varies: the in-context AdamW study preset (``study-p7-adamw``),
``positive-control`` (p = 7: the settings that learn in context) or ``positive-control-p11``
(the same at p = 11, n_ctx 16; ``icl_training.PRESETS``), the latter two with snapshots on so that
the posteriors apply at the end."""
CONTEXT_BASES = ("study", "positive-control")
"""The runs the context sweeps read: the study runs or the p = 7 positive control (T = 40)."""


def diversity_run(n_task: int, alpha: float, seed: int, root="runs/study", *, steps: int = 6000,
                  base: str = "study"):
    """One task-diversity grid run: the preset ``base`` (:data:`DIVERSITY_BASES`) with n_task, alpha,
    seed and steps changed.

    Parameters
    ----------
    n_task : int
        Base tasks (T = 4 n_task).
    alpha : float
        Training fraction of the input pairs.
    seed : int
    root : path-like
    steps : int
    base : str
        'study', 'positive-control' or 'positive-control-p11'.

    Returns
    -------
    (ICLRun, pathlib.Path)
        The run and its folder ``{root}/icl_div_T{4 n_task}_a{alpha:g}_s{seed}_{config_id}``; the
        batch is the multiple of T nearest to the preset's (every task once per input sequence).
    """
    choice("base", base, DIVERSITY_BASES)
    if base == "study":
        run, _ = study_run("icl", "adamw", seed, root)
    else:
        run = dataclasses.replace(icl_training.PRESETS[base], seed=seed, snapshots=True)
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
    """Train (or resume, or read) one study run.

    Parameters
    ----------
    design : StudyTraining
    optimizer : str
        'adamw' or 'ivon'.
    seed : int

    Returns
    -------
    dict
        ``steps``, ``wall_time`` (s), ``config_hash`` and ``final_<metric>`` for the final logged
        numeric metrics.
    """
    return training_point_result(train_study_run(design.task, optimizer, seed, design.root, steps=design.steps,
                                                 progress=False))


def training_point_result(summary: dict) -> dict:
    """A training summary (``run_modular`` / ``run_icl``) as a sweep point's result: ``steps``,
    ``wall_time``, ``config_hash`` and ``final_<metric>`` for the final logged numeric metrics."""
    final = {f"final_{k}": float(v) for k, v in summary["final"].items()
             if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("step", "time")}
    return {"steps": summary["steps"], "wall_time": summary["wall_time"], "config_hash": summary["config_hash"],
            **final}


def train_study(task: str, seeds=(0, 1, 2), root="runs/study", *, steps: int | None = None,
                optimizers=OPTIMIZERS, executor=None, progress: bool | None = None):
    """Every study run of ``task`` through ``grokphase.sweep.run_sweep``.

    Parameters
    ----------
    task : str
        'modular' or 'icl'.
    seeds : sequence of int
    root : path-like
        Parent folder of the run folders (they are the store).
    steps : int, optional
        Another length than the presets'.
    optimizers : sequence of str
    executor, progress
        As for ``grokphase.sweep.run_sweep`` (serial, concurrent.futures, Dask; tqdm bar).

    Returns
    -------
    xarray.Dataset
        :func:`train_point`'s results over (optimizer, seed).
    """
    return run_sweep(train_point, Grid.product(optimizer=list(optimizers), seed=list(seeds)),
                     design=StudyTraining(task, steps, str(root)), executor=executor, progress=progress)


@dataclass(frozen=True)
class DiversityGrid:
    """Design: the task-diversity x training-fraction grid (:func:`diversity_point` at each
    (n_task, alpha, seed)): AdamW runs of the in-context study preset with ``steps`` steps in
    folders under ``root`` (:func:`diversity_run`), trained first when ``train``, evaluated at their
    last snapshot with ``samples`` posterior samples; ``base``: the preset varied
    (:data:`DIVERSITY_BASES`)."""

    steps: int = 6000
    root: str = "runs/study"
    samples: int = 16
    train: bool = False
    base: str = "study"

    LABELS: ClassVar[dict] = LABELS

    def __post_init__(self):
        integer("steps", self.steps, 1)
        integer("samples", self.samples, 2)
        choice("base", self.base, DIVERSITY_BASES)


_SETS = SPLITS + ("unlabeled",)


def diversity_point(design: DiversityGrid, n_task: int, alpha: float, seed: int) -> dict:
    """One grid cell (trained first when ``design.train``), evaluated at its last snapshot.

    Parameters
    ----------
    design : DiversityGrid
    n_task : int
        Base tasks (T = 4 n_task).
    alpha : float
        Training fraction of the input pairs.
    seed : int
        The run's seed (also of the posterior draws).

    Returns
    -------
    dict
        ``step`` of the evaluated snapshot (-1: no such run, values NaN), ``acc`` (set) at the
        snapshot weights, and ``tu``, ``au``, ``eu`` (nats) and ``pred_acc`` (posterior-predictive
        accuracy) per (set, estimator); NaN where an estimator does not apply.
    """
    run, run_dir = diversity_run(n_task, alpha, seed, design.root, steps=design.steps, base=design.base)
    if design.train:
        icl_training.run_icl(run, run_dir, progress=False)
    res = {}
    if (run_dir / "summary.json").exists():
        setup = icl_setup(run)
        res = evaluate_final(setup, run_dir, setup.sets, samples=design.samples, seed=seed)
    return {"step": res.get("step", -1), **result_arrays(res, list(_SETS), ("set",), {"set": list(_SETS)})}


def diversity_dataset(n_tasks=(2, 6, 10), alphas=(0.5, 0.8), seeds=(0,), root="runs/study", *, steps: int = 6000,
                      train: bool = False, samples: int = 16, base: str = "study", executor=None,
                      progress: bool | None = None):
    """:func:`diversity_point` over n_task x alpha x seed through ``grokphase.sweep.run_sweep``.

    Parameters
    ----------
    n_tasks : sequence of int
        Base tasks (T = 4 n_task).
    alphas : sequence of float
        Training fractions of the pairs.
    seeds : sequence of int
    root : path-like
    steps : int
        Steps per grid run.
    train : bool
        Train the missing runs first (resumable).
    samples : int
        Posterior samples per estimator (>= 2).
    base : str
        The preset varied: 'study', 'positive-control' or 'positive-control-p11' (:data:`DIVERSITY_BASES`).
    executor, progress
        As for ``grokphase.sweep.run_sweep``.

    Returns
    -------
    xarray.Dataset
        ``step`` (n_task, alpha, seed), ``acc`` (..., set), ``tu``, ``au``, ``eu``, ``pred_acc``
        (..., set, estimator), CF labels.
    """
    return run_sweep(diversity_point, Grid.product(n_task=list(n_tasks), alpha=list(alphas), seed=list(seeds)),
                     design=DiversityGrid(steps, str(root), samples, train, base), executor=executor,
                     progress=progress)


def diversity_grid(n_tasks=(2, 6, 10), alphas=(0.5, 0.8), seed: int = 0, root="runs/study", *, steps: int = 6000,
                   train: bool = False, samples: int = 16, base: str = "study", executor=None,
                   progress: bool | None = None) -> dict:
    """The diversity grid as the figure's cells, from :func:`diversity_dataset` (the runs that exist).

    Parameters
    ----------
    n_tasks, alphas, root, steps, train, samples, base, executor, progress
        As for :func:`diversity_dataset`.
    seed : int
        One seed.

    Returns
    -------
    dict
        ``{"cells": [{"T", "alpha", "seed", "step", "sets": {set: {"acc", estimator: {"tu", "au",
        "eu", "acc"}}}}]}``.
    """
    ds = diversity_dataset(n_tasks, alphas, (seed,), root, steps=steps, train=train, samples=samples, base=base,
                           executor=executor, progress=progress)
    cells = []
    for nt in ds.n_task.values.tolist():
        for a in ds.alpha.values.tolist():
            c = ds.sel(n_task=nt, alpha=a, seed=seed)
            if int(c.step) < 0:
                continue
            sets = result_entries(c, list(_SETS), ("set",))
            cells.append({"T": 4 * nt, "alpha": a, "seed": seed, "step": int(c.step), "sets": sets})
    return {"cells": cells}


def run_full_study(root="runs/study", seeds=(0, 1, 2), *, executor=None, progress: bool | None = None) -> None:
    """Everything the study's figures read (resumable; about 5 CPU-hours on one core, less on an
    ``executor`` with several workers): the mod-97 and in-context runs for both optimisers and all
    seeds (:func:`train_study`), and the task-diversity grid (:func:`diversity_grid`, trained).
    ``grokphase figs`` then evaluates (stored per point) and draws.

    Parameters
    ----------
    root : path-like
        Parent folder of the run folders.
    seeds : sequence of int
    executor, progress
        As for ``grokphase.sweep.run_sweep``.
    """
    for task in TASKS:
        train_study(task, seeds, root, executor=executor, progress=progress)
    diversity_grid(alphas=(0.5, 0.8), root=root, train=True, executor=executor, progress=progress)
