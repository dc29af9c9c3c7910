"""``grokphase blimp score``: minimal-pair accuracy per BLiMP paradigm for any model.

The model is either a user's callback (``--logprob module:function``: ``function(list of id lists)
-> list of per-token log-prob arrays``, with ``--tokenize module:function`` and ``--prefix-id``; the
tokenizer and prefix default to the module's ``tokenize`` and ``PREFIX_ID``) or the built-in
Kneser-Ney n-gram (``--model ngram``: trained leave-one-paradigm-out on the good sentences of
``--data``, or on ``--corpus`` JSON lines).
"""

from __future__ import annotations

from grokphase.cli._args import add_json, show_progress
from grokphase.cli._output import emit


def add_parser(sub) -> None:
    """Add the ``blimp`` subcommand group (score) to ``sub``."""
    p = sub.add_parser("blimp", help="BLiMP-format minimal pairs: per-paradigm accuracy",
                       description="Score BLiMP-format minimal pairs (blimp_<UID> acc, models_summary layout).")
    bsub = p.add_subparsers(dest="blimp_command", required=True)
    q = bsub.add_parser("score", help="accuracy per paradigm of a model on BLiMP-format files",
                        description=__doc__)
    q.add_argument("--data", required=True, help="a BLiMP-format .jsonl file or a folder of them")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--logprob", metavar="MODULE:FUNCTION", help="the model's log-prob callback")
    src.add_argument("--model", choices=("ngram",), help="a built-in model")
    q.add_argument("--tokenize", metavar="MODULE:FUNCTION", help="tokenizer (default: MODULE.tokenize)")
    q.add_argument("--prefix-id", type=int, help="the one prefix token (default: MODULE.PREFIX_ID)")
    q.add_argument("--corpus", help="ngram: JSON-lines training text instead of leave-one-paradigm-out")
    q.add_argument("--order", type=int, default=3, help="ngram order (default 3)")
    q.add_argument("--method", default="sum",
                   choices=("sum", "mean", "one_prefix", "two_prefix", "critical_margin"),
                   help="scoring method (default sum: lm-eval acc)")
    q.add_argument("--batch-size", type=int, default=1024, help="sequences per logprob call")
    q.add_argument("--out", help="also write the JSON summary to this file")
    add_json(q)
    q.set_defaults(func=score, parser=q)


def _load(spec: str, what: str):
    import importlib

    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise ValueError(f"{what} must be MODULE:FUNCTION; got {spec!r}")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ValueError(f"{what}: cannot import module {mod_name!r} ({e})") from None
    if not hasattr(mod, attr):
        raise ValueError(f"{what}: module {mod_name!r} has no attribute {attr!r}")
    return mod, getattr(mod, attr)


def score(args) -> int:
    """Score ``args.data`` and print the per-paradigm table (or JSON)."""
    import time

    from grokphase._io import atomic_write_json

    progress = show_progress(args)
    if args.model == "ngram":
        from grokphase.validation.experiments.blimp_ngram import BlimpNgram, run_blimp_ngram

        out = run_blimp_ngram(BlimpNgram(data=args.data, corpus=args.corpus, order=args.order,
                                         method=args.method), progress=progress)
    else:
        from grokphase.validation.exposure.minimal_pairs import load_blimp
        from grokphase.validation.exposure.scoring import models_summary, pairs_for_method, score_pairs

        t0 = time.perf_counter()
        mod, logprob = _load(args.logprob, "--logprob")
        tokenize = _load(args.tokenize, "--tokenize")[1] if args.tokenize else getattr(mod, "tokenize", None)
        prefix = args.prefix_id if args.prefix_id is not None else getattr(mod, "PREFIX_ID", None)
        if tokenize is None or prefix is None:
            raise ValueError("--logprob needs a tokenizer and a prefix id: --tokenize/--prefix-id, or "
                             "tokenize and PREFIX_ID in the module")
        res = score_pairs(pairs_for_method(load_blimp(args.data), args.method), logprob, tokenize,
                          prefix_id=prefix, method=args.method, batch_size=args.batch_size, progress=progress)
        out = {"config": {"data": args.data, "logprob": args.logprob, "method": args.method},
               "n_pairs": int(res.correct.size), "acc": res.acc, "by_uid": res.by_uid(),
               "models_summary": models_summary({"model": res}), "wall_seconds": time.perf_counter() - t0}
    if args.out:
        atomic_write_json(args.out, out, indent=1)
    if args.json:
        emit(out, args)
        return 0
    col = next(k for k in out["models_summary"][0] if k not in ("UID", "linguistics_term"))
    print(f"{'paradigm':<58} {'acc':>6} {'n':>6}")
    for key, row in out["by_uid"].items():
        print(f"{key:<58} {row['acc']:>6.3f} {row['n']:>6}")
    for row in out["models_summary"]:
        if row["UID"] == "overall":
            print(f"{'overall ' + row['linguistics_term']:<58} {row[col]:>6.3f}")
    print(f"{out['n_pairs']} pairs, {out['wall_seconds']:.1f} s")
    return 0
