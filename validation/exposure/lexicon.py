"""The lexicon of the grammar corpus, read from BLiMP's own sentences (``docs/exposure_grokking.md`` §4).

From a folder of BLiMP files (read at run time, never stored in the package):

nouns       (singular, plural) pairs, lower-cased.  Attested pairs: the good/bad critical words of
            the demonstrative paradigms (determiner_noun_agreement_*; number from the
            demonstrative) and the good/bad subject nouns of *_subject_verb_agreement_2.  Single
            attested forms (the noun after a demonstrative in a good sentence) are paired with an
            attested form of the other number when one is a regular inflection of the other
            (single forms also from the subject heads of the other subject-verb paradigms, their
            number read from the good verb).
            A pair is *irregular* unless plural = singular + s / es, or y -> ies.
names       capitalised single-word antecedents of herself/himself in anaphor_gender_agreement,
            with their gender ("f" / "m"), except those that are also another word lower-cased
            ("Guy": guy).
verbs       (third-person singular, base) pairs of single-word lexical verbs from the critical
            words of the subject-verb agreement paradigms (auxiliaries and contractions dropped);
            the 3sg form is the one ending in s when exactly one does, else the longer one, and it
            must be base + s / es / ies.  The number of a noun form is the majority reading over
            all its sentences (a few BLiMP sentences are mislabelled).
adjectives  the single word between the demonstrative and the noun in determiner_noun_agreement
            *_adj* paradigms.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .minimal_pairs import annotate_critical, load_blimp, split_words

__all__ = ["Lexicon", "extract_lexicon", "is_regular_plural"]

_SG_DEM = {"this", "that"}
_AUX_3SG = set("is was has does isn't wasn't hasn't doesn't".split())
_AUX_BASE = set("are were have do aren't weren't haven't don't".split())
_AUX = _AUX_3SG | _AUX_BASE | {"had", "did", "hadn't", "didn't"}


@dataclass(frozen=True)
class Lexicon:
    """Word classes (module docstring); every tuple sorted."""

    nouns: tuple[tuple[str, str], ...]            # (singular, plural), regular and irregular
    names: tuple[tuple[str, str], ...]            # (name, "f" | "m")
    verbs: tuple[tuple[str, str], ...]            # (3sg, base)
    adjectives: tuple[str, ...]

    @property
    def regular_nouns(self) -> tuple[tuple[str, str], ...]:
        return tuple(p for p in self.nouns if is_regular_plural(*p))

    @property
    def irregular_nouns(self) -> tuple[tuple[str, str], ...]:
        return tuple(p for p in self.nouns if not is_regular_plural(*p))

    def subset(self, n: int) -> "Lexicon":
        """At most n entries of each class (regular and irregular nouns separately), in order."""
        nouns = self.regular_nouns[:n] + self.irregular_nouns[:n]
        return Lexicon(nouns=tuple(sorted(nouns)), names=self.names[:n], verbs=self.verbs[:n],
                       adjectives=self.adjectives[:n])

    def words(self) -> list[str]:
        """Every form, in a fixed order."""
        out = [w for p in self.nouns for w in p] + [n for n, _ in self.names]
        return out + [w for p in self.verbs for w in p] + list(self.adjectives)


def is_regular_plural(sg: str, pl: str) -> bool:
    """pl = sg + "s" / "es", or sg ends in consonant + y and pl = sg[:-1] + "ies"."""
    return pl in (sg + "s", sg + "es") or (len(sg) > 1 and sg.endswith("y") and sg[-2] not in "aeiou"
                                           and pl == sg[:-1] + "ies")


def _third_singular(a: str, b: str) -> tuple[str, str]:
    ends_a, ends_b = a.endswith("s"), b.endswith("s")
    if ends_a != ends_b:
        return (a, b) if ends_a else (b, a)
    return (a, b) if len(a) > len(b) else (b, a)


def _files(folder: Path, prefix: str) -> list[Path]:
    return sorted(p for p in folder.glob(f"{prefix}*.jsonl"))


def extract_lexicon(blimp_dir: str | os.PathLike) -> Lexicon:
    """The lexicon of a folder of BLiMP files (module docstring); ValueError if a class is empty."""
    folder = Path(blimp_dir)
    votes: Counter = Counter()          # (singular, plural) -> number of sentences saying so
    singles: dict[str, str] = {}        # form -> "sg" | "pl"
    adjectives: set[str] = set()
    for f in _files(folder, "determiner_noun_agreement"):
        for p in annotate_critical(load_blimp(f)):
            g, b = [w.lower() for w in split_words(p.sentence_good)], [w.lower() for w in split_words(p.sentence_bad)]
            c, x = p.critical_index, p.context_index
            sg_good = g[x] in _SG_DEM
            if g[c] != b[c]:                              # the noun differs: an attested pair
                votes[(g[c], b[c]) if sg_good else (b[c], g[c])] += 1
            else:
                singles[g[c]] = "sg" if sg_good else "pl"
            if c - x == 2:
                adjectives.add(g[x + 1])
    verbs: dict[str, str] = {}
    for f in (_files(folder, "regular_plural_subject_verb_agreement") +
              _files(folder, "irregular_plural_subject_verb_agreement") + _files(folder, "distractor_agreement")):
        for p in annotate_critical(load_blimp(f)):
            g, b = [w.lower() for w in split_words(p.sentence_good)], [w.lower() for w in split_words(p.sentence_bad)]
            a, z = g[p.critical_index], b[p.critical_index]
            if a != z and not ({a, z} & _AUX) and "'" not in a + z:
                s3, base = _third_singular(a, z)
                if is_regular_plural(base, s3):       # the same -s / -es / -ies morphology
                    verbs[s3] = base
    sg_verbs = set(verbs) | _AUX_3SG
    pl_verbs = set(verbs.values()) | _AUX_BASE
    for f in _files(folder, "regular_plural_subject_verb_agreement_2") + \
            _files(folder, "irregular_plural_subject_verb_agreement_2"):
        for p in annotate_critical(load_blimp(f)):
            g, b = [w.lower() for w in split_words(p.sentence_good)], [w.lower() for w in split_words(p.sentence_bad)]
            x, c = p.context_index, p.critical_index
            if g[c] not in sg_verbs and g[c] not in pl_verbs:
                continue                                  # the shared verb's form fixes the number
            if g[x] != b[x]:
                votes[(g[x], b[x]) if g[c] in sg_verbs else (b[x], g[x])] += 1
    pairs = {}                          # the majority reading of each noun pair (BLiMP has a few
    for (sg, pl), n in votes.items():   # mislabelled sentences, e.g. "The men hurts Monica." as good)
        if n > votes[(pl, sg)] or (n == votes[(pl, sg)] and is_regular_plural(sg, pl)):
            pairs[sg] = pl
    for f in (_files(folder, "regular_plural_subject_verb_agreement_1") +
              _files(folder, "irregular_plural_subject_verb_agreement_1") + _files(folder, "distractor_agreement")):
        for p in annotate_critical(load_blimp(f)):     # subject heads: number from the good verb
            g = [w.lower() for w in split_words(p.sentence_good)]
            v = g[p.critical_index]
            if v in sg_verbs or v in pl_verbs:
                singles.setdefault(g[p.context_index], "sg" if v in sg_verbs else "pl")
    for w, num in singles.items():
        if w in pairs or w in pairs.values():
            continue
        for sg, pl in ((w, w + "s"), (w, w + "es"), (w, w[:-1] + "ies")) if num == "sg" else \
                ((w[:-1], w), (w[:-2], w), (w[:-3] + "y", w)):
            other = pl if num == "sg" else sg
            if singles.get(other) == ("pl" if num == "sg" else "sg") and is_regular_plural(sg, pl):
                pairs[sg] = pl
                break
    names: dict[str, str] = {}
    for f in _files(folder, "anaphor_gender_agreement"):
        for p in annotate_critical(load_blimp(f)):
            g = split_words(p.sentence_good)
            refl = g[p.critical_index].lower()
            if p.context_index == 0 and refl in ("herself", "himself") and g[0][:1].isupper():
                names[g[0]] = "f" if refl == "herself" else "m"
    other = {w for pr in pairs.items() for w in pr} | {w for pr in verbs.items() for w in pr} | adjectives
    names = {n: g for n, g in names.items() if n.lower() not in other}   # "Guy" vs "guy": lower-cased tokens
    lex = Lexicon(nouns=tuple(sorted(pairs.items())), names=tuple(sorted(names.items())),
                  verbs=tuple(sorted(verbs.items())), adjectives=tuple(sorted(adjectives)))
    for k in ("nouns", "names", "verbs", "adjectives"):
        if not getattr(lex, k):
            raise ValueError(f"{folder}: no {k} found (are the BLiMP agreement paradigms there?)")
    return lex
