"""Deep ensembles through grokking: members that differ in their initial weights only.

``docs/icl_grokking.md`` §3-§4.  A member is the AdamW study preset of a task (``grok97-adamw``
for mod 97, ``study-p7-adamw`` in context; ``uncertainty_runs.TASKS``) with the data seed ``seed``
shared by all members and its own ``init_seed`` (``modular_grokking`` module docstring).  So every
member trains on the same train/test split; the batch stream is the same too: mod 97 trains on
the full batch, and the in-context batches are drawn by the loop's generator, which is seeded by
the data seed (tested).  What differs is the initialisation alone.  Member folders:
``{root}/ens_{mod|icl}_d{data_seed}_i{init_seed}_{config_id}``.

At every logged step s (every ``every``-th snapshot and the last), the members' snapshots at s give
S = len(members) predictive distributions p_m on each evaluation set of the study
(``uncertainty_study.modular_setup`` / ``icl_setup``): the ensemble predictive is mean_m p_m,
TU / AU / EU = TU - AU (the mutual information) from ``bayes.uncertainty_decomposition``, the
member probabilities from ``bayes.sampling.ensemble_probs``.  ``acc`` is the members' mean
accuracy at their own weights, ``pred_acc`` the ensemble predictive's accuracy.

Designs (``grokphase.sweep.run_sweep``, any executor):

- :class:`EnsembleTraining` + :func:`member_point`: one member per grid value of ``member`` (the
  init seed); the run folders are the store (resumable; finished runs are only read);
- :class:`EnsembleEvaluation` + :func:`ensemble_point`: the ensemble at one logged step, per
  ``step``; stored in ``{root}/sweeps/ensemble_{task}-{key}``, key the hash of the design, which
  names the members and their configuration hashes (a retrained member is a new store);
- :class:`DropoutEvaluation` + :func:`dropout_point`: MC dropout (``bayes.sampling.mc_dropout_probs``,
  ``samples`` stochastic passes) at one snapshot of a run trained with dropout (the mod-97 preset
  ``grok97-dropout``: :func:`dropout_run`), per ``step``; estimator ``mc_dropout``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import xarray as xr

from grokphase._checks import integer
from grokphase.sweep import Grid, run_sweep
from grokphase.validation.bayes.grokking_times import timing_table
from grokphase.sweep import point_rng
from grokphase.validation.bayes.sampling import ensemble_probs, mc_dropout_probs
from grokphase.validation.experiments.uncertainty_runs import (LABELS, TASKS, _store, _task, source_run,
                                                               training_point_result)
from grokphase.validation.experiments.uncertainty_study import (_summ, evaluated, file_step, result_arrays,
                                                                result_entries, snapshot_files, snapshot_window,
                                                                summarise)
from grokphase.validation.nn import Transformer

ENSEMBLE = ("ensemble",)
"""The estimator coordinate of the ensemble's results."""

DEFAULT_MEMBERS = (0, 1, 2, 3, 4)

ENSEMBLE_LABELS = {**LABELS,
                   "member": {"long_name": "ensemble member (seed of its initial weights)"},
                   "member_acc": {"long_name": "accuracy of each member at its own weights", "units": "1"},
                   "acc": {"long_name": "members' mean accuracy at their own weights", "units": "1"},
                   "estimator": {"long_name": "posterior (ensemble: deep ensemble, mean of member softmaxes)"}}


