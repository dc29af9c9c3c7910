"""``grokphase lm``: ``train`` single-pass pre-training of the NumPy transformer on a grammar corpus
(resumable; parameter snapshots at log-spaced then regular steps in RUN_DIR/snapshots);
``evaluate`` scores every snapshot (RUN_DIR/eval/) and summarises splits, delays, heads and
concept vectors (RUN_DIR/summary_eval.json); ``study`` does both for the study's runs through the
sweep layer and prints the R1-R3 verdicts."""

from __future__ import annotations

from grokphase.cli._args import add_json, show_progress
from grokphase.cli._output import emit


def add_parser(sub) -> None:
    """Add the ``lm`` subcommand group (train, evaluate, study) to ``sub``."""
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
    add_json(q)
    q.set_defaults(func=train, parser=q)
    e = lsub.add_parser("evaluate", help="score every checkpoint of a run; heads, concept vectors, delays")
    e.add_argument("--run-dir", required=True, help="a run folder of grokphase lm train")
    e.add_argument("--blimp", help="BLiMP folder: also score the real pairs of the mirrored paradigms")
    e.add_argument("--n-concept", type=int, default=40, help="pairs per concept-vector fit (default 40)")
    add_json(e)
    e.set_defaults(func=evaluate, parser=e)
    s = lsub.add_parser("study", help="train, evaluate and judge the study's runs (R1-R3 verdicts)")
    s.add_argument("--corpus", required=True, help="corpus folder (grokphase exposure corpus)")
    s.add_argument("--blimp", help="BLiMP folder: also score the real pairs of the mirrored paradigms")
    s.add_argument("--root", default="runs", help="folder of the run folders and the study's point store (default runs)")
    s.add_argument("--runs", nargs="+", metavar="PRESET:SEED",
                   help="runs of the study (default main:0 small:0 small:1 small:2)")
    s.add_argument("--weight-decay", type=float, help="AdamW weight decay of every run (a knob of the sweep; default 0.1)")
    s.add_argument("--out", help="write the study's numbers and verdicts to this JSON file")
    add_json(s)
    s.set_defaults(func=study, parser=s)


def train(args) -> int:
    """Train one run."""
    from grokphase.validation.experiments.lm_pretraining import PRESETS, LMRun, run_lm_pretraining

    if args.preset not in PRESETS:
        raise ValueError(f"--preset must be one of {sorted(PRESETS)}; got {args.preset!r}")
    kw = dict(PRESETS[args.preset])
    for name in ("batch", "context", "lr", "weight_decay", "tokens"):
        if getattr(args, name) is not None:
            kw[name] = getattr(args, name)
    run = LMRun(corpus=args.corpus, seed=args.seed, **kw)
    run_dir = args.run_dir or f"runs/lm_{args.preset}_seed{args.seed}"
    out = run_lm_pretraining(run, run_dir, resume=not args.fresh, progress=show_progress(args),
                             max_steps=args.max_steps)
    if args.json:
        emit({"run_dir": run_dir, **out}, args)
    else:
        print(f"{run_dir}: {out['steps']}/{out['planned_steps']} steps of {out['tokens_per_step']} tokens, "
              f"{out['wall_time']:.0f} s, batch loss {out['final']['batch_loss']:.4g}")
    return 0


def evaluate(args) -> int:
    """Evaluate every checkpoint of one run and print the delays per phenomenon."""
    from grokphase.validation.experiments.lm_evaluation import LMEvaluation, evaluate_run, summarize_run

    evaluate_run(LMEvaluation(run_dir=args.run_dir, blimp=args.blimp, n_concept=args.n_concept),
                 progress=show_progress(args))
    s = summarize_run(args.run_dir)
    if args.json:
        emit(s, args)
        return 0
    print(f"{'phenomenon':<20} {'acc train':>9} {'acc val':>8} {'t_train':>10} {'t_val':>10} {'Delta 95%':>24} {'top-2':>6}")
    num = lambda x, none: none if x is None else x
    for u, ph in s["phenomena"].items():
        d = ph["delays"]["0.8"]
        fx = ph["splits"]["fixed"]
        print(f"{u:<20} {num(fx['train']['acc'][-1], float('nan')):>9.3f} {num(fx['val']['acc'][-1], float('nan')):>8.3f} "
              f"{d['t_train']:>10.4g} {d['t_val']:>10.4g} "
              f"{str(d['delta_ci']):>24} {ph['head_concentration'][-1]['top_k_share']:>6.3f}")
    return 0


def study(args) -> int:
    """Train, evaluate and judge the study's runs (main + small seeds) through the sweep layer."""
    from grokphase.validation.experiments.lm_study import STUDY_RUNS, LMStudy, run_study, write_summary

    runs = STUDY_RUNS if not args.runs else tuple(_preset_seed(r) for r in args.runs)
    design = LMStudy(corpus=args.corpus, root=args.root, blimp=args.blimp, weight_decay=args.weight_decay)
    ds = run_study(design, runs, progress=show_progress(args))
    path = write_summary(ds, args.out) if args.out else None
    from grokphase.validation.experiments.lm_study import study_verdicts

    verdicts = study_verdicts(ds)
    if args.json:
        emit({"verdicts": verdicts, "summary": None if path is None else str(path)}, args)
        return 0
    for preset, v in verdicts.items():
        print(f"{preset} (seeds {v['seeds']}): delayed phenomena per seed {v['delayed_phenomena_per_seed']}, "
              f"control at chance {v['control_at_chance']}: R1 {v['R1']}; R2 passes per seed {v['r2_pass_per_seed']} "
              f"(testable {v['r2_testable_per_seed']}): R2 {v['R2']}; R3 passes per seed {v['r3_pass_per_seed']}: R3 {v['R3']}")
    if path:
        print(f"summary: {path}")
    return 0


def _preset_seed(text: str) -> tuple[str, int]:
    preset, sep, seed = text.partition(":")
    if not sep or not seed.strip().isdigit():
        raise ValueError(f"--runs takes PRESET:SEED items (e.g. small:1, seed a non-negative integer); got {text!r}")
    return preset, int(seed)
