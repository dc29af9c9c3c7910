"""``grokphase uncertainty``: the grokking / epistemic-uncertainty study (IVON, Laplace, SWAG, deep
ensembles, checkpoint SWAG) and its timing table."""

from __future__ import annotations

import argparse
import dataclasses

from grokphase.cli._args import add_json, reject, show_progress
from grokphase.cli._output import emit


def add_parser(sub) -> None:
    """Add the ``uncertainty`` subcommand group (study, train, evaluate, sweeps, diversity, ensemble,
    checkpoint-swag, timing) to ``sub``."""
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
    q.add_argument("--base", choices=["study", "positive-control"], default="study",
                   help="which runs: the study runs, or the positive-control runs at T = 40, alpha 0.6 "
                        "(trained by `uncertainty diversity --base positive-control --n-task 10 --alpha 0.6 "
                        "--steps S --train`: give the same --steps here)")
    q.add_argument("--steps", type=int, help="steps of the positive-control runs (default: the preset's 45000)")
    q.add_argument("--splits", nargs="+", default=["id_train", "ood_val"],
                   choices=["id_train", "id_val", "ood_train", "ood_val"], help="prompt splits swept")
    _executor_options(q)
    q.add_argument("--out", help="write the results as JSON here")
    add_json(q)
    q.set_defaults(func=run, parser=q)
    q = usub.add_parser("diversity", help="in-context task diversity T x training fraction alpha grid")
    q.add_argument("--n-task", type=int, nargs="+", default=[2, 6, 10], help="base tasks (T = 4 n_task)")
    q.add_argument("--alpha", type=float, nargs="+", default=[0.5, 0.8], help="training fractions of the pairs")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--steps", type=int, default=6000, help="steps per grid run")
    q.add_argument("--base", choices=["study", "positive-control", "positive-control-p11"], default="study",
                   help="the preset varied (positive-control: the settings that learn in context at p = 7; "
                        "positive-control-p11: the same at p = 11, n_ctx 16)")
    q.add_argument("--train", action="store_true", help="train missing grid runs first (resumable)")
    _executor_options(q)
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--samples", type=int, default=16, help="posterior samples per estimator (>= 2)")
    add_json(q)
    q.add_argument("--out", help="write the results as JSON here")
    q.set_defaults(func=run, parser=q)
    q = usub.add_parser("ensemble", help="deep ensemble (members differ in init seed only): EU at every logged "
                                         "step; --train trains missing members first (resumable)")
    q.add_argument("task", choices=("modular", "icl"))
    q.add_argument("--members", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="init seeds of the members")
    q.add_argument("--data-seed", type=int, default=0, help="data seed shared by the members (split, batches)")
    q.add_argument("--steps", type=int, help="override the preset's steps")
    q.add_argument("--preset", help="an AdamW preset of the task (default: the study's grok97-adamw / "
                                    "study-p7-adamw; e.g. positive-control for icl)")
    q.add_argument("--train", action="store_true", help="train missing members first (resumable)")
    _timing_options(q, 1, "evaluate every k-th shared logged step and the last")
    q.set_defaults(func=run, parser=q)
    q = usub.add_parser("checkpoint-swag", help="SWAG from a constant-lr phase started at every k-th snapshot of "
                                                "an AdamW run (phases in their own folders; the run is only read)")
    q.add_argument("task", choices=("modular", "icl"))
    q.add_argument("--seed", type=int, default=0, help="seed of the AdamW study run")
    q.add_argument("--run-dir", help="the run folder (default: the AdamW study run of --seed under --root)")
    q.add_argument("--K", type=int, default=200, help="steps of the constant-lr phase")
    q.add_argument("--c", type=int, default=10, help="collect an iterate every c steps")
    q.add_argument("--lr", type=float, default=1e-3, help="the phase's constant learning rate")
    q.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw",
                   help="adamw: the run's AdamW with fresh moments; sgd: plain SGD")
    q.add_argument("--batch", type=int, help="minibatch rows drawn from each of the run's batches (default: "
                                             "the run's batches; full batch for mod 97)")
    q.add_argument("--rank", type=int, default=20, help="SWAG low-rank columns")
    q.add_argument("--phase-seed", type=int, default=0, help="seed of the phase's generator")
    q.add_argument("--samples", type=int, default=16, help="SWAG draws per estimator (>= 2)")
    _timing_options(q, 4, "evaluate every k-th snapshot and the last", phase_root=True)
    q.set_defaults(func=run, parser=q)
    q = usub.add_parser("mc-dropout", help="MC dropout at every k-th snapshot of the mod-97 dropout run "
                                           "(preset grok97-dropout); --train trains it first (resumable)")
    q.add_argument("--seed", type=int, default=0, help="data seed of the dropout run")
    q.add_argument("--steps", type=int, help="override the preset's steps")
    q.add_argument("--train", action="store_true", help="train the run first (resumable)")
    q.add_argument("--run-dir", help="another run folder trained with dropout (default: the preset's run)")
    q.add_argument("--samples", type=int, default=16, help="dropout passes (>= 2)")
    _timing_options(q, 1, "evaluate every k-th snapshot and the last")
    q.set_defaults(func=run, parser=q)
    q = usub.add_parser("ivon-search", help="IVON settings that keep a delay on mod 97: runs over ess scale x "
                                            "prior precision, memorisation / grokking times (resumable)")
    q.add_argument("--ess-scale", type=float, nargs="+", help="IVON ess / number of training pairs "
                   "(default 1 10 100)")
    q.add_argument("--weight-decay", type=float, nargs="+", help="IVON prior precision (default 1e-3 3e-3)")
    q.add_argument("--seeds", type=int, nargs="+", help="data seeds (default 0)")
    q.add_argument("--steps", type=int, help="override the preset's steps (3500)")
    q.add_argument("--min-delay", type=float, default=3.0, help="qualifying delay, in logging intervals")
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    _executor_options(q)
    q.add_argument("--out", help="write the table as JSON here")
    add_json(q)
    q.set_defaults(func=run, parser=q)
    q = usub.add_parser("timing", help="timing table of the study's runs: memorisation / grokking times, delay "
                                       "filter, EU-peak lead, collapse factor, monitor detection")
    q.add_argument("task", choices=("modular", "icl"))
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--samples", type=int, help="posterior samples per estimator (>= 2; default per task)")
    q.add_argument("--every", type=int, help="evaluate every k-th snapshot and the last (default per task)")
    q.add_argument("--min-delay", type=float, default=3.0, help="delay filter, in logging intervals")
    _executor_options(q)
    q.add_argument("--out", help="write the table as JSON here")
    add_json(q)
    q.set_defaults(func=run, parser=q)