def member_run(task: str, member: int, data_seed: int = 0, root="runs/study", *, steps: int | None = None,
               preset: str | None = None):
    """One ensemble member's configuration and folder.

    Parameters
    ----------
    task : str
        'modular' or 'icl'.
    member : int >= 0
        The seed of the member's initial weights (``init_seed``).
    data_seed : int >= 0
        The data seed shared by all members (``seed``: split, batches, evaluation sets).
    root : path-like
        Parent folder of the run folders.
    steps : int, optional
        Another length than the preset's.
    preset : str, optional
        An AdamW preset of the task's module (default: the study's, ``grok97-adamw`` /
        ``study-p7-adamw``; e.g. ``positive-control`` in context); snapshots are always on.

    Returns
    -------
    (ModularRun or ICLRun, pathlib.Path)
        The run and its folder ``{root}/ens_{mod|icl}_d{data_seed}_i{member}_{config_id}``.
    """
    prefix, module, name, _, _ = _task(task)
    member = integer("member", member, 0, note="the seed of the member's initial weights")
    data_seed = integer("data_seed", data_seed, 0)
    preset = name.format("adamw") if preset is None else preset
    if preset not in module.PRESETS or module.PRESETS[preset].optimizer != "adamw":
        raise ValueError(f"preset must be an AdamW preset of {module.__name__}: "
                         f"{sorted(k for k, v in module.PRESETS.items() if v.optimizer == 'adamw')}; got {preset!r}")
    run = dataclasses.replace(module.PRESETS[preset], seed=data_seed, init_seed=member, snapshots=True)
    if steps is not None:
        run = dataclasses.replace(run, steps=integer("steps", steps, 1))
    return run, Path(root) / f"ens_{prefix}_d{data_seed}_i{member}_{module.config_id(run)}"


@dataclass(frozen=True)
class EnsembleTraining:
    """Design: ensemble members of ``task`` with data seed ``data_seed`` (:func:`member_point`),
    ``steps`` another length than the preset's (None: its own), folders under ``root``, ``preset``
    as for :func:`member_run`."""

    task: str = "modular"
    data_seed: int = 0
    steps: int | None = None
    root: str = "runs/study"
    preset: str | None = None

    def __post_init__(self):
        _task(self.task)
        integer("data_seed", self.data_seed, 0)
        if self.steps is not None:
            integer("steps", self.steps, 1)


def member_point(design: EnsembleTraining, member: int) -> dict:
    """Train (or resume, or read) one member.

    Parameters
    ----------
    design : EnsembleTraining
    member : int
        The member's init seed.

    Returns
    -------
    dict
        ``steps``, ``wall_time`` (s), ``config_hash``, ``final_<metric>``
        (``uncertainty_runs.training_point_result``).
    """
    run, run_dir = member_run(design.task, member, design.data_seed, design.root, steps=design.steps,
                              preset=design.preset)
    return training_point_result(TASKS[design.task][3](run, run_dir, progress=False))


def train_ensemble(task: str, members=DEFAULT_MEMBERS, data_seed: int = 0, root="runs/study", *,
                   steps: int | None = None, preset: str | None = None, executor=None,
                   progress: bool | None = None) -> xr.Dataset:
    """Every member through ``grokphase.sweep.run_sweep`` (grid over ``member``).

    Parameters
    ----------
    task : str
        'modular' or 'icl'.
    members : sequence of int
        Init seeds (distinct; >= 5 for the study).
    data_seed : int
    root : path-like
    steps : int, optional
    preset : str, optional
        As for :func:`member_run`.
    executor, progress
        As for ``grokphase.sweep.run_sweep``.

    Returns
    -------
    xarray.Dataset
        :func:`member_point`'s results over ``member``.
    """
    return run_sweep(member_point, Grid.product(member=[int(m) for m in members]),
                     design=EnsembleTraining(task, int(data_seed), steps, str(root), preset), executor=executor,
                     progress=progress)


@dataclass(frozen=True)
class EnsembleEvaluation:
    """Design: the ensemble of ``members`` (init seeds; their configuration hashes ``run_ids``,
    checked) of ``task`` with data seed ``data_seed`` under ``root`` at one logged step
    (:func:`ensemble_point`).  A member listed twice is allowed (a degenerate ensemble: EU = 0)."""

    task: str = "modular"
    data_seed: int = 0
    members: tuple[int, ...] = DEFAULT_MEMBERS
    run_ids: tuple[str, ...] = ()
    root: str = "runs/study"
    steps: int | None = None
    preset: str | None = None

    VERSION: ClassVar[int] = 1
    LABELS: ClassVar[dict] = ENSEMBLE_LABELS

    def __post_init__(self):
        _task(self.task)
        if len(self.members) < 2:
            raise ValueError(f"members must hold >= 2 init seeds (an ensemble); got {self.members}")
        if len(self.run_ids) != len(self.members):
            raise ValueError(f"run_ids must hold one configuration hash per member ({len(self.members)}); "
                             f"got {len(self.run_ids)}")


