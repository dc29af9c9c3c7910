"""The uncertainty study's runs (issue 6): which presets, where their folders are, and one call each
to train a run and to evaluate every run of a task.

Tasks: 'modular' (addition mod 97, train fraction 0.4; presets ``grok97-adamw`` / ``grok97-ivon`` of
``modular_grokking``) and 'icl' (in-context arithmetic, p = 7; presets ``study-p7-adamw`` /
``study-p7-ivon`` of ``icl_training``).  Run folders: ``{root}/{mod|icl}_{optimizer}_s{seed}``.
Evaluation (``uncertainty_study.evaluate_snapshots``) is cached in each folder's uncertainty.json and
redone only when a newer snapshot exists.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from grokphase.validation.experiments import icl_training, modular_grokking
from grokphase.validation.experiments.uncertainty_study import (evaluate_snapshots, icl_setup, modular_setup,
                                                                 snapshot_files, summarise)

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
    """Train (resumable; ``steps`` extends or shortens the preset) and return the run summary."""
    run, run_dir = study_run(task, optimizer, seed, root)
    if steps is not None:
        run = dataclasses.replace(run, steps=steps)
    return _task(task)[3](run, run_dir, progress=progress)


def evaluate_study(task: str, seeds=(0, 1, 2), root="runs/study", *, samples: int = 16, every: int = 1) -> dict:
    """Trajectories and summaries of every study run of ``task`` that has snapshots:
    {"task", "runs": [{"optimizer", "seed", "run", "summary", "trajectory"}]}."""
    setup_fn = _task(task)[4]
    out = []
    for opt in OPTIMIZERS:
        for seed in seeds:
            run, run_dir = study_run(task, opt, seed, root)
            if not (run_dir / "snapshots").exists():
                continue
            setup = setup_fn(run)
            cache = run_dir / "uncertainty.json"
            if cache.exists() and cache.stat().st_mtime > snapshot_files(run_dir)[-1].stat().st_mtime:
                rows = json.loads(cache.read_text())
            else:
                rows = evaluate_snapshots(setup, run_dir, samples=samples, every=every, seed=seed)
            out.append({"optimizer": opt, "seed": seed, "run": dataclasses.asdict(run),
                        "summary": summarise(rows, setup), "trajectory": rows})
    return {"task": task, "runs": out}
