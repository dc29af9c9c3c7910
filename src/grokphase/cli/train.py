"""``grokphase train``: train the NumPy transformer (modular grokking or in-context modular arithmetic).

The run's configuration is built in layers: the ``--preset`` (a documented configuration), then the
``--config`` TOML file (the keys it holds), then ``--set key=value`` items, then the named options
(``--lr``, ``--steps``, ...).  A key that the configuration does not have, a value of the wrong type
and an option that does not apply to the result (``--lr`` with an IVON preset, whose learning rate
is ``ivon.lr``) are errors.  ``--write-config PATH`` writes the resolved configuration as TOML (a
``[design]`` table, as the other experiments' files) and exits; ``--config PATH`` reads it back.

The default run folder is ``runs/<task>_<preset>_seed<seed>_<id>``, with ``id`` the hash of the
run's configuration, so runs of different configurations never share a folder.  Rerunning resumes
(bit for bit); ``--steps`` larger than before extends a run whose schedule does not depend on its
length (``modular``); a run whose learning rate decays over its steps (``icl``) gets a new folder.
With ``--run-dir``, a folder holding another configuration is an error naming the differing fields.
"""

from __future__ import annotations

from grokphase.cli._args import add_json, reject, show_progress
from grokphase.cli._output import emit

# Default presets; the full lists live with the experiments (imported only when a command runs, so
# an unknown --preset is reported then, with the valid names).
_DEFAULT_PRESET = {"modular": "nanda97", "icl": "p7-T40"}
_OPTIONS = {"modular": ("p", "op", "frac", "seed", "steps", "lr", "weight_decay"),
            "icl": ("p", "n_task", "alpha", "n_ctx", "seed", "steps", "lr", "weight_decay")}


def add_parser(sub) -> None:
    """Add the ``train`` subcommand group (modular, icl) to ``sub``."""
    p = sub.add_parser("train", help="train the NumPy transformer (resumable, logged runs)",
                       description="Train the PyTorch-free NumPy transformer on a task; metrics in "
                                   "RUN_DIR/metrics.jsonl, the resolved configuration in RUN_DIR/config.json.")
    tsub = p.add_subparsers(dest="task", required=True)

    def train_common(q, task):
        default = _DEFAULT_PRESET[task]
        q.add_argument("--preset", default=default,
                       help=f"documented configuration of the experiment (default {default}; "
                            "an unknown name lists the valid ones)")
        q.add_argument("--config", metavar="TOML", help="configuration file (keys override the preset)")
        q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override one configuration key (repeatable; nested keys as ivon.lr=1)")
        q.add_argument("--write-config", metavar="TOML", help="write the resolved configuration and exit")
        q.add_argument("--seed", type=int, help="seed (data split, init, batches)")
        q.add_argument("--steps", type=int, help="optimiser steps (more than a finished run's: extends it "
                                                 "when its schedule allows, see the docs)")
        q.add_argument("--lr", type=float, help="AdamW learning rate (AdamW presets only; IVON: --set ivon.lr=...)")
        q.add_argument("--weight-decay", type=float, help="AdamW weight decay / IVON prior precision")
        q.add_argument("--run-dir", help="output folder (default runs/<task>_<preset>_seed<seed>_<config id>)")
        q.add_argument("--fresh", action="store_true", help="remove the folder's checkpoint, metrics and "
                                                            "snapshots and start over")
        add_json(q)
        q.set_defaults(func=run, parser=q)

    q = tsub.add_parser("modular", help="grokking of a op b mod p (Nanda-style 1-layer model)")
    q.add_argument("--p", type=int, help="prime modulus")
    q.add_argument("--op", choices=("add", "sub", "mul", "quad"), help="operation")
    q.add_argument("--frac", type=float, help="training fraction of the p^2 pairs")
    train_common(q, "modular")
    q = tsub.add_parser("icl", help="in-context modular arithmetic (pre-LN, RoPE, tied embeddings)")
    q.add_argument("--p", type=int, help="modulus")
    q.add_argument("--n-task", type=int, help="parallelogram base tasks (T = 4 n_task)")
    q.add_argument("--alpha", type=float, help="fraction of input pairs used for training")
    q.add_argument("--n-ctx", type=int, help="examples per sequence")
    train_common(q, "icl")


def resolve(args, exp):
    """The run configuration from the preset, ``--config``, ``--set`` and the named options."""
    from grokphase.sweep.design import design_from_config, parse_assignments, read_toml

    if args.preset not in exp.PRESETS:
        args.parser.error(f"argument --preset: invalid choice: {args.preset!r} "
                          f"(choose from {', '.join(sorted(exp.PRESETS))})")
    cfg = exp.PRESETS[args.preset]

    def update(changes, where):
        try:
            return design_from_config(type(cfg), changes, base=cfg)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from e

    if args.config:
        tables = read_toml(args.config)
        if set(tables) != {"design"} or not isinstance(tables["design"], dict):
            raise ValueError(f"--config {args.config}: expected one [design] table (the run's settings), "
                             f"got {sorted(tables)}")
        cfg = update(tables["design"], f"--config {args.config}")
    sets = parse_assignments(args.set)
    if sets:
        cfg = update(sets, "--set")
    options = {k: getattr(args, k) for k in _OPTIONS[args.task] if getattr(args, k, None) is not None}
    both = sorted(set(options) & set(sets))
    if both:
        raise ValueError(f"{both} given both as options and with --set; give each once")
    for key, value in options.items():
        cfg = update({key: value}, f"option --{key.replace('_', '-')}")
    return cfg


def run(args) -> int:
    """Train (or resume) one run of ``args.task`` with the resolved configuration."""
    from grokphase._io import dumps_strict
    from grokphase.sweep.design import qualified_name, resolved_config, write_toml

    if args.task == "modular":
        from grokphase.validation.experiments import modular_grokking as exp

        run_fn = exp.run_modular
    else:
        from grokphase.validation.experiments import icl_training as exp

        run_fn = exp.run_icl
    cfg = resolve(args, exp)
    if args.write_config:
        path = write_toml(args.write_config, {"design": resolved_config(cfg)},
                          comment=f"{qualified_name(cfg)} (grokphase train {args.task} --config FILE)")
        print(dumps_strict({"config": str(path)}) if args.json else f"wrote {path}")
        return 0
    run_dir = args.run_dir or f"runs/{args.task}_{args.preset}_seed{cfg.seed}_{exp.config_id(cfg)}"
    summary = run_fn(cfg, run_dir, resume=not args.fresh, progress=show_progress(args))
    emit((summary if args.json else {k: v for k, v in summary.items() if k != "run"}) | {"run_dir": str(run_dir)},
         args)
    return 0
