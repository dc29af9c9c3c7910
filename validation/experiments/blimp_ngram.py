"""The minimal-pair harness end to end: a Kneser-Ney word n-gram scored on BLiMP paradigms.

Design (``docs/exposure_grokking.md`` §2): a closed word vocabulary over every sentence of the paradigm files
(good and bad; lower-cased words of ``split_words``); for each paradigm, an interpolated Kneser-Ney
model of order ``order`` trained on the *good* sentences of every other paradigm (each followed by the
end token; ``holdout="paradigm"``), or on the good sentences of a JSON-lines text corpus
(``corpus``: one ``{"text": ...}`` document per line, split into sentences at . ? !); scored with
``score_pairs`` (method ``method``, prefix = the end token).  The n-gram never sees the paradigm it
is scored on, but BLiMP's paradigms share vocabulary and templates, so the other paradigms are
in-domain training text.  Counts are built once per paradigm and the leave-one-out model from the
difference of the totals.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass

from grokphase.validation.exposure.minimal_pairs import load_blimp
from grokphase.validation.exposure.ngram import KneserNeyLM, ngram_counts
from grokphase.validation.exposure.scoring import (METHODS, concat_results, models_summary,
                                                   pairs_for_method, score_pairs)
from grokphase.validation.exposure.tokenizer import EOS, WordTokenizer

__all__ = ["BlimpNgram", "run_blimp_ngram"]


@dataclass(frozen=True)
class BlimpNgram:
    """data: a BLiMP-format file or folder; corpus: None (leave-one-paradigm-out on ``data``'s good
    sentences) or a JSON-lines text file; order: n-gram order; method: a scoring method."""

    data: str
    corpus: str | None = None
    order: int = 3
    method: str = "sum"

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        if not (isinstance(self.order, int) and self.order >= 1):
            raise ValueError(f"order must be an integer >= 1; got {self.order!r}")


def _corpus_sentences(path: str) -> list[str]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    text = json.loads(line)["text"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise ValueError(f"{path}, line {lineno}: expected a JSON object with a 'text' field") from None
                out += [s for s in re.split(r"(?<=[.?!])\s+", text) if s.strip()]
    return out


def run_blimp_ngram(cfg: BlimpNgram, *, progress: bool = False) -> dict:
    """Score every paradigm of ``cfg.data``; returns ``{"config", "n_pairs", "vocab_size", "acc",
    "by_uid" (blimp_<UID> -> acc, n, n_ties, linguistics_term), "models_summary" (BLiMP's layout,
    model column "ngram"), "wall_seconds"}``."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    pairs = pairs_for_method(load_blimp(cfg.data), cfg.method)
    corpus = _corpus_sentences(cfg.corpus) if cfg.corpus else None
    texts = [s for p in pairs for s in (p.sentence_good, p.sentence_bad)] + (corpus or [])
    tok = WordTokenizer.from_texts(texts)
    by_uid: dict[str, list] = {}
    for p in pairs:
        by_uid.setdefault(p.UID, []).append(p)
    if corpus is not None:
        shared = KneserNeyLM.from_counts(ngram_counts((tok(s) + [EOS] for s in corpus), cfg.order, EOS),
                                         len(tok), cfg.order, EOS)
    else:
        per = {u: ngram_counts((tok(p.sentence_good) + [EOS] for p in ps), cfg.order, EOS)
               for u, ps in by_uid.items()}
        total = sum(per.values(), Counter())
    results = []
    for u in tqdm(sorted(by_uid), desc="paradigms", disable=not progress):
        lm = shared if corpus is not None else KneserNeyLM.from_counts(total - per[u], len(tok), cfg.order, EOS)
        results.append(score_pairs(by_uid[u], lm, tok, prefix_id=EOS, method=cfg.method))
    res = concat_results(results)
    table = res.by_uid()
    return {"config": asdict(cfg), "n_pairs": int(res.correct.size), "vocab_size": len(tok),
            "acc": res.acc, "by_uid": table, "models_summary": models_summary({"ngram": res}),
            "wall_seconds": time.perf_counter() - t0}
