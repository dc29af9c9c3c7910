"""Minimal-pair accuracy of any language model, given only its per-token log-probabilities.

Conventions (``docs/exposure_grokking.md`` §2).  A model is a callback ``logprob_fn(seqs)``: for each token-id
sequence s it returns an array of length len(s) - 1 holding log p(s[t] | s[:t]), t = 1 .. len(s) - 1.
Every scored sequence starts with one ``prefix_id`` (BOS, or EOS for models without one, as
lm-evaluation-harness does for GPT-2).  A *conditional score* lp(c | x) of a continuation text c
after a context text x follows lm-evaluation-harness's encoding: ``whole = tokenize(x + " " + c)``,
``ctx = tokenize(x)``; the sequence is ``[prefix_id] + whole`` and the score is the sum of the
log-probs of ``whole[len(ctx):]`` (an empty x gives the full-sentence score).

Methods (pair correct when score(good) > score(bad); an exact tie counts as incorrect and is
reported in ``tie``; lm-evaluation-harness's argmax would count it as correct):

``"sum"``             lp(sentence): BLiMP's "simple LM method", lm-evaluation-harness ``blimp_<UID>`` ``acc``.
``"mean"``            lp(sentence) / number of its tokens (minicons' mean reduction).
``"one_prefix"``      lp(one_prefix_word_good | one_prefix_prefix) vs lp(one_prefix_word_bad | same prefix).
``"two_prefix"``      lp(two_prefix_word | two_prefix_prefix_good) vs lp(two_prefix_word | two_prefix_prefix_bad).
``"critical_margin"`` lp(critical word | the sentence before it), good vs bad, at the pair's
                      ``critical_index`` (see ``minimal_pairs.annotate_critical``); the margin is
                      score_good - score_bad.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from .minimal_pairs import MinimalPair, word_spans

__all__ = ["METHODS", "TERM_ALIASES", "ScoreResult", "score_pairs", "score_methods", "pairs_for_method",
           "models_summary", "concat_results"]

METHODS = ("sum", "mean", "one_prefix", "two_prefix", "critical_margin")

# BLiMP's models_summary groups its UIDs by 12 phenomena; the data files name one group differently.
TERM_ALIASES = {"s-selection": "argument_structure"}


@dataclass(frozen=True)
class ScoreResult:
    """Scores of n pairs by one method.

    Attributes
    ----------
    method : str
    uid, pair_id, linguistics_term : ndarray of str, shape (n,)
    score_good, score_bad : ndarray of float64, shape (n,)
    correct, tie : ndarray of bool, shape (n,)
        score_good > score_bad, and score_good == score_bad.
    """

    method: str
    uid: np.ndarray
    pair_id: np.ndarray
    linguistics_term: np.ndarray
    score_good: np.ndarray
    score_bad: np.ndarray
    correct: np.ndarray
    tie: np.ndarray

    @property
    def acc(self) -> float:
        """Fraction of pairs scored correctly (NaN for no pairs)."""
        return float(self.correct.mean()) if self.correct.size else float("nan")

    @property
    def margin(self) -> np.ndarray:
        """score_good - score_bad, shape (n,)."""
        return self.score_good - self.score_bad

    def by_uid(self) -> dict[str, dict]:
        """``{"blimp_<UID>": {"acc", "n", "n_ties", "linguistics_term"}}``, UIDs in sorted order."""
        out = {}
        for u in sorted(set(self.uid.tolist())):
            m = self.uid == u
            out[f"blimp_{u}"] = {"acc": float(self.correct[m].mean()), "n": int(m.sum()),
                                 "n_ties": int(self.tie[m].sum()),
                                 "linguistics_term": str(self.linguistics_term[m][0])}
        return out


def concat_results(results: Sequence[ScoreResult]) -> ScoreResult:
    """One result holding the pairs of several (all scored by the same method)."""
    methods = {r.method for r in results}
    if len(methods) != 1:
        raise ValueError(f"results must share one method; got {sorted(methods)}")
    cat = {k: np.concatenate([getattr(r, k) for r in results])
           for k in ("uid", "pair_id", "linguistics_term", "score_good", "score_bad", "correct", "tie")}
    return ScoreResult(method=methods.pop(), **cat)


def models_summary(results: Mapping[str, ScoreResult], *, aliases: Mapping[str, str] = TERM_ALIASES) -> list[dict]:
    """Rows in the layout of BLiMP's ``models_summary.jsonl``: one row per UID (sorted by phenomenon,
    then UID) ``{"UID", "linguistics_term", <model>: acc, ...}``, then one ``"UID": "overall"`` row
    per phenomenon and a last row with ``"linguistics_term": "overall"``; each overall value is the
    mean over UIDs (not over pairs).  Phenomenon = the records' linguistics_term after ``aliases``.
    Models missing a UID get None there; the means use the UIDs a model has."""
    names = list(results)
    per = {m: r.by_uid() for m, r in results.items()}
    terms = {}
    for m in names:
        for key, row in per[m].items():
            terms[key[len("blimp_"):]] = aliases.get(row["linguistics_term"], row["linguistics_term"])
    uids = sorted(terms, key=lambda u: (terms[u], u))
    rows = []
    for u in uids:
        row = {"UID": u, "linguistics_term": terms[u]}
        for m in names:
            row[m] = per[m].get(f"blimp_{u}", {}).get("acc")
        rows.append(row)

    def mean(vals):
        vals = [v for v in vals if v is not None]
        return float(np.mean(vals)) if vals else None

    for t in sorted(set(terms.values())):
        rows.append({"UID": "overall", "linguistics_term": t,
                     **{m: mean(r[m] for r in rows[:len(uids)] if r["linguistics_term"] == t) for m in names}})
    rows.append({"UID": "overall", "linguistics_term": "overall",
                 **{m: mean(r[m] for r in rows[:len(uids)]) for m in names}})
    return rows


def pairs_for_method(pairs: Sequence[MinimalPair], method: str) -> list[MinimalPair]:
    """The pairs that ``method`` can score (BLiMP's *_method flags; critical_index for the margin)."""
    _check_method(method)
    return [p for p in pairs if _applies(p, method)]


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")


def _applies(p: MinimalPair, method: str) -> bool:
    return {"sum": True, "mean": True, "one_prefix": p.one_prefix_method,
            "two_prefix": p.two_prefix_method, "critical_margin": p.critical_index is not None}[method]


def _queries(p: MinimalPair, method: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """((context, continuation) of good, same of bad) as texts."""
    if method in ("sum", "mean"):
        return ("", p.sentence_good), ("", p.sentence_bad)
    if method == "one_prefix":
        return (p.one_prefix_prefix, p.one_prefix_word_good), (p.one_prefix_prefix, p.one_prefix_word_bad)
    if method == "two_prefix":
        return (p.two_prefix_prefix_good, p.two_prefix_word), (p.two_prefix_prefix_bad, p.two_prefix_word)
    out = []
    for s in (p.sentence_good, p.sentence_bad):
        spans = word_spans(s)
        if p.critical_index >= len(spans):
            raise ValueError(f"{p.source or 'pair'} (UID {p.UID}, pairID {p.pairID}): critical_index "
                             f"{p.critical_index} is beyond the {len(spans)} words of {s!r}")
        a, b = spans[p.critical_index]
        out.append((s[:a], s[a:b]))
    return out[0], out[1]


def _encode(tokenize, context: str, cont: str, where: str) -> tuple[tuple[int, ...], int]:
    """(whole token ids, number of context tokens) with lm-evaluation-harness's split."""
    context, cont = context.rstrip(), cont.strip()
    whole = _ids(tokenize, f"{context} {cont}" if context else cont, where)
    n_ctx = len(_ids(tokenize, context, where)) if context else 0
    if len(whole) <= n_ctx:
        raise ValueError(f"{where}: the continuation {cont!r} has no tokens of its own after {context!r}")
    return whole, n_ctx


def _ids(tokenize, text, where):
    ids = tokenize(text)
    try:
        out = tuple(int(i) for i in ids)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: tokenize({text!r}) must return a list of int ids; got {ids!r}") from None
    if any(i != j for i, j in zip(out, ids)):
        raise ValueError(f"{where}: tokenize({text!r}) must return int ids; got {ids!r}")
    return out


def score_pairs(pairs: Sequence[MinimalPair], logprob_fn: Callable[[list[list[int]]], Sequence],
                tokenize: Callable[[str], Sequence[int]], *, prefix_id: int, method: str = "sum",
                batch_size: int = 1024, progress: bool = False) -> ScoreResult:
    """Score minimal pairs with any model (module docstring for the methods).

    Parameters
    ----------
    pairs : sequence of MinimalPair
        Every pair must support ``method`` (see :func:`pairs_for_method`).
    logprob_fn : callable
        ``logprob_fn(list of m id lists) -> m arrays``, array i of length len(seq_i) - 1 with
        log p(seq_i[t] | seq_i[:t]).  Called on distinct sequences, at most ``batch_size`` at a
        time; a sequence that is a prefix of another requested one is not asked for (its log-probs
        are the first ones of the longer sequence: log p(s[t] | s[:t]) does not see later tokens).
    tokenize : callable
        ``tokenize(text) -> list[int]``.
    prefix_id : int
        The one token every scored sequence starts with.
    method : {"sum", "mean", "one_prefix", "two_prefix", "critical_margin"}

    Returns
    -------
    ScoreResult
        ``correct`` (n,) and ``acc``; ``by_uid()`` gives the ``blimp_<UID>`` table.

    Raises
    ------
    ValueError
        Unknown method; a pair the method does not apply to; a continuation without tokens;
        logprob_fn returning the wrong number of arrays, wrong lengths or non-finite values.
    """
    return score_methods(pairs, logprob_fn, tokenize, prefix_id=prefix_id, methods=(method,),
                         batch_size=batch_size, progress=progress)[method]


def score_methods(pairs: Sequence[MinimalPair], logprob_fn, tokenize, *, prefix_id: int,
                  methods: Sequence[str] = ("sum",), batch_size: int = 1024,
                  progress: bool = False) -> dict[str, ScoreResult]:
    """:func:`score_pairs` for several methods with one pass of the model: ``{method: ScoreResult}``."""
    for method in methods:
        _check_method(method)
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
    if isinstance(prefix_id, bool) or not isinstance(prefix_id, (int, np.integer)) or prefix_id < 0:
        raise ValueError(f"prefix_id must be an integer id >= 0; got {prefix_id!r}")
    pairs = list(pairs)
    seq_index: dict[tuple[int, ...], int] = {}
    plans = {}                                  # method -> per pair: ((seq id, n_ctx), (seq id, n_ctx))
    for method in methods:
        plan = []
        for p in pairs:
            where = f"{p.source or 'pair'} (UID {p.UID}, pairID {p.pairID})"
            if not _applies(p, method):
                raise ValueError(f"{where}: method {method!r} does not apply to this pair "
                                 f"(filter with pairs_for_method)")
            row = []
            for ctx, cont in _queries(p, method):
                whole, n_ctx = _encode(tokenize, ctx, cont, where)
                seq = (int(prefix_id),) + whole
                row.append((seq_index.setdefault(seq, len(seq_index)), n_ctx))
            plan.append(row)
        plans[method] = plan
    lps = _run_shared(logprob_fn, list(seq_index), batch_size, progress)
    meta = dict(uid=np.array([p.UID for p in pairs], dtype=str), pair_id=np.array([p.pairID for p in pairs], dtype=str),
                linguistics_term=np.array([p.linguistics_term for p in pairs], dtype=str))
    out = {}
    for method, plan in plans.items():
        scores = np.empty((len(pairs), 2))
        for i, row in enumerate(plan):
            for j, (k, n_ctx) in enumerate(row):
                cont = lps[k][n_ctx:]
                scores[i, j] = cont.sum() / (len(cont) if method == "mean" else 1)
        good, bad = scores[:, 0], scores[:, 1]
        out[method] = ScoreResult(method=method, **meta, score_good=good, score_bad=bad, correct=good > bad,
                                  tie=good == bad)
    return out


def _run_shared(logprob_fn, seqs: list[tuple], batch_size, progress) -> list[np.ndarray]:
    """Log-probs of every sequence, asking logprob_fn only for those that are no prefix of another
    (in lexicographic order a prefix's successor starts with it)."""
    order = sorted(range(len(seqs)), key=lambda i: seqs[i])
    root = {}                                   # sequence index -> index of the longest extension
    for a, b in zip(order[::-1][1:], order[::-1][:-1]):
        if seqs[b][:len(seqs[a])] == seqs[a]:
            root[a] = root.get(b, b)
    need = [i for i in range(len(seqs)) if i not in root]
    got = dict(zip(need, _run(logprob_fn, [seqs[i] for i in need], batch_size, progress)))
    return [got[i] if i in got else got[root[i]][:len(seqs[i]) - 1] for i in range(len(seqs))]


def _run(logprob_fn, seqs, batch_size, progress) -> list[np.ndarray]:
    from tqdm.auto import tqdm

    out = []
    bar = tqdm(total=len(seqs), desc="log-probs", unit="seq", disable=not progress)
    for b0 in range(0, len(seqs), batch_size):
        batch = [list(s) for s in seqs[b0:b0 + batch_size]]
        res = logprob_fn(batch)
        res = list(res)
        if len(res) != len(batch):
            raise ValueError(f"logprob_fn returned {len(res)} arrays for {len(batch)} sequences")
        for i, (s, lp) in enumerate(zip(batch, res)):
            lp = np.asarray(lp, dtype=np.float64)
            if lp.shape != (len(s) - 1,):
                raise ValueError(f"logprob_fn returned shape {lp.shape} for sequence {b0 + i} of length "
                                 f"{len(s)}; expected ({len(s) - 1},) (one log-prob per token after the first)")
            if not np.all(np.isfinite(lp)):
                raise ValueError(f"logprob_fn returned non-finite log-probs for sequence {b0 + i}: {s}")
            out.append(lp)
        bar.update(len(batch))
    bar.close()
    return out
