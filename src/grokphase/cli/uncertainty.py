"""``grokphase uncertainty``: the grokking / epistemic-uncertainty study (IVON, Laplace, SWAG)."""

from __future__ import annotations

import argparse

from grokphase.cli._args import add_json, reject, show_progress
from grokphase.cli._output import emit


def add_parser(sub) -> None:
    """Add the ``uncertainty`` subcommand group (study, train, evaluate, sweeps, diversity) to ``sub``."""
    p = sub.add_parser("uncertainty", help="epistemic uncertainty through grokking (IVON, Laplace, SWAG)",
                       description="Train the study's runs (parameter snapshots) and evaluate posteriors on them.")
    usub = p.add_subparsers(dest="uncertainty_command", required=True)
    q = usub.add_parser("study", help="train every study run (resumable, ~5 CPU-hours), then redraw all figures")
    _executor_options(q)
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--out", default="figures", help="figure folder (default ./figures)")
    add_json(q)
    q.set_defaults(func=run, parser=q)
    q = usub.add_parser("train", help="one study run (resumable)")
    q.add_argument("task", choices=("modular", "icl"))
    q.add_argument("--optimizer", choices=("adamw", "ivon"), default="adamw")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--steps", type=int, help="override the preset's steps (modular: a longer run extends the "
                                             "preset's; icl: its learning rate decays over the steps, so "
                                             "another length is a new run in its own folder)")
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    add_json(q)
    q.set_defaults(func=run, parser=q)
    q = usub.add_parser("evaluate", help="posteriors on every snapshot of the study's runs; summary table "
                                         "(points stored under ROOT/sweeps, reused for the same settings)")
    q.add_argument("task", choices=("modular", "icl"))
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--samples", type=int, help="posterior samples per estimator (>= 2; default per task)")
    q.add_argument("--every", type=int, help="evaluate every k-th snapshot and the last (default per task)")
    _executor_options(q)
    q.add_argument("--out", help="write trajectories and summaries as JSON here")
    add_json(q)
    q.set_defaults(func=run, parser=q)
    q = usub.add_parser("sweeps", help="in-context runs: accuracy/AU/EU vs context examples and context noise")
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--samples", type=int, default=8, help="posterior samples per estimator (>= 2)")
    _executor_options(q)
    q.add_argument("--out", help="write the results as JSON here")
    add_json(q)
    q.set_defaults(func=run, parser=q)
    q = usub.add_parser("diversity", help="in-context task diversity T x training fraction alpha grid")
    q.add_argument("--n-task", type=int, nargs="+", default=[2, 6, 10], help="base tasks (T = 4 n_task)")
    q.add_argument("--alpha", type=float, nargs="+", default=[0.5, 0.8], help="training fractions of the pairs")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--steps", type=int, default=6000, help="steps per grid run")
    q.add_argument("--train", action="store_true", help="train missing grid runs first (resumable)")
    _executor_options(q)
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--samples", type=int, default=16, help="posterior samples per estimator (>= 2)")
    add_json(q)
    q.add_argument("--out", help="write the results as JSON here")
    q.set_defaults(func=run, parser=q)


def _executor_options(q) -> None:
    q.add_argument("--executor", default="serial",
                   help="where the runs go: serial (default), dask (a LocalCluster of --workers processes) "
                        "or a scheduler address")
    q.add_argument("--workers", type=int, help="LocalCluster workers (default: one per core)")


def _executor(args):
    from grokphase.sweep import Dask

    if args.workers is not None and args.executor != "dask":
        reject(args, "--workers", f"with --executor {args.executor} (only with --executor dask)")
    return Dask(n_workers=args.workers) if args.executor == "dask" else args.executor


def run(args) -> int:
    """Run the chosen ``uncertainty`` subcommand; its result goes to stdout (and to ``--out``)."""
    from grokphase.validation.experiments import uncertainty_runs as ur

    progress = show_progress(args)
    if args.uncertainty_command == "study":
        ur.run_full_study(args.root, executor=_executor(args), progress=progress)
        from grokphase.cli import figs

        return figs.run(argparse.Namespace(names=[], out=args.out, json=args.json))
    if args.uncertainty_command == "train":
        summary = ur.train_study_run(args.task, args.optimizer, args.seed, args.root, steps=args.steps,
                                     progress=progress)
        emit(summary if args.json else {k: v for k, v in summary.items() if k != "run"}, args)
        return 0
    if args.uncertainty_command == "sweeps":
        res = ur.context_noise_sweeps(tuple(args.seeds), args.root, samples=args.samples, executor=_executor(args),
                                      progress=progress)
    elif args.uncertainty_command == "diversity":
        res = ur.diversity_grid(tuple(args.n_task), tuple(args.alpha), args.seed, args.root, steps=args.steps,
                                train=args.train, samples=args.samples, executor=_executor(args),
                                progress=progress)
    else:
        res = ur.evaluate_study(args.task, tuple(args.seeds), args.root, samples=args.samples, every=args.every,
                                executor=_executor(args), progress=progress)
    if args.out:
        from grokphase._io import atomic_write_json

        atomic_write_json(args.out, res)
    if args.uncertainty_command != "evaluate":
        emit(res, args)
        return 0
    table = [{"optimizer": r["optimizer"], "seed": r["seed"], **{k: v for k, v in r["summary"].items() if k != "estimators"},
              "estimators": r["summary"]["estimators"]} for r in res["runs"]]
    emit(table, args)
    return 0
