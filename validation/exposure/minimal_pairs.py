"""Minimal pairs in the BLiMP schema: loading, critical-token rules, writing our own paradigms.

A record has BLiMP's ten required fields (``REQUIRED``), BLiMP's optional prefix fields, our
optional critical-token fields (``critical_phrase_good``, ``critical_phrase_bad``,
``critical_index``, ``context_index``) and keeps every other field in ``extra`` (e.g.
``dependency_length``, ``crucial_item``, ``exposure_group``).  ``pairID`` is a string.

Words
-----
Indices count *words* of :func:`split_words`: maximal runs of letters/digits joined by internal
apostrophes or hyphens ("hasn't", "Lisa's", "well-known"), and every other non-space character
alone ("." "?" ",").

Critical-token rules (``RULES``; ``docs/exposure_grokking.md`` §2)
---------------------------------------------------------
The *critical token* is where a left-to-right model can first see the violation; the *context
token* is the word it must agree with; the *critical phrase* is the span context .. critical
(inclusive) of each sentence.  Let d be the first word where good and bad differ.

``demonstrative_noun`` (determiner_noun_agreement_1, _irregular_1, _with_adjective_1, _with_adj_irregular_1)
    critical = d (the noun); context = the nearest demonstrative (this/that/these/those) before it.
``demonstrative_then_noun`` (determiner_noun_agreement_2, _irregular_2, _with_adj_2, _with_adj_irregular_2)
    context = d (the demonstrative); critical = the last word of ``two_prefix_word`` (the head noun:
    "these grocery store": store).
``subject_then_verb`` (regular_/irregular_plural_subject_verb_agreement_1)
    critical = d (the verb); context = the word before it (the subject's last word).
``subject_noun_then_verb`` (regular_/irregular_plural_subject_verb_agreement_2)
    context = d (the subject noun); critical = the first word of ``two_prefix_word`` (the verb).
``head_before_preposition`` (distractor_agreement_relational_noun)
    critical = d (the verb); context = the word before the first preposition (the head noun, not
    the attractor: "A niece of most senators hasn't": niece).
``head_before_relativizer`` (distractor_agreement_relative_clause)
    critical = d (the verb); context = the word before the first that/who/which/whom.
``antecedent`` (anaphor_gender_agreement, anaphor_number_agreement)
    critical = d (the reflexive); context = the subject's last word: the word before the first
    auxiliary if the prefix has one, else the word before the main verb (the prefix's last word, or
    the one before it when that is a preposition: "boasts about").
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Iterable, Mapping

from grokphase._io import atomic_write_text, dumps_strict, iter_jsonl

__all__ = ["MinimalPair", "REQUIRED", "RULES", "load_blimp", "write_pairs", "split_words",
           "word_spans", "annotate_critical", "critical_span", "make_pair"]

REQUIRED = ("sentence_good", "sentence_bad", "field", "linguistics_term", "UID", "simple_LM_method",
            "one_prefix_method", "two_prefix_method", "lexically_identical", "pairID")
_STR_OPTIONAL = ("one_prefix_prefix", "one_prefix_word_good", "one_prefix_word_bad",
                 "two_prefix_prefix_good", "two_prefix_prefix_bad", "two_prefix_word",
                 "critical_phrase_good", "critical_phrase_bad")
_INT_OPTIONAL = ("critical_index", "context_index")
_BOOLS = ("simple_LM_method", "one_prefix_method", "two_prefix_method", "lexically_identical")

_WORD = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*|[^\w\s]|_")


@dataclass(frozen=True)
class MinimalPair:
    """One BLiMP-schema record (module docstring); ``source`` is "file:line" when loaded."""

    sentence_good: str
    sentence_bad: str
    field: str
    linguistics_term: str
    UID: str
    simple_LM_method: bool
    one_prefix_method: bool
    two_prefix_method: bool
    lexically_identical: bool
    pairID: str
    one_prefix_prefix: str | None = None
    one_prefix_word_good: str | None = None
    one_prefix_word_bad: str | None = None
    two_prefix_prefix_good: str | None = None
    two_prefix_prefix_bad: str | None = None
    two_prefix_word: str | None = None
    critical_phrase_good: str | None = None
    critical_phrase_bad: str | None = None
    critical_index: int | None = None
    context_index: int | None = None
    extra: Mapping = field(default_factory=dict, compare=False, hash=False)
    source: str = field(default="", compare=False, hash=False)

    def to_record(self) -> dict:
        """The JSON record: required fields, then the optional ones that are set, then ``extra``."""
        out = {}
        for f in fields(self):
            if f.name in ("extra", "source"):
                continue
            v = getattr(self, f.name)
            if v is not None:
                out[f.name] = v
        out.update(self.extra)
        return out

    @classmethod
    def from_record(cls, rec: Mapping, where: str = "") -> "MinimalPair":
        """Validate one record; ValueError naming ``where`` (file and line) and the field."""
        at = f"{where}: " if where else ""
        if not isinstance(rec, Mapping):
            raise ValueError(f"{at}expected a JSON object, got {type(rec).__name__}")
        missing = [k for k in REQUIRED if k not in rec]
        if missing:
            raise ValueError(f"{at}missing required field(s) {missing}")
        kw = {}
        for k in ("sentence_good", "sentence_bad", "field", "linguistics_term", "UID"):
            if not isinstance(rec[k], str) or not rec[k].strip():
                raise ValueError(f"{at}field {k!r} must be a non-empty string; got {rec[k]!r}")
            kw[k] = rec[k]
        for k in _BOOLS:
            if not isinstance(rec[k], bool):
                raise ValueError(f"{at}field {k!r} must be true or false; got {rec[k]!r}")
            kw[k] = rec[k]
        pid = rec["pairID"]
        if isinstance(pid, bool) or not isinstance(pid, (str, int)):
            raise ValueError(f"{at}field 'pairID' must be a string; got {pid!r}")
        kw["pairID"] = str(pid)
        for k in _STR_OPTIONAL:
            if rec.get(k) is not None:
                if not isinstance(rec[k], str):
                    raise ValueError(f"{at}field {k!r} must be a string; got {rec[k]!r}")
                kw[k] = rec[k]
        for k in _INT_OPTIONAL:
            if rec.get(k) is not None:
                if isinstance(rec[k], bool) or not isinstance(rec[k], int) or rec[k] < 0:
                    raise ValueError(f"{at}field {k!r} must be an integer >= 0; got {rec[k]!r}")
                kw[k] = rec[k]
        known = set(REQUIRED) | set(_STR_OPTIONAL) | set(_INT_OPTIONAL)
        extra = {k: v for k, v in rec.items() if k not in known}
        if kw["one_prefix_method"]:
            _need(rec, at, "one_prefix_method", ("one_prefix_prefix", "one_prefix_word_good", "one_prefix_word_bad"))
        if kw["two_prefix_method"]:
            _need(rec, at, "two_prefix_method", ("two_prefix_prefix_good", "two_prefix_prefix_bad", "two_prefix_word"))
        return cls(**kw, extra=extra, source=where)


def _need(rec, at, flag, keys):
    missing = [k for k in keys if not isinstance(rec.get(k), str)]
    if missing:
        raise ValueError(f"{at}{flag} is true but field(s) {missing} are missing")


def load_blimp(path: str | os.PathLike) -> list[MinimalPair]:
    """Read one BLiMP-format JSON-lines file, or every ``*.jsonl`` of a folder (sorted by name;
    ``models_summary.jsonl``, BLiMP's published results, is skipped).

    Raises
    ------
    ValueError
        Naming file and line for invalid JSON, missing or mistyped fields; for a folder without
        paradigm files or a path that does not exist.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.jsonl") if p.name != "models_summary.jsonl")
        if not files:
            raise ValueError(f"{path}: no BLiMP paradigm files (*.jsonl)")
    elif path.is_file():
        files = [path]
    else:
        raise ValueError(f"path {str(path)!r} is neither a file nor a folder")
    pairs = []
    for f in files:
        pairs += [MinimalPair.from_record(rec, where) for where, rec in iter_jsonl(f)]
    return pairs


def write_pairs(path: str | os.PathLike, pairs: Iterable[MinimalPair]) -> Path:
    """Write pairs as BLiMP-format JSON lines (atomically); returns the path."""
    return atomic_write_text(path, "".join(dumps_strict(p.to_record()) + "\n" for p in pairs))


# ---------------------------------------------------------------------- words
def word_spans(sentence: str) -> list[tuple[int, int]]:
    """Character spans (start, end) of the words of ``sentence`` (module docstring)."""
    return [m.span() for m in _WORD.finditer(sentence)]


def split_words(sentence: str) -> list[str]:
    """The words of ``sentence``: ``split_words("Jill hasn't left.") == ["Jill", "hasn't", "left", "."]``."""
    return _WORD.findall(sentence)


# ---------------------------------------------------------------------- critical tokens
_DEMONSTRATIVES = {"this", "that", "these", "those"}
_PREPOSITIONS = {"of", "about", "to", "with", "at", "on", "for", "from", "in", "after", "by",
                 "around", "like", "near", "toward", "towards", "into", "over", "upon", "through"}
_RELATIVIZERS = {"that", "who", "which", "whom"}
_AUXILIARIES = set("""is was are were has have had hasn't haven't hadn't isn't wasn't aren't weren't
can can't cannot could couldn't will won't would wouldn't should shouldn't might must did didn't
does doesn't do don't may""".split())


def _first_difference(g: list[str], b: list[str], at: str) -> int:
    for i, (x, y) in enumerate(zip(g, b)):
        if x != y:
            return i
    raise ValueError(f"{at}: good and bad sentences have no differing word")


def _nearest_before(words, i, vocab, at, what):
    for j in range(i - 1, -1, -1):
        if words[j].lower() in vocab:
            return j
    raise ValueError(f"{at}: no {what} before word {i} ({words[i]!r})")


def _rule_demonstrative_noun(p, g, b, d, at):
    return d, _nearest_before(g, d, _DEMONSTRATIVES, at, "demonstrative")


def _second_prefix(p, g, d, at, what, last):
    """Index of the first (or, with ``last``, the last) word of two_prefix_word in sentence_good."""
    if p.two_prefix_word is None or p.two_prefix_prefix_good is None:
        raise ValueError(f"{at}: rule needs two_prefix_prefix_good and two_prefix_word")
    start = len(split_words(p.two_prefix_prefix_good))
    cont = split_words(p.two_prefix_word)
    if not cont or g[start:start + len(cont)] != cont:
        raise ValueError(f"{at}: two_prefix_word {p.two_prefix_word!r} does not follow its prefix in "
                         f"sentence_good")
    crit = start + len(cont) - 1 if last else start
    if not d < crit:
        raise ValueError(f"{at}: the {what} (word {d}) does not precede the critical word {crit}")
    return crit, d


def _rule_demonstrative_then_noun(p, g, b, d, at):
    if g[d].lower() not in _DEMONSTRATIVES:
        raise ValueError(f"{at}: first differing word {g[d]!r} is not a demonstrative")
    return _second_prefix(p, g, d, at, "demonstrative", last=True)


def _rule_subject_then_verb(p, g, b, d, at):
    if d == 0:
        raise ValueError(f"{at}: the verb is the first word")
    return d, d - 1


def _rule_subject_noun_then_verb(p, g, b, d, at):
    return _second_prefix(p, g, d, at, "subject noun", last=False)


def _rule_head_before(vocab, what):
    def rule(p, g, b, d, at):
        for j in range(1, d):
            if g[j].lower() in vocab:
                return d, j - 1
        raise ValueError(f"{at}: no {what} before the verb {g[d]!r}")
    return rule


def _rule_antecedent(p, g, b, d, at):
    aux = [j for j in range(1, d) if g[j].lower() in _AUXILIARIES]
    if aux:
        return d, aux[0] - 1
    verb = d - 2 if g[d - 1].lower() in _PREPOSITIONS else d - 1
    if verb < 1:
        raise ValueError(f"{at}: cannot place the antecedent before {g[d]!r}")
    return d, verb - 1


RULES = {
    **dict.fromkeys(["determiner_noun_agreement_1", "determiner_noun_agreement_irregular_1",
                     "determiner_noun_agreement_with_adjective_1",
                     "determiner_noun_agreement_with_adj_irregular_1"], _rule_demonstrative_noun),
    **dict.fromkeys(["determiner_noun_agreement_2", "determiner_noun_agreement_irregular_2",
                     "determiner_noun_agreement_with_adj_2",
                     "determiner_noun_agreement_with_adj_irregular_2"], _rule_demonstrative_then_noun),
    **dict.fromkeys(["regular_plural_subject_verb_agreement_1",
                     "irregular_plural_subject_verb_agreement_1"], _rule_subject_then_verb),
    **dict.fromkeys(["regular_plural_subject_verb_agreement_2",
                     "irregular_plural_subject_verb_agreement_2"], _rule_subject_noun_then_verb),
    "distractor_agreement_relational_noun": _rule_head_before(_PREPOSITIONS, "preposition"),
    "distractor_agreement_relative_clause": _rule_head_before(_RELATIVIZERS, "relativizer"),
    **dict.fromkeys(["anaphor_gender_agreement", "anaphor_number_agreement"], _rule_antecedent),
}


def critical_span(pair: MinimalPair) -> tuple[int, int]:
    """(critical_index, context_index) of a pair by the rule of its UID (module docstring).

    Raises ValueError when the UID has no rule or the rule does not apply to the pair (naming the
    pair's source, UID and pairID)."""
    at = f"{pair.source or 'pair'} (UID {pair.UID}, pairID {pair.pairID})"
    rule = RULES.get(pair.UID)
    if rule is None:
        raise ValueError(f"{at}: no critical-token rule for UID {pair.UID!r}; rules exist for "
                         f"{sorted(RULES)}")
    g, b = split_words(pair.sentence_good), split_words(pair.sentence_bad)
    d = _first_difference(g, b, at)
    crit, ctx = rule(pair, g, b, d, at)
    if len(b) <= crit or (g[ctx] != b[ctx] and ctx != d):
        raise ValueError(f"{at}: the critical word {crit} or context word {ctx} is not aligned in sentence_bad")
    return crit, ctx


def annotate_critical(pairs: Iterable[MinimalPair]) -> list[MinimalPair]:
    """Pairs with critical_index, context_index and critical_phrase_good/bad filled in by ``RULES``
    (pairs that already have a critical_index are kept as they are)."""
    out = []
    for p in pairs:
        if p.critical_index is not None:
            out.append(p)
            continue
        crit, ctx = critical_span(p)
        g, b = split_words(p.sentence_good), split_words(p.sentence_bad)
        out.append(replace(p, critical_index=crit, context_index=ctx,
                           critical_phrase_good=" ".join(g[ctx:crit + 1]),
                           critical_phrase_bad=" ".join(b[ctx:crit + 1])))
    return out


# ---------------------------------------------------------------------- our own paradigms
def make_pair(*, UID: str, linguistics_term: str, field: str, pairID: str | int,
              good: list[str], bad: list[str], critical_index: int, context_index: int,
              lexically_identical: bool = False, **extra) -> MinimalPair:
    """A generated pair from word lists of equal length (sentences = words joined by spaces, with
    no space before final punctuation).  The prefix fields are filled where they apply: one-prefix
    when the sentences agree before ``critical_index`` and differ at it; two-prefix when they differ
    only before it (the shared continuation is the critical word)."""
    if len(good) != len(bad) or not (0 <= context_index < critical_index < len(good)):
        raise ValueError(f"need equal-length word lists and 0 <= context_index < critical_index < "
                         f"{len(good)}; got {len(good)}/{len(bad)} words, indices {context_index}, "
                         f"{critical_index}")

    def join(ws):
        return re.sub(r" ([.?!,;:])", r"\1", " ".join(ws))

    kw = {}
    same_prefix = good[:critical_index] == bad[:critical_index]
    if same_prefix and good[critical_index] != bad[critical_index]:
        kw.update(one_prefix_prefix=join(good[:critical_index]),
                  one_prefix_word_good=good[critical_index], one_prefix_word_bad=bad[critical_index])
    two = (not same_prefix and good[critical_index:] == bad[critical_index:])
    if two:
        kw.update(two_prefix_prefix_good=join(good[:critical_index]),
                  two_prefix_prefix_bad=join(bad[:critical_index]), two_prefix_word=good[critical_index])
    return MinimalPair(sentence_good=join(good), sentence_bad=join(bad), field=field,
                       linguistics_term=linguistics_term, UID=UID, simple_LM_method=True,
                       one_prefix_method="one_prefix_prefix" in kw, two_prefix_method=two,
                       lexically_identical=lexically_identical, pairID=str(pairID),
                       critical_phrase_good=" ".join(good[context_index:critical_index + 1]),
                       critical_phrase_bad=" ".join(bad[context_index:critical_index + 1]),
                       critical_index=critical_index, context_index=context_index, extra=extra, **kw)
