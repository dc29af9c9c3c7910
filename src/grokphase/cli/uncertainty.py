"""``grokphase uncertainty``: the grokking / epistemic-uncertainty study (IVON, Laplace, SWAG)."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub) -> None:
    """Add the ``uncertainty`` subcommand group (study, train, evaluate, sweeps, diversity) to ``sub``."""
    p = sub.add_parser("uncertainty", help="epistemic uncertainty through grokking (IVON, Laplace, SWAG)",
                       description="Train the study's runs (parameter snapshots) and evaluate posteriors on them.")
    usub = p.add_subparsers(dest="uncertainty_command", required=True)
    q = usub.add_parser("study", help="train every study run (resumable, ~5 CPU-hours), then redraw all figures")
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--out", default="figures", help="figure folder (default ./figures)")
    q.add_argument("--json", action="store_true", help="no progress lines")
    q.set_defaults(func=run)
    q = usub.add_parser("train", help="one study run (resumable)")
    q.add_argument("task", choices=("modular", "icl"))
    q.add_argument("--optimizer", choices=("adamw", "ivon"), default="adamw")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--steps", type=int, help="override the preset's steps (a longer run resumes)")
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--json", action="store_true", help="no progress lines")
    q.set_defaults(func=run)
    q = usub.add_parser("evaluate", help="posteriors on every snapshot of the study's runs; summary table")
    q.add_argument("task", choices=("modular", "icl"))
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--samples", type=int, help="posterior samples per estimator (>= 2; default per task)")
    q.add_argument("--every", type=int, help="evaluate every k-th snapshot and the last (default per task)")
    q.add_argument("--out", help="write trajectories and summaries as JSON here")
    q.set_defaults(func=run)
    q = usub.add_parser("sweeps", help="in-context runs: accuracy/AU/EU vs context examples and context noise")
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--samples", type=int, default=8, help="posterior samples per estimator (>= 2)")
    q.add_argument("--out", help="write the results as JSON here")
    q.set_defaults(func=run)
    q = usub.add_parser("diversity", help="in-context task diversity T x training fraction alpha grid")
    q.add_argument("--n-task", type=int, nargs="+", default=[2, 6, 10], help="base tasks (T = 4 n_task)")
    q.add_argument("--alpha", type=float, nargs="+", default=[0.5, 0.8], help="training fractions of the pairs")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--steps", type=int, default=6000, help="steps per grid run")
    q.add_argument("--train", action="store_true", help="train missing grid runs first (resumable)")
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--samples", type=int, default=16, help="posterior samples per estimator (>= 2)")
    q.add_argument("--json", action="store_true", help="no progress lines")
    q.add_argument("--out", help="write the results as JSON here")
    q.set_defaults(func=run)


def run(args) -> int:
    """Run the chosen ``uncertainty`` subcommand."""
    from grokphase.validation.experiments import uncertainty_runs as ur

    if args.uncertainty_command == "study":
        ur.run_full_study(args.root, progress=not args.json)
        from grokphase.cli import figs

        return figs.run(argparse.Namespace(out=args.out, json=args.json))
    if args.uncertainty_command == "train":
        summary = ur.train_study_run(args.task, args.optimizer, args.seed, args.root, steps=args.steps,
                                     progress=not args.json)
        print(json.dumps({k: v for k, v in summary.items() if k != "run"}, indent=1, default=float))
        return 0
    if args.uncertainty_command == "sweeps":
        res = ur.context_noise_sweeps(tuple(args.seeds), args.root, samples=args.samples)
    elif args.uncertainty_command == "diversity":
        res = ur.diversity_grid(tuple(args.n_task), tuple(args.alpha), args.seed, args.root, steps=args.steps,
                                train=args.train, samples=args.samples, progress=not args.json)
    else:
        res = ur.evaluate_study(args.task, tuple(args.seeds), args.root, samples=args.samples, every=args.every)
    if args.out:
        from pathlib import Path

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, default=float))
    if args.uncertainty_command != "evaluate":
        json.dump(res, sys.stdout, default=float)
        print()
        return 0
    table = [{"optimizer": r["optimizer"], "seed": r["seed"], **{k: v for k, v in r["summary"].items() if k != "estimators"},
              "estimators": r["summary"]["estimators"]} for r in res["runs"]]
    json.dump(table, sys.stdout, indent=1, default=float)
    print()
    return 0
