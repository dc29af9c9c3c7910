"""The uncertainty study's runs (``docs/icl_grokking.md`` §4-§5): which presets, where their folders
are, and one call each to train a run and to evaluate every run of a task.

Tasks: 'modular' (addition mod 97, train fraction 0.4; presets ``grok97-adamw`` / ``grok97-ivon`` of
``modular_grokking``) and 'icl' (in-context arithmetic, p = 7; presets ``study-p7-adamw`` /
``study-p7-ivon`` of ``icl_training``).  Run folders: ``{root}/{mod|icl}_{optimizer}_s{seed}``.
In-context sweeps at the end of training (``context_noise_sweeps``): number of context examples
k = 0..n_ctx-1 and context-noise probability 0, 0.1, ..., 1 on ID-train and OOD-val (claims 3-4).
Task diversity x training fraction (``diversity_grid``, claim 1): AdamW runs of the study preset
with n_task and alpha changed, folders ``{root}/icl_div_T{4 n_task}_a{alpha}_s{seed}``, evaluated at
their last snapshot on the four splits.
Evaluation (``uncertainty_study.evaluate_snapshots``) is cached in each folder's uncertainty.json and
redone only when a newer snapshot exists.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from grokphase.validation.experiments import icl_training, modular_grokking
from grokphase.validation.experiments.uncertainty_study import (evaluate_final, evaluate_snapshots, icl_setup,
                                                                 icl_sweep_sets, modular_setup, snapshot_files,
                                                                 summarise)

TASKS = {"modular": ("mod", modular_grokking.PRESETS, "grok97-{}", modular_grokking.run_modular, modular_setup),
         "icl": ("icl", icl_training.PRESETS, "study-p7-{}", icl_training.run_icl, icl_setup)}
OPTIMIZERS = ("adamw", "ivon")


def _task(task: str):
    if task not in TASKS:
        raise ValueError(f"task must be one of {tuple(TASKS)}, got {task!r}")
    return TASKS[task]


def study_run(task: str, optimizer: str, seed: int, root="runs/study"):
    """(run config, run folder) of one study run."""
    prefix, presets, name, _, _ = _task(task)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    return dataclasses.replace(presets[name.format(optimizer)], seed=seed), Path(root) / f"{prefix}_{optimizer}_s{seed}"


def train_study_run(task: str, optimizer: str, seed: int, root="runs/study", *, steps: int | None = None,
                    progress: bool = True) -> dict:
    """Train (resumable) and return the run summary.  ``steps`` changes the preset's length; resuming
    a run with a new length continues on the new schedule (the in-context cosine decay is stretched
    from the resumed step on; the mod-p schedule is constant after warm-up)."""
    run, run_dir = study_run(task, optimizer, seed, root)
    if steps is not None:
        run = dataclasses.replace(run, steps=steps)
    return _task(task)[3](run, run_dir, progress=progress)


EVALUATION = {"modular": {"samples": 16, "every": 2}, "icl": {"samples": 8, "every": 3}}


def evaluate_study(task: str, seeds=(0, 1, 2), root="runs/study", *, samples: int | None = None,
                   every: int | None = None) -> dict:
    """Trajectories and summaries of every study run of ``task`` that has snapshots:
    {"task", "runs": [{"optimizer", "seed", "run", "summary", "trajectory"}]}.  samples / every:
    posterior samples and snapshot stride (defaults ``EVALUATION[task]``: 16 / 2 for mod 97, whose
    evaluation sets are smaller; 8 / 3 in-context, whose 5 sets x 256 prompts cost more);
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
            stored = json.loads(cache.read_text()) if cache.exists() else None
            if (isinstance(stored, dict) and (stored["samples"], stored["every"], stored["seed"]) == (samples, every, seed)
                    and cache.stat().st_mtime > snapshot_files(run_dir)[-1].stat().st_mtime):
                rows = stored["rows"]
            else:
                rows = evaluate_snapshots(setup, run_dir, samples=samples, every=every, seed=seed)
            out.append({"optimizer": opt, "seed": seed, "run": dataclasses.asdict(run),
                        "summary": summarise(rows, setup), "trajectory": rows})
    return {"task": task, "runs": out}


NOISES = tuple(round(0.1 * i, 1) for i in range(11))


def context_noise_sweeps(seeds=(0, 1, 2), root="runs/study", *, samples: int = 8, n: int = 128) -> dict:
    """{"runs": [{"optimizer", "seed", "step", "sets": {"{split}/k{k}" | "{split}/noise{p}": {acc,
    estimator: {tu, au, eu, acc}}}}]} for every in-context study run with snapshots (n prompts per set)."""
    out = []
    for opt in OPTIMIZERS:
        for seed in seeds:
            run, run_dir = study_run("icl", opt, seed, root)
            if not (run_dir / "snapshots").exists():
                continue
            sets = icl_sweep_sets(run, ks=range(run.n_ctx), noises=NOISES, n=n)
            res = evaluate_final(icl_setup(run), run_dir, sets, samples=samples, seed=seed)
            out.append({"optimizer": opt, "seed": seed, "step": res.pop("step"), "sets": res})
    return {"runs": out}


def diversity_run(n_task: int, alpha: float, seed: int, root="runs/study", *, steps: int = 6000):
    """(run config, folder) of one task-diversity grid run (AdamW study preset, n_task, alpha, steps)."""
    run, _ = study_run("icl", "adamw", seed, root)
    run = dataclasses.replace(run, n_task=n_task, alpha=alpha, steps=steps)
    return run, Path(root) / f"icl_div_T{4 * n_task}_a{alpha:g}_s{seed}"


def diversity_grid(n_tasks=(2, 6, 10), alphas=(0.5, 0.8), seed: int = 0, root="runs/study", *, steps: int = 6000,
                   train: bool = False, samples: int = 16, progress: bool = False) -> dict:
    """Final accuracy and TU/AU/EU per split (Laplace, SWAG) on the (T = 4 n_task) x alpha grid;
    ``train=True`` trains (resumably) the missing runs first, otherwise absent runs are skipped."""
    cells = []
    for nt in n_tasks:
        for a in alphas:
            run, run_dir = diversity_run(nt, a, seed, root, steps=steps)
            if train:
                icl_training.run_icl(run, run_dir, progress=progress)
            if not (run_dir / "summary.json").exists():
                continue
            setup = icl_setup(run)
            res = evaluate_final(setup, run_dir, setup.sets, samples=samples, seed=seed)
            cells.append({"T": 4 * nt, "alpha": a, "seed": seed, "step": res.pop("step"), "sets": res})
    return {"cells": cells}


def run_full_study(root="runs/study", seeds=(0, 1, 2), *, progress: bool = True) -> None:
    """Everything the study's figures read, one run after another (resumable; about 5 CPU-hours on
    one core): the mod-97 and in-context runs for both optimisers and all seeds, and the task-
    diversity grid.  ``grokphase figs`` then evaluates (cached) and draws."""
    for task in TASKS:
        for opt in OPTIMIZERS:
            for seed in seeds:
                train_study_run(task, opt, seed, root, progress=progress)
    diversity_grid(alphas=(0.5, 0.8), root=root, train=True, progress=progress)