def _member_dirs(design: EnsembleEvaluation) -> list[tuple[object, Path]]:
    out = []
    for m, rid in zip(design.members, design.run_ids):
        run, run_dir = member_run(design.task, m, design.data_seed, design.root, steps=design.steps,
                                  preset=design.preset)
        if run_dir.name.rsplit("_", 1)[1] != rid:
            raise ValueError(f"member {m}: the preset's configuration hash is {run_dir.name.rsplit('_', 1)[1]}, "
                             f"the design's {rid}")
        out.append((run, run_dir))
    return out


def ensemble_point(design: EnsembleEvaluation, step: int) -> dict:
    """The ensemble of the members' snapshots at ``step`` on every evaluation set of the study.

    Parameters
    ----------
    design : EnsembleEvaluation
    step : int
        A logged step that every member has a snapshot of.

    Returns
    -------
    dict of str -> xarray.DataArray
        ``acc`` (set,): the members' mean accuracy; ``tu``, ``au``, ``eu`` (nats), ``pred_acc``
        (set, estimator = ('ensemble',)); ``member_acc`` (member, set).
    """
    from grokphase.validation.experiments.uncertainty_runs import _setup

    members = _member_dirs(design)
    setup = _setup(design.task, members[0][0])
    models = [Transformer(setup.config, params=snapshot_window(run_dir, step, 1)[-1][1]) for _, run_dir in members]
    names = list(setup.sets)
    row, member_acc = {"step": step}, np.full((len(models), len(names)), np.nan)
    for j, (name, s) in enumerate(setup.sets.items()):
        probs = ensemble_probs(models, s.tokens, s.pos)           # (S members, n, K)
        row[name] = {"ensemble": _summ(probs, s.labels)}
        if s.labels is not None:
            member_acc[:, j] = (probs.argmax(-1) == s.labels).mean(axis=1)
            row[name]["acc"] = float(member_acc[:, j].mean())
    out = result_arrays(row, names, ("set",), {"set": names}, estimators=ENSEMBLE)
    out["member_acc"] = xr.DataArray(member_acc, dims=("member", "set"),
                                     coords={"member": list(design.members), "set": names})
    return out


def _common_steps(dirs: list[Path]) -> list[int]:
    """The logged steps every member has a snapshot of (ValueError naming a member without any)."""
    common = None
    for d in dirs:
        if not (d / "snapshots").is_dir():
            raise ValueError(f"ensemble member {d} has no snapshots; train it first (train_ensemble, or "
                             f"'grokphase uncertainty ensemble ... --train')")
        steps = {file_step(f) for f in snapshot_files(d)}
        common = steps if common is None else common & steps
    return sorted(common)


