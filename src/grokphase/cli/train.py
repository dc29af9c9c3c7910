"""``grokphase train``: train the NumPy transformer (modular grokking or in-context modular arithmetic)."""

from __future__ import annotations

import json
import sys

# Default presets; the full lists live with the experiments (imported only when a command runs, so
# an unknown --preset is reported then, with the valid names).
_DEFAULT_PRESET = {"modular": "nanda97", "icl": "p7-T40"}


def add_parser(sub) -> None:
    """Add the ``train`` subcommand group (modular, icl) to ``sub``."""
    p = sub.add_parser("train", help="train the NumPy transformer (resumable, logged runs)",
                       description="Train the PyTorch-free NumPy transformer on a task; metrics in RUN_DIR/metrics.jsonl.")
    tsub = p.add_subparsers(dest="task", required=True)

    def train_common(q, task):
        default = _DEFAULT_PRESET[task]
        q.add_argument("--preset", default=default,
                       help=f"documented configuration of the experiment (default {default}; "
                            "an unknown name lists the valid ones)")
        q.add_argument("--seed", type=int, help="seed (data split, init, batches)")
        q.add_argument("--steps", type=int, help="optimiser steps")
        q.add_argument("--lr", type=float, help="AdamW learning rate")
        q.add_argument("--weight-decay", type=float, help="AdamW weight decay")
        q.add_argument("--run-dir", help="output folder (default runs/<task>_<preset>_seed<seed>)")
        q.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
        q.add_argument("--json", action="store_true", help="machine-readable summary, no progress lines")
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


def run(args) -> int:
    """Train (or resume) one run of ``args.task`` with the preset and the given overrides."""
    import dataclasses

    if args.task == "modular":
        from grokphase.validation.experiments import modular_grokking as exp

        run_fn = exp.run_modular
        names = ("p", "op", "frac", "seed", "steps", "lr", "weight_decay")
    else:
        from grokphase.validation.experiments import icl_training as exp

        run_fn = exp.run_icl
        names = ("p", "n_task", "alpha", "n_ctx", "seed", "steps", "lr", "weight_decay")
    if args.preset not in exp.PRESETS:
        args.parser.error(f"argument --preset: invalid choice: {args.preset!r} "
                          f"(choose from {', '.join(sorted(exp.PRESETS))})")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
    cfg = dataclasses.replace(exp.PRESETS[args.preset], **overrides)
    run_dir = args.run_dir or f"runs/{args.task}_{args.preset}_seed{cfg.seed}"
    summary = run_fn(cfg, run_dir, resume=not args.fresh, progress=not args.json)
    if args.json:
        json.dump(summary, sys.stdout, indent=2, default=float)
        print()
    else:
        print(json.dumps({k: v for k, v in summary.items() if k != "run"}, indent=1, default=float))
        print(f"run directory: {run_dir}")
    return 0