def _timing_options(q, every: int, every_help: str, *, phase_root: bool = False) -> None:
    """The options shared by ensemble, checkpoint-swag and mc-dropout: --every, --min-delay, --root,
    (--phase-root), the executor, --out and --json."""
    q.add_argument("--every", type=int, default=every, help=every_help)
    q.add_argument("--min-delay", type=float, default=3.0, help="delay filter, in logging intervals")
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    if phase_root:
        q.add_argument("--phase-root", help="parent of the phase folders (default RUN_DIR/../swag_phases)")
    _executor_options(q)
    q.add_argument("--out", help="write trajectory, summary and timing as JSON here")
    add_json(q)


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
    if args.uncertainty_command in ("ensemble", "checkpoint-swag", "mc-dropout", "timing"):
        return _posthoc(args, progress)
    if args.uncertainty_command == "ivon-search":
        return _ivon_search(args, progress)
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
        res = ur.context_noise_sweeps(tuple(args.seeds), args.root, samples=args.samples, base=args.base,
                                      steps=args.steps, splits=tuple(args.splits), executor=_executor(args),
                                      progress=progress)
        if not res["runs"]:
            raise ValueError(f"--root: no {args.base} in-context runs with snapshots under {args.root!r} for seeds "
                             f"{args.seeds}" + (f" and --steps {args.steps}" if args.steps else "")
                             + " (train them first; see --help)")
    elif args.uncertainty_command == "diversity":
        res = ur.diversity_grid(tuple(args.n_task), tuple(args.alpha), args.seed, args.root, steps=args.steps,
                                train=args.train, samples=args.samples, base=args.base, executor=_executor(args),
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


def _ivon_search(args, progress) -> int:
    from grokphase.validation.experiments import ivon_delay_search as ids

    grid = dict(ids.GRID)
    for key, value in (("ess_scale", args.ess_scale), ("weight_decay", args.weight_decay), ("seed", args.seeds)):
        if value is not None:
            grid[key] = tuple(value)
    design = ids.IVONDelaySearch(steps=args.steps, min_delay=args.min_delay, root=args.root)
    ds = ids.search(design, grid, executor=_executor(args), progress=progress)
    rows = ds.to_dataframe().reset_index().to_dict(orient="records")
    res = {"design": dataclasses.asdict(design), "runs": rows}
    _write(args, res)
    emit(res, args)
    return 0


def _write(args, res) -> None:
    if args.out:
        from grokphase._io import atomic_write_json

        atomic_write_json(args.out, res)


def _posthoc(args, progress) -> int:
    """``ensemble``, ``checkpoint-swag``, ``mc-dropout`` and ``timing``: the result's summary and timing (the full
    result with ``--json`` and in ``--out``).  Invalid settings exit with status 2 naming them."""
    from grokphase.validation.experiments import uncertainty_ensembles as ue

    try:
        if args.uncertainty_command == "timing":
            tab = ue.study_timing(args.task, tuple(args.seeds), args.root, samples=args.samples, every=args.every,
                                  min_delay=args.min_delay, executor=_executor(args), progress=progress)
            res = {"task": args.task, **({"runs": {}, "statistics": {}} if tab is None else ue.timing_record(tab))}
        elif args.uncertainty_command == "ensemble":
            if args.train:
                ue.train_ensemble(args.task, tuple(args.members), args.data_seed, args.root, steps=args.steps,
                                  preset=args.preset, executor=_executor(args), progress=progress)
            res = ue.evaluate_ensemble(args.task, tuple(args.members), args.data_seed, args.root, every=args.every,
                                       steps=args.steps, preset=args.preset, min_delay=args.min_delay,
                                       executor=_executor(args), progress=progress)
        elif args.uncertainty_command == "mc-dropout":
            res = _mc_dropout(args, progress)
        else:
            res = _checkpoint_swag(args, progress)
    except ValueError as e:
        args.parser.error(str(e))
    _write(args, res)
    emit(res if args.json else {k: v for k, v in res.items() if k not in ("trajectory", "member_acc")}, args)
    return 0


def _run_result(task: str, run_dir, ds, estimators, min_delay: float) -> dict:
    """Trajectory, summary and timing of one run's evaluation Dataset over ``step``."""
    from grokphase.validation.bayes.grokking_times import timing_table
    from grokphase.validation.experiments import uncertainty_ensembles as ue
    from grokphase.validation.experiments.uncertainty_runs import _setup, source_run
    from grokphase.validation.experiments.uncertainty_study import summarise

    run, _ = source_run(task, run_dir)
    setup = _setup(task, run)
    rows = ue.rows_from_dataset(ds, estimators)
    table = timing_table({f"{run_dir.name}/{est}": ue.timing_inputs(rows, setup, est, run.log_every)
                          for est in estimators}, min_delay=min_delay)
    return {"task": task, "run_dir": str(run_dir), "trajectory": rows, "summary": summarise(rows, setup, estimators),
            "timing": ue.timing_record(table)}


def _checkpoint_swag(args, progress) -> dict:
    from pathlib import Path

    from grokphase.sweep.design import design_config
    from grokphase.validation.experiments import checkpoint_swag as cs
    from grokphase.validation.experiments.uncertainty_runs import study_run

    phase = cs.SWAGPhase(K=args.K, c=args.c, lr=args.lr, optimizer=args.optimizer, batch=args.batch, rank=args.rank,
                         seed=args.phase_seed)
    run_dir = Path(args.run_dir) if args.run_dir else study_run(args.task, "adamw", args.seed, args.root)[1]
    if not (run_dir / "config.json").exists():
        raise ValueError(f"no run in {run_dir} (train it first: grokphase uncertainty train {args.task})")
    ds = cs.checkpoint_swag_dataset(args.task, run_dir, phase, every=args.every, samples=args.samples,
                                    phase_root=args.phase_root, executor=_executor(args), progress=progress)
    return {"phase": design_config(phase), **_run_result(args.task, run_dir, ds, cs.ESTIMATORS, args.min_delay)}


def _mc_dropout(args, progress) -> dict:
    from pathlib import Path

    from grokphase.validation.experiments import uncertainty_ensembles as ue
    from grokphase.validation.experiments.modular_grokking import run_modular

    run, run_dir = ue.dropout_run(args.seed, args.root, steps=args.steps)
    if args.run_dir:
        if args.train:
            reject(args, "--train", "with --run-dir (it trains the preset's run only)")
        run_dir = Path(args.run_dir)
    elif args.train:
        run_modular(run, run_dir, progress=progress)
    if not (run_dir / "config.json").exists():
        raise ValueError(f"no run in {run_dir} (train it first: --train)")
    ds = ue.dropout_dataset("modular", run_dir, samples=args.samples, every=args.every, executor=_executor(args),
                            progress=progress)
    return _run_result("modular", run_dir, ds, ue.MC_DROPOUT, args.min_delay)