def ensemble_dataset(task: str, members=DEFAULT_MEMBERS, data_seed: int = 0, root="runs/study", *,
                     every: int = 1, steps: int | None = None, preset: str | None = None, executor=None,
                     progress: bool | None = None, store=True) -> xr.Dataset:
    """:func:`ensemble_point` at every ``every``-th (and the last) logged step the members share.

    Parameters
    ----------
    task : str
        'modular' or 'icl'.
    members : sequence of int
        Init seeds of the members (each trained, with snapshots: :func:`train_ensemble`).
    data_seed : int
    root : path-like
    every : int
        Stride over the shared logged steps (>= 1; default every step).
    steps : int, optional
        The members' length if not the preset's.
    preset : str, optional
        As for :func:`member_run`.
    executor, progress
        As for ``grokphase.sweep.run_sweep``.
    store : bool or path-like
        True: ``{root}/sweeps/ensemble_{task}-{key}``; False: none; a path: that store.

    Returns
    -------
    xarray.Dataset
        Over ``step`` x ``set`` [x ``estimator``] [x ``member``] (CF labels).

    Raises
    ------
    ValueError
        A member has no snapshots (naming its folder: train it first).
    """
    members = tuple(int(m) for m in members)
    runs = [member_run(task, m, data_seed, root, steps=steps, preset=preset) for m in members]
    grid_steps = _common_steps([d for _, d in runs])
    if not grid_steps:
        raise ValueError(f"the members under {root} share no logged step; were they trained with other settings?")
    grid_steps = [grid_steps[i] for i in evaluated(len(grid_steps), every)]
    design = EnsembleEvaluation(task, int(data_seed), members, tuple(d.name.rsplit("_", 1)[1] for _, d in runs),
                                str(root), steps, preset)
    return run_sweep(ensemble_point, Grid.product(step=grid_steps), design=design,
                     store=_store(root, f"ensemble_{task}", ensemble_point, design, store), executor=executor,
                     progress=progress)


def rows_from_dataset(ds: xr.Dataset, estimators: tuple[str, ...]) -> list[dict]:
    """The trajectory rows (``uncertainty_study.snapshot_row`` layout) of a Dataset over ``step``."""
    names = ds.set.values.tolist()
    return [{"step": int(ds.step.values[j]), **result_entries(ds.isel(step=j), names, ("set",),
                                                             estimators=estimators)}
            for j in range(ds.sizes["step"])]


def timing_inputs(rows: list[dict], setup, estimator: str, interval: float) -> dict:
    """One run's curves for ``grokking_times.timing_table`` from its trajectory rows: accuracy on
    the training and target sets, EU of ``estimator`` on the target and unlabeled sets, chance,
    the logging interval and the noise floor of the gain (3 binomial sd of the target set).  Rows
    without the estimator (SWAG at the first snapshot) are left out."""
    rows = [r for r in rows if estimator in r[setup.target] and estimator in r[setup.unlabeled]]
    target, n = setup.target, len(setup.sets[setup.target].pos)
    return {"steps": np.array([r["step"] for r in rows]),
            "train_acc": np.array([r[setup.train_split]["acc"] for r in rows]),
            "test_acc": np.array([r[target]["acc"] for r in rows]),
            "eu": np.array([r[target][estimator]["eu"] for r in rows]),
            "eu_unlabeled": np.array([r[setup.unlabeled][estimator]["eu"] for r in rows]),
            "chance": setup.chance, "interval": float(interval),
            "min_gain": 3 * math.sqrt(setup.chance * (1 - setup.chance) / n)}


def timing_record(table: xr.Dataset) -> dict:
    """A :func:`grokking_times.timing_table` as JSON-ready data: per run its row (NaN -> None) and
    the statistics over the qualified runs."""
    def num(v):
        v = v.item()
        return None if isinstance(v, float) and math.isnan(v) else v

    return {"runs": {str(r): {k: num(table[k].sel(run=r)) for k in table.data_vars} for r in table.run.values},
            "statistics": {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in table.attrs.items()}}


