"""``grokphase lm train``: single-pass pre-training of the NumPy transformer on a grammar corpus
(resumable; parameter snapshots at log-spaced then regular steps in RUN_DIR/snapshots)."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    """Add the ``lm`` subcommand group (train) to ``sub``."""
    p = sub.add_parser("lm", help="causal-LM pre-training on the grammar corpus", description=__doc__)
    lsub = p.add_subparsers(dest="lm_command", required=True)
    q = lsub.add_parser("train", help="train (or resume) one pre-training run")
    q.add_argument("--corpus", required=True, help="corpus folder (grokphase exposure corpus)")
    q.add_argument("--preset", default="main", help="model size: main (4 x 4 heads, d 128) or small (2 x 4, d 64)")
    q.add_argument("--seed", type=int, default=0, help="initialisation seed")
    q.add_argument("--tokens", type=int, help="train on the first TOKENS of the stream (default: all)")
    q.add_argument("--batch", type=int, help="sequences per step (default 32)")
    q.add_argument("--context", type=int, help="tokens per sequence (default 64)")
    q.add_argument("--lr", type=float, help="AdamW learning rate (default 1e-3)")
    q.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 0.1)")
    q.add_argument("--max-steps", type=int, help="stop after this many steps (resume later)")
    q.add_argument("--run-dir", help="output folder (default runs/lm_<preset>_seed<seed>)")
    q.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
    q.add_argument("--json", action="store_true", help="machine-readable summary, no progress lines")
    q.set_defaults(func=train)


def train(args) -> int:
    """Train one run."""
    from grokphase._io import dumps_strict
    from grokphase.validation.experiments.lm_pretraining import PRESETS, LMRun, run_lm_pretraining

    if args.preset not in PRESETS:
        raise ValueError(f"--preset must be one of {sorted(PRESETS)}; got {args.preset!r}")
    kw = dict(PRESETS[args.preset])
    for name in ("batch", "context", "lr", "weight_decay", "tokens"):
        if getattr(args, name) is not None:
            kw[name] = getattr(args, name)
    run = LMRun(corpus=args.corpus, seed=args.seed, **kw)
    run_dir = args.run_dir or f"runs/lm_{args.preset}_seed{args.seed}"
    out = run_lm_pretraining(run, run_dir, resume=not args.fresh, progress=not args.json and sys.stderr.isatty(),
                             max_steps=args.max_steps)
    if args.json:
        print(dumps_strict({"run_dir": run_dir, **out}, indent=1))
    else:
        print(f"{run_dir}: {out['steps']}/{out['planned_steps']} steps of {out['tokens_per_step']} tokens, "
              f"{out['wall_time']:.0f} s, batch loss {out['final']['batch_loss']:.4g}")
    return 0
