"""Checkpoint SWAG: the paper's SWAG (Maddox et al. 2019) from a short constant-learning-rate phase
started at one snapshot of a run (``docs/icl_grokking.md`` §3).

From the weights theta_s of the snapshot at step s of a run (``snapshots/step_XXXXXXXX.npz``), a
phase of ``K`` optimiser steps at the constant learning rate ``lr`` is trained by the ordinary loop
(``validation.training.train``: resumable, identified by its full configuration) in a folder of its
own; the iterates at the phase steps c, 2c, ..., K (``c`` = collection interval) are its
snapshots, and ``bayes.SWAG`` fits its mean, diagonal and low-rank (the last ``rank`` deviations)
moments on them.  Nothing in the source run's folder is written.

Phase settings (:class:`SWAGPhase`): ``optimizer`` 'adamw' (the run's AdamW betas, eps and weight
decay, fresh moments: a snapshot holds no optimiser state) or 'sgd' (plain SGD, the paper's
choice, with the run's weight decay as L2); ``batch``: minibatches of that many rows drawn (without
replacement) from each of the run's batches by the phase's generator (None: the run's batches, i.e.
the full training set for mod 97: a full-batch phase has no gradient noise, and its iterates only
drift; a minibatch phase gives SWAG the noise it is built on); ``seed``: the phase generator; the
run's gradient-norm clip is kept.

Phase folder: ``{phase_root}/{source run folder name}/s{step}_K{K}_c{c}_lr{lr:g}_{key}``, ``key`` the
hash of the phase's identity (source run name and configuration hash, step and every
:class:`SWAGPhase` field), so another setting is another folder and an existing one is resumed
or read, never silently reused for other settings.

Evaluation (:class:`CheckpointSWAG` + :func:`checkpoint_swag_point`, through
``grokphase.sweep.run_sweep``, grid over ``step``: every ``every``-th snapshot and the last): at
each evaluated step, ``samples`` SWAG draws (estimator ``swag_ckpt``; ``swag_ckpt_diag``:
SWAG-diagonal) on the study's evaluation sets, TU / AU / EU (``bayes.uncertainty_decomposition``)
and the predictive accuracy; ``acc`` is the accuracy at the snapshot weights (the phase's start).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import xarray as xr

from grokphase._checks import choice, integer, positive
from grokphase.sweep import Grid, point_rng, run_sweep
from grokphase.sweep.design import design_config
from grokphase.sweep.store import identity_key
from grokphase.validation.bayes import SWAG
from grokphase.validation.bayes.sampling import ensemble_probs
from grokphase.validation.experiments.uncertainty_runs import LABELS, TASKS, _store, _task, source_run
from grokphase.validation.experiments.uncertainty_study import (_load, _summ, evaluated, file_step, result_arrays,
                                                                snapshot_files, snapshot_window)
from grokphase.validation.nn import Transformer
from grokphase.validation.optim import SGD
from grokphase.validation.training import TrainConfig, train

ESTIMATORS = ("swag_ckpt", "swag_ckpt_diag")

SWAG_LABELS = {**LABELS, "estimator": {"long_name": "posterior (swag_ckpt: SWAG, diagonal + low rank, from a "
                                                    "constant-lr phase at the snapshot; swag_ckpt_diag: its "
                                                    "diagonal part)"}}


@dataclass(frozen=True)
class SWAGPhase:
    """The constant-learning-rate phase (module docstring): ``K`` steps at ``lr``, iterates every
    ``c`` steps (K / c >= 2 of them), ``optimizer`` 'adamw' or 'sgd', minibatch ``batch`` (None:
    the run's batches), SWAG ``rank`` (>= 2), generator ``seed``."""

    K: int = 200
    c: int = 10
    lr: float = 1e-3
    optimizer: str = "adamw"
    batch: int | None = None
    rank: int = 20
    seed: int = 0

    def __post_init__(self):
        integer("K", self.K, 2, note="steps of the constant-learning-rate phase")
        integer("c", self.c, 1, note="collection interval (steps)")
        if self.K // self.c < 2:
            raise ValueError(f"K // c must be >= 2 (SWAG needs two iterates); got K = {self.K}, c = {self.c}")
        positive("lr", self.lr)
        choice("optimizer", self.optimizer, ("adamw", "sgd"))
        if self.batch is not None:
            integer("batch", self.batch, 1, note="minibatch rows (None: the run's batches)")
        integer("rank", self.rank, 2)
        integer("seed", self.seed, 0)

    def collected(self) -> list[int]:
        """The phase steps whose iterates SWAG collects: c, 2c, ..., <= K."""
        return list(range(self.c, self.K + 1, self.c))


def phase_dir(source_dir, step: int, phase: SWAGPhase, phase_root, source_hash: str) -> Path:
    """The phase folder of (source run, step, phase settings) (module docstring)."""
    ident = {"source": Path(source_dir).name, "source_config_hash": source_hash, "step": int(step),
             **design_config(phase)}
    return (Path(phase_root) / Path(source_dir).name /
            f"s{step}_K{phase.K}_c{phase.c}_lr{phase.lr:g}_{identity_key(ident, 10)}")


def _minibatches(batch_fn, batch: int | None):
    if batch is None:
        return batch_fn

    def fn(step, rng):
        tokens, targets, mask = batch_fn(step, rng)
        if batch > len(tokens):
            raise ValueError(f"batch must be <= the run's batch rows ({len(tokens)}); got {batch}")
        idx = np.sort(rng.choice(len(tokens), batch, replace=False))
        return tokens[idx], targets[idx], mask[idx]
    return fn


def run_phase(model, optimizer, batch_fn, phase: SWAGPhase, run_dir, *, config: dict, clip: float | None = None,
              progress: bool | None = False) -> SWAG:
    """Train the phase from ``model``'s current weights in ``run_dir`` (resumable) and fit SWAG on
    its iterates at :meth:`SWAGPhase.collected`.

    Parameters
    ----------
    model
        A model for ``validation.training.train``, holding the starting weights.
    optimizer
        Its optimiser (fresh state; learning rate ``phase.lr``, constant).
    batch_fn : callable
        ``batch_fn(step, rng) -> (tokens, targets, mask)`` of the run (subsampled to ``phase.batch``
        rows when set).
    phase : SWAGPhase
    run_dir : path-like
        The phase folder.
    config : dict
        What identifies the start (source run, step), recorded as the phase run's ``run`` config.
    clip : float, optional
        Gradient-norm clip.
    progress : bool, optional
        tqdm bar.

    Returns
    -------
    bayes.SWAG
        Fitted on the iterates at steps c, 2c, ..., K (in order).
    """
    optimizer.lr = phase.lr
    tcfg = TrainConfig(steps=phase.K, log_every=phase.c, checkpoint_every=phase.K, clip=clip, seed=phase.seed,
                       snapshots=True)
    train(model, optimizer, _minibatches(batch_fn, phase.batch), tcfg, run_dir=run_dir,
          config={**config, "phase": design_config(phase)}, progress=progress)
    want = set(phase.collected())
    snaps = [_load(f) for f in snapshot_files(run_dir) if file_step(f) in want]
    if [s for s, _, _ in snaps] != phase.collected():
        raise ValueError(f"{run_dir}: the phase's snapshots are at {[s for s, _, _ in snaps]}, expected "
                         f"{phase.collected()}; delete the folder and rerun")
    return SWAG.from_snapshots((p for _, p, _ in snaps), rank=phase.rank)


def checkpoint_swag(task: str, run_dir, step: int, phase: SWAGPhase, phase_root=None, *,
                    progress: bool | None = False) -> tuple[SWAG, Path]:
    """SWAG from the phase started at the snapshot ``step`` of the run in ``run_dir``.

    Parameters
    ----------
    task : str
        'modular' or 'icl'.
    run_dir : path-like
        The source run (only read).
    step : int
        A snapshot step of that run.
    phase : SWAGPhase
    phase_root : path-like, optional
        Parent of the phase folders (default ``{run_dir}/../swag_phases``).
    progress : bool, optional

    Returns
    -------
    (bayes.SWAG, pathlib.Path)
        The fitted SWAG and the phase folder.
    """
    run, chash = source_run(task, run_dir)
    if run.optimizer != "adamw":
        raise ValueError(f"checkpoint SWAG starts from AdamW runs; {run_dir} was trained with {run.optimizer}")
    module = TASKS[task][1]
    model, opt, batch_fn, tcfg, *_ = module._build(run)
    _, params, _ = snapshot_window(run_dir, int(step), 1)[-1]
    for k, v in params.items():
        model.params[k][...] = v
    if phase.optimizer == "sgd":
        opt = SGD(model.params, lr=phase.lr, weight_decay=run.weight_decay)
    root = Path(run_dir).parent / "swag_phases" if phase_root is None else Path(phase_root)
    out = phase_dir(run_dir, step, phase, root, chash)
    sw = run_phase(model, opt, batch_fn, phase, out, clip=tcfg.clip, progress=progress,
                   config={"source": Path(run_dir).name, "source_config_hash": chash, "source_step": int(step)})
    return sw, out


@dataclass(frozen=True)
class CheckpointSWAG:
    """Design: checkpoint SWAG (:func:`checkpoint_swag`) at snapshots of the ``task`` run in
    ``run_dir`` (configuration hash ``run_id``, checked), phase ``phase``, ``samples`` draws per
    estimator, phase folders under ``phase_root`` (empty: ``{run_dir}/../swag_phases``)."""

    task: str = "modular"
    run_dir: str = ""
    run_id: str = ""
    phase: SWAGPhase = SWAGPhase()
    samples: int = 16
    phase_root: str = ""

    VERSION: ClassVar[int] = 1
    LABELS: ClassVar[dict] = SWAG_LABELS

    def __post_init__(self):
        _task(self.task)
        integer("samples", self.samples, 2)
        if not isinstance(self.phase, SWAGPhase):
            raise ValueError(f"phase must be SWAGPhase, got {self.phase!r}")


def checkpoint_swag_point(design: CheckpointSWAG, step: int) -> dict:
    """Checkpoint SWAG at the snapshot ``step``: the phase (trained once, then read), ``samples``
    draws of each estimator on the study's evaluation sets.

    Parameters
    ----------
    design : CheckpointSWAG
    step : int
        The snapshot's step.

    Returns
    -------
    dict of str -> xarray.DataArray
        ``acc`` (set,) at the snapshot weights; ``tu``, ``au``, ``eu``, ``pred_acc`` (set,
        estimator = ``ESTIMATORS``).
    """
    from grokphase.validation.experiments.uncertainty_runs import _setup

    run, chash = source_run(design.task, design.run_dir)
    if chash != design.run_id:
        raise ValueError(f"{design.run_dir}: configuration hash {chash}, the design's {design.run_id} "
                         f"(was the run retrained?)")
    sw, _ = checkpoint_swag(design.task, design.run_dir, step, design.phase, design.phase_root or None)
    setup = _setup(design.task, run)
    rng = point_rng(run.seed, step)
    start = Transformer(setup.config, params=snapshot_window(design.run_dir, step, 1)[-1][1])
    draws = {"swag_ckpt": [Transformer(setup.config, params=sw.sample(rng)) for _ in range(design.samples)],
             "swag_ckpt_diag": [Transformer(setup.config, params=sw.sample(rng, diag_only=True))
                                for _ in range(design.samples)]}
    names = list(setup.sets)
    row = {"step": step}
    for name, s in setup.sets.items():
        row[name] = {est: _summ(ensemble_probs(ms, s.tokens, s.pos), s.labels) for est, ms in draws.items()}
        if s.labels is not None:
            row[name]["acc"] = float((ensemble_probs([start], s.tokens, s.pos)[0].argmax(-1) == s.labels).mean())
    return result_arrays(row, names, ("set",), {"set": names}, estimators=ESTIMATORS)


def checkpoint_swag_dataset(task: str, run_dir, phase: SWAGPhase = SWAGPhase(), *, every: int = 4, samples: int = 16,
                            phase_root=None, executor=None, progress: bool | None = None,
                            store=True) -> xr.Dataset:
    """:func:`checkpoint_swag_point` at every ``every``-th (and the last) snapshot of one AdamW run.

    Parameters
    ----------
    task : str
        'modular' or 'icl'.
    run_dir : path-like
        The run folder (only read; snapshots needed).
    phase : SWAGPhase
    every : int
        Snapshot stride (>= 1).
    samples : int
        Draws per estimator (>= 2).
    phase_root : path-like, optional
        Parent of the phase folders (default ``{run_dir}/../swag_phases``).
    executor, progress
        As for ``grokphase.sweep.run_sweep``.
    store : bool or path-like
        True: ``{run_dir}/../sweeps/checkpoint_swag_{task}-{key}``; False: none; a path: that store.

    Returns
    -------
    xarray.Dataset
        Over ``step`` x ``set`` [x ``estimator``] (CF labels).
    """
    integer("every", every, 1, note="evaluate every k-th snapshot")
    _, chash = source_run(task, run_dir)
    files = snapshot_files(run_dir)
    steps = [file_step(files[i]) for i in evaluated(len(files), every)]
    design = CheckpointSWAG(task, str(run_dir), chash, phase, samples, "" if phase_root is None else str(phase_root))
    return run_sweep(checkpoint_swag_point, Grid.product(step=steps), design=design,
                     store=_store(Path(run_dir).parent, f"checkpoint_swag_{task}", checkpoint_swag_point, design,
                                  store),
                     executor=executor, progress=progress)