def evaluate_ensemble(task: str, members=DEFAULT_MEMBERS, data_seed: int = 0, root="runs/study", *, every: int = 1,
                      steps: int | None = None, preset: str | None = None, min_delay: float = 3, executor=None,
                      progress: bool | None = None, store=True) -> dict:
    """The ensemble's trajectory, its summary and its row of the timing table.

    Parameters
    ----------
    task, members, data_seed, root, every, steps, preset, executor, progress, store
        As for :func:`ensemble_dataset`.
    min_delay : float
        The delay filter, in logging intervals (``grokking_times.timing_table``).

    Returns
    -------
    dict
        ``{"task", "data_seed", "members", "run_ids", "trajectory": rows (step, set: {"acc",
        "ensemble": {tu, au, eu, acc}}), "member_acc": {member: {set: [acc per step]}},
        "summary": uncertainty_study.summarise(..., ("ensemble",)), "timing": timing record}``;
        the grokking and memorisation times use the members' mean accuracy.
    """
    from grokphase.validation.experiments.uncertainty_runs import _setup

    ds = ensemble_dataset(task, members, data_seed, root, every=every, steps=steps, preset=preset, executor=executor,
                          progress=progress, store=store)
    run, _ = member_run(task, int(ds.member.values[0]), data_seed, root, steps=steps, preset=preset)
    setup = _setup(task, run)
    rows = rows_from_dataset(ds, ENSEMBLE)
    table = timing_table({"ensemble": timing_inputs(rows, setup, "ensemble", run.log_every)}, min_delay=min_delay)
    macc = {int(m): {s: ds.member_acc.sel(member=m, set=s).values.tolist() for s in ds.set.values.tolist()
                     if not np.isnan(ds.member_acc.sel(member=m, set=s).values).all()}
            for m in ds.member.values}
    return {"task": task, "data_seed": int(data_seed), "members": [int(m) for m in ds.member.values],
            "run_ids": json.loads(ds.attrs["design_config"])["run_ids"],
            "trajectory": rows, "member_acc": macc, "summary": summarise(rows, setup, ENSEMBLE),
            "timing": timing_record(table)}


def study_timing(task: str, seeds=(0, 1, 2), root="runs/study", *, samples: int | None = None,
                 every: int | None = None, min_delay: float = 3, executor=None, progress: bool | None = None,
                 store=True) -> xr.Dataset:
    """The timing table (``grokking_times.timing_table``) of every study run of ``task`` with
    snapshots and every estimator that applies to it, from ``uncertainty_runs.evaluate_study``
    (stored points are read back).

    Parameters
    ----------
    task, seeds, root, samples, every, executor, progress, store
        As for ``uncertainty_runs.evaluate_study``.
    min_delay : float
        The delay filter, in logging intervals (the run's ``log_every``).

    Returns
    -------
    xarray.Dataset or None
        Over ``run`` = ``"{optimizer}_s{seed}/{estimator}"``; None when no run has snapshots.
    """
    from grokphase.validation.experiments.uncertainty_runs import _setup, evaluate_study, study_run
    from grokphase.validation.experiments.uncertainty_study import ESTIMATORS

    res = evaluate_study(task, seeds, root, samples=samples, every=every, executor=executor, progress=progress,
                         store=store)
    runs = {}
    for r in res["runs"]:
        run, _ = study_run(task, r["optimizer"], r["seed"], root)
        setup = _setup(task, run)
        rows = r["trajectory"]
        for est in ESTIMATORS:
            if sum(est in row[setup.target] for row in rows) >= 2:
                runs[f"{r['optimizer']}_s{r['seed']}/{est}"] = timing_inputs(rows, setup, est, run.log_every)
    return timing_table(runs, min_delay=min_delay) if runs else None


MC_DROPOUT = ("mc_dropout",)


def dropout_run(seed: int = 0, root="runs/study", *, steps: int | None = None):
    """The mod-97 dropout run (preset ``grok97-dropout``) of data seed ``seed`` and its folder
    ``{root}/mod_dropout_s{seed}_{config_id}``."""
    from grokphase.validation.experiments import modular_grokking

    run = dataclasses.replace(modular_grokking.PRESETS["grok97-dropout"], seed=integer("seed", seed, 0))
    if steps is not None:
        run = dataclasses.replace(run, steps=integer("steps", steps, 1))
    return run, Path(root) / f"mod_dropout_s{seed}_{modular_grokking.config_id(run)}"


