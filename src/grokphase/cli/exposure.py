"""``grokphase exposure``: count phrase exposure in a token stream; build the grammar corpus.

``count``  stream (a raw uint16/uint32 file, a corpus folder, or JSON-lines text with a vocabulary)
           + phrases (a file of phrases, or the critical phrases of BLiMP-format pairs) -> first
           occurrence and counts at each checkpoint (offsets, or steps x tokens per step): a CSV
           table, or strict JSON with --json; --out writes it to a file instead.
``corpus`` generate the grammar corpus (tokens.bin, corpus.json, pairs/) from a BLiMP folder.
"""

from __future__ import annotations

import json
import sys

from grokphase.cli._args import add_json
from grokphase.cli._output import emit


def add_parser(sub) -> None:
    """Add the ``exposure`` subcommand group (count, corpus) to ``sub``."""
    p = sub.add_parser("exposure", help="phrase exposure counts over a token stream; the grammar corpus",
                       description=__doc__)
    esub = p.add_subparsers(dest="exposure_command", required=True)
    q = esub.add_parser("count", help="first occurrence and counts per checkpoint of phrases in a stream")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--stream", help="raw token file (see --dtype, --eos) or a corpus folder (corpus.json)")
    src.add_argument("--jsonl", help="JSON-lines text corpus, one {\"text\": ...} document per line (needs --vocab)")
    q.add_argument("--dtype", default="uint16", choices=("uint16", "uint32"), help="ids of a raw --stream")
    q.add_argument("--eos", type=int, help="end-of-document id (a corpus folder gives its own)")
    q.add_argument("--vocab", help="vocabulary JSON ({\"vocab\": [...]}) for text phrases / --jsonl")
    ph = q.add_mutually_exclusive_group(required=True)
    ph.add_argument("--phrases", help="file with one phrase per line: a JSON list of ids, or text")
    ph.add_argument("--blimp", help="BLiMP-format file or folder: count the good and bad critical phrases")
    q.add_argument("--upto", type=int, nargs="+", help="checkpoint offsets (tokens seen); default: the end")
    q.add_argument("--steps", type=int, nargs="+", help="checkpoint steps (needs --tokens-per-step)")
    q.add_argument("--tokens-per-step", type=int, help="tokens consumed per optimiser step")
    q.add_argument("--backend", default="numpy", choices=("numpy", "aho"), help="search backend")
    q.add_argument("--out", help="write the table (CSV, or JSON with --json) to this file instead of stdout")
    add_json(q)
    q.set_defaults(func=count, parser=q)

    c = esub.add_parser("corpus", help="generate the grammar corpus with its exposure schedule")
    c.add_argument("--blimp", required=True, help="BLiMP folder (lexicon, forbidden sentences)")
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument("--tokens", type=int, default=12_000_000, help="stream length (default 12 M)")
    c.add_argument("--seed", type=int, default=0, help="seed")
    c.add_argument("--pairs-per-group", type=int, default=100, help="generated pairs per phenomenon and group")
    c.add_argument("--max-words", type=int, help="at most this many words per lexical class (small corpora)")
    c.add_argument("--filler-share", type=float,
                   help="share of filler sentences (default 0.2); the phenomenon frames share the rest in their "
                        "default proportions (a larger share: rarer agreement evidence, a knob of the study)")
    add_json(c)
    c.set_defaults(func=corpus, parser=c)


def _stream(args):
    import numpy as np

    from grokphase.validation.exposure.index import read_jsonl_stream
    from grokphase.validation.exposure.tokenizer import WordTokenizer

    tok = WordTokenizer.load(args.vocab) if args.vocab else None
    if args.jsonl:
        if tok is None:
            raise ValueError("--jsonl needs --vocab (the tokenizer of the text)")
        eos = tok.eos_id if args.eos is None else args.eos
        return read_jsonl_stream(args.jsonl, tok, eos), eos, tok
    from pathlib import Path

    path = Path(args.stream)
    if path.is_dir():
        from grokphase.validation.exposure.corpus import load_corpus

        tokens, ctok, meta = load_corpus(path)
        return tokens, meta["eos_id"], tok or ctok
    if not path.is_file():
        raise ValueError(f"--stream {args.stream!r} is neither a file nor a corpus folder")
    return np.memmap(path, dtype=args.dtype, mode="r"), args.eos, tok


def _phrases(args, tok):
    """(rows of labels, list of id lists)."""
    if args.blimp:
        from grokphase.validation.exposure.minimal_pairs import annotate_critical, load_blimp

        if tok is None:
            raise ValueError("--blimp needs a vocabulary (--vocab, or a corpus folder as --stream)")
        rows, ids = [], []
        for p in annotate_critical(load_blimp(args.blimp)):
            for which, text in (("good", p.critical_phrase_good), ("bad", p.critical_phrase_bad)):
                rows.append({"UID": p.UID, "pairID": p.pairID, "which": which, "phrase": text})
                ids.append(tok.encode(text))
        return rows, ids
    rows, ids = [], []
    with open(args.phrases, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            if line.startswith("["):
                try:
                    ph = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{args.phrases}, line {lineno}: invalid JSON list ({e.msg})") from None
            elif tok is None:
                raise ValueError(f"{args.phrases}, line {lineno}: a text phrase needs --vocab")
            else:
                ph = tok.encode(line)
            rows.append({"phrase": line})
            ids.append(ph)
    return rows, ids


def count(args) -> int:
    """Count the phrases of ``args`` in the stream and print / write the table."""
    import numpy as np

    from grokphase._io import atomic_write_text, dumps_strict
    from grokphase.validation.exposure.index import ExposureIndex

    tokens, eos, tok = _stream(args)
    if args.steps is not None and args.tokens_per_step is None:
        raise ValueError("--steps needs --tokens-per-step")
    idx = ExposureIndex(tokens, eos_id=eos, backend=args.backend, tokens_per_step=args.tokens_per_step,
                        vocab_size=max(int(tokens.max()) + 1, len(tok) if tok else 0))
    rows, ids = _phrases(args, tok)
    occ = idx.occurrences(ids)
    if args.steps is not None:
        steps = np.asarray(args.steps)
        upto = idx.offsets_at_steps(steps)
    else:
        steps = None
        upto = np.asarray(args.upto if args.upto is not None else [len(tokens)])
    counts = occ.counts(upto)
    first = occ.first()
    first_step = idx.first_occurrence_step(ids) if args.tokens_per_step else None
    for i, r in enumerate(rows):
        r.update(ids=[int(t) for t in ids[i]], first_occurrence=int(first[i]), counts=counts[i].tolist())
        if first_step is not None:
            r["first_step"] = int(first_step[i])
    if args.json:
        text = dumps_strict({"n_tokens": int(len(tokens)), "eos_id": eos, "backend": args.backend,
                             "checkpoints": {"offset": upto.tolist(),
                                             **({"step": steps.tolist()} if steps is not None else {})},
                             "rows": rows}, indent=1) + "\n"
    else:
        import csv
        import io

        labels = [k for k in ("UID", "pairID", "which") if rows and k in rows[0]]
        cols = (["step_" + str(s) for s in steps] if steps is not None else ["upto_" + str(u) for u in upto])
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(labels + ["phrase", "ids", "first_occurrence"] + (["first_step"] if first_step is not None else []) + cols)
        for r in rows:
            w.writerow([r[k] for k in labels] + [r["phrase"], " ".join(map(str, r["ids"])), r["first_occurrence"]]
                       + ([r["first_step"]] if first_step is not None else []) + r["counts"])
        text = buf.getvalue()
    if args.out:
        path = atomic_write_text(args.out, text)
        emit({"out": str(path), "phrases": len(rows), "checkpoints": int(upto.size)}, args)
    else:
        sys.stdout.write(text)
    return 0


def corpus(args) -> int:
    """Generate and write the grammar corpus."""
    from grokphase.validation.exposure.corpus import GrammarConfig, build_corpus

    kw = {}
    if args.filler_share is not None:
        kw["weights"] = filler_weights(GrammarConfig().weights, args.filler_share)
    c = build_corpus(args.blimp, GrammarConfig(n_tokens=args.tokens, seed=args.seed,
                                               pairs_per_group=args.pairs_per_group,
                                               max_words=args.max_words, **kw), args.out)
    emit({"out": args.out, "n_tokens": int(c.tokens.size), "vocab_size": len(c.tokenizer),
          "onset_offset": c.onset_offset, "pairs": len(c.pairs), "stats": c.stats}, args)
    return 0


def filler_weights(weights, share: float) -> tuple:
    """Frame shares with the filler frame at ``share`` and the phenomenon frames scaled to the rest
    in their proportions (the 'rare evidence' knob: a larger filler share means fewer agreement
    examples per token).

    >>> filler_weights((("det_noun", 0.4), ("subj_verb", 0.4), ("filler", 0.2)), 0.6)
    (('det_noun', 0.2), ('subj_verb', 0.2), ('filler', 0.6))
    """
    if not 0 <= share < 1:
        raise ValueError(f"--filler-share must be in [0, 1); got {share}")
    rest = sum(w for n, w in weights if n != "filler")
    return tuple((n, round(w * (1 - share) / rest, 12)) for n, w in weights if n != "filler") + (("filler", share),)