@dataclass(frozen=True)
class DropoutEvaluation:
    """Design: MC dropout with ``samples`` passes at snapshots of the ``task`` run in ``run_dir``
    (configuration hash ``run_id``, checked; trained with dropout > 0)."""

    task: str = "modular"
    run_dir: str = ""
    run_id: str = ""
    samples: int = 16

    VERSION: ClassVar[int] = 1
    LABELS: ClassVar[dict] = {**LABELS, "estimator": {"long_name": "posterior (mc_dropout: MC dropout passes)"}}

    def __post_init__(self):
        _task(self.task)
        integer("samples", self.samples, 2)


def dropout_point(design: DropoutEvaluation, step: int) -> dict:
    """MC dropout at the snapshot ``step`` on the study's evaluation sets.

    Parameters
    ----------
    design : DropoutEvaluation
    step : int

    Returns
    -------
    dict of str -> xarray.DataArray
        ``acc`` (set,) at the snapshot weights without dropout; ``tu``, ``au``, ``eu``, ``pred_acc``
        (set, estimator = ('mc_dropout',)).  The dropout masks come from
        ``point_rng(seed, step)``.
    """
    from grokphase.validation.experiments.uncertainty_runs import _setup

    run, chash = source_run(design.task, design.run_dir)
    if chash != design.run_id:
        raise ValueError(f"{design.run_dir}: configuration hash {chash}, the design's {design.run_id}")
    if not getattr(run, "dropout", 0.0) > 0:
        raise ValueError(f"{design.run_dir} was trained without dropout; MC dropout needs a run with dropout > 0 "
                         f"(preset grok97-dropout)")
    setup = _setup(design.task, run)
    model = Transformer(setup.config, params=snapshot_window(design.run_dir, step, 1)[-1][1])
    rng = point_rng(run.seed, step)
    names = list(setup.sets)
    row = {"step": step}
    for name, s in setup.sets.items():
        row[name] = {"mc_dropout": _summ(mc_dropout_probs(model, s.tokens, s.pos, rng, design.samples), s.labels)}
        if s.labels is not None:
            row[name]["acc"] = float((ensemble_probs([model], s.tokens, s.pos)[0].argmax(-1) == s.labels).mean())
    return result_arrays(row, names, ("set",), {"set": names}, estimators=MC_DROPOUT)


def dropout_dataset(task: str, run_dir, *, samples: int = 16, every: int = 1, executor=None,
                    progress: bool | None = None, store=True) -> xr.Dataset:
    """:func:`dropout_point` at every ``every``-th (and the last) snapshot of the run in ``run_dir``.

    Parameters
    ----------
    task : str
        'modular' (the transformer of the in-context runs supports dropout too, but no preset uses it).
    run_dir : path-like
        The run folder (trained with dropout, snapshots on).
    samples : int
        Dropout passes (>= 2).
    every : int
        Snapshot stride (>= 1).
    executor, progress
        As for ``grokphase.sweep.run_sweep``.
    store : bool or path-like
        True: ``{run_dir}/../sweeps/mc_dropout_{task}-{key}``; False: none; a path: that store.

    Returns
    -------
    xarray.Dataset
        Over ``step`` x ``set`` [x ``estimator``] (CF labels).
    """
    _, chash = source_run(task, run_dir)
    files = snapshot_files(run_dir)
    steps = [file_step(files[i]) for i in evaluated(len(files), integer("every", every, 1))]
    design = DropoutEvaluation(task, str(run_dir), chash, samples)
    return run_sweep(dropout_point, Grid.product(step=steps), design=design,
                     store=_store(Path(run_dir).parent, f"mc_dropout_{task}", dropout_point, design, store),
                     executor=executor, progress=progress)


__all__ = ["member_run", "EnsembleTraining", "member_point", "train_ensemble", "EnsembleEvaluation", "ensemble_point",
           "ensemble_dataset", "evaluate_ensemble", "timing_inputs", "timing_record", "rows_from_dataset", "study_timing",
           "dropout_run", "DropoutEvaluation", "dropout_point", "dropout_dataset"]
