"""A grammar-generated English fragment with a designed exposure schedule (``docs/exposure_grokking.md`` §4).

The stream is one pass of documents (5-20 sentences, then the end-of-document id), lower-cased
word tokens.  Sentence frames (fixed length, every agreement correct):

=============  =====================================  ======================  =========
phenomenon     frame                                  combination (c, k)      phrase
=============  =====================================  ======================  =========
det_noun       NAME V3 DEM N .                        (this|that, noun)       DEM N
subj_verb      the N V the N' .                       (noun, verb)            N V
attractor      the N of the A V the N' .              (noun, verb); A fixed   N of the A V
                                                      per combination, of
                                                      the other number
anaphor        NAME V3 REFL and the N' .              (name, verb)            NAME V3 REFL
irregular      NAME V3 DEM N_irr .                    (this|that, irr. noun)  DEM N_irr
filler         NAME V3 the ADJ N .                    (none)
=============  =====================================  ======================  =========

(V3: third-person singular; DEM this/these or that/those by the noun's number; REFL by the name's
gender; N' any regular or shown irregular noun, either number, as in filler's N: these neutral
slots give every noun a unigram frequency of its own.)  Names are the only preverbal subjects outside subj_verb and
attractor, so a (noun, verb) adjacency occurs only where the design puts it.

Exposure design.  For each phenomenon and each context c, the critical items k (for subj_verb,
attractor and anaphor only ``partners`` of them, drawn at random; the other combinations are never
generated) are ranked by their Zipf weight and cut into consecutive blocks; inside each block the groups are dealt in the
proportions of ``groups`` (in a random order), so every group has the same unigram-frequency
profile and only the combination differs:

* ``often``: sampled throughout with weight z_c z_k (Zipf weights of c and k);
* ``rare``: exactly r times (r drawn from ``rare_counts``) at random places;
* ``scheduled``: like often, but only from the first sentence after ``onset`` x n_tokens (the exact
  offset is stored);
* ``held_out``: never generated.

For det_noun and irregular (two contexts only) a combination is drawn with weight z_c z_k whatever
its group, and one that may not be shown is written with "the" for the demonstrative ("NAME V3 the
N ."), so each noun's unigram frequency does not depend on its groups.  The other phenomena have
many contexts per item, which matches the frequencies already (``stats`` in ``corpus.json``
records the measured mean log unigram count per group).

Negative control: a fraction ``control_fraction`` of the irregular nouns is never shown in any form
(their tokens exist but never occur): no rule can recover "oasis"/"oases", so accuracy on them must
stay at chance.  No generated sentence equals a BLiMP sentence (sentences that would are redrawn).

Output (:func:`write_corpus`): ``tokens.bin`` (uint16, raw, ``np.memmap``-able), ``corpus.json``
(config, vocabulary, schedule, group statistics), ``pairs/<UID>.jsonl`` (the generated minimal pairs
in the BLiMP schema plus critical fields and ``exposure_group``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from grokphase._io import atomic_path, atomic_write_json

from .lexicon import Lexicon
from .minimal_pairs import MinimalPair, make_pair, split_words, write_pairs
from .tokenizer import EOS, WordTokenizer

__all__ = ["GrammarConfig", "GrammarCorpus", "PHENOMENA", "GROUPS", "generate_corpus", "build_corpus",
           "write_corpus", "load_corpus"]

GROUPS = ("often", "rare", "scheduled", "held_out")
ABSENT = -1          # a (context, item) combination outside the design: never generated, never tested
PHENOMENA = ("det_noun", "subj_verb", "attractor", "anaphor", "irregular")
_FRAME_LEN = {"det_noun": 5, "subj_verb": 6, "attractor": 9, "anaphor": 7, "irregular": 5, "filler": 6}
_PAIR_META = {   # UID -> (linguistics_term, the BLiMP paradigms it mirrors)
    "det_noun": ("determiner_noun_agreement", "determiner_noun_agreement_1"),
    "subj_verb": ("subject_verb_agreement", "regular_plural_subject_verb_agreement_1"),
    "attractor": ("subject_verb_agreement", "distractor_agreement_relational_noun"),
    "anaphor": ("anaphor_agreement", "anaphor_gender_agreement"),
    "irregular": ("irregular_forms", "determiner_noun_agreement_irregular_1"),
}
FUNCTION_WORDS = (".", "the", "of", "and", "this", "that", "these", "those", "himself", "herself")


@dataclass(frozen=True)
class GrammarConfig:
    """The corpus design (module docstring).

    n_tokens: stream length (the last document is cut at its end, so a few more); zipf: exponent of
    the Zipf weights over each word class (random rank order from ``seed``); weights: share of
    sentences per frame; groups: proportions of often / rare / scheduled / held_out combinations;
    rare_counts: the possible occurrence counts of a rare combination; onset: scheduled combinations
    start after this fraction of the stream; control_fraction: irregular nouns never shown;
    pairs_per_group: generated pairs per phenomenon and group; block: size of the stratification
    blocks; partners: critical items per context in the design of subj_verb, attractor and anaphor
    (None: all; the others are never generated, so "often" combinations are seen often); max_words:
    use at most this many words of each lexical class (small test corpora)."""

    n_tokens: int = 12_000_000
    seed: int = 0
    zipf: float = 1.0
    doc_sentences: tuple[int, int] = (5, 20)
    weights: tuple[tuple[str, float], ...] = (("det_noun", 0.2), ("subj_verb", 0.2), ("attractor", 0.15),
                                              ("anaphor", 0.15), ("irregular", 0.1), ("filler", 0.2))
    groups: tuple[float, float, float, float] = (0.55, 0.15, 0.15, 0.15)
    rare_counts: tuple[int, ...] = (1, 2, 3)
    onset: float = 0.3
    control_fraction: float = 0.25
    pairs_per_group: int = 100
    block: int = 20
    partners: int | None = 24
    max_words: int | None = None

    def __post_init__(self):
        if not (isinstance(self.n_tokens, int) and self.n_tokens >= 100):
            raise ValueError(f"n_tokens must be an integer >= 100; got {self.n_tokens!r}")
        if not self.zipf >= 0:
            raise ValueError(f"zipf must be >= 0; got {self.zipf}")
        lo, hi = self.doc_sentences
        if not 1 <= lo <= hi:
            raise ValueError(f"doc_sentences must be (lo, hi) with 1 <= lo <= hi; got {self.doc_sentences}")
        names = [n for n, _ in self.weights]
        if set(names) - set(_FRAME_LEN) or any(w < 0 for _, w in self.weights) or sum(w for _, w in self.weights) <= 0:
            raise ValueError(f"weights must give non-negative shares of frames in {sorted(_FRAME_LEN)}; got {self.weights}")
        if len(self.groups) != 4 or any(g < 0 for g in self.groups) or not np.isclose(sum(self.groups), 1):
            raise ValueError(f"groups must be 4 shares (often, rare, scheduled, held_out) summing to 1; got {self.groups}")
        if not self.rare_counts or min(self.rare_counts) < 1:
            raise ValueError(f"rare_counts must be integers >= 1; got {self.rare_counts}")
        if not 0 <= self.onset < 1:
            raise ValueError(f"onset must be in [0, 1); got {self.onset}")
        if not 0 <= self.control_fraction < 1:
            raise ValueError(f"control_fraction must be in [0, 1); got {self.control_fraction}")
        if not (isinstance(self.block, int) and self.block >= 4):
            raise ValueError(f"block must be an integer >= 4; got {self.block!r}")
        if self.partners is not None and not (isinstance(self.partners, int) and self.partners >= 4):
            raise ValueError(f"partners must be None or an integer >= 4; got {self.partners!r}")
        if self.max_words is not None and not (isinstance(self.max_words, int) and self.max_words >= 4):
            raise ValueError(f"max_words must be None or an integer >= 4; got {self.max_words!r}")


@dataclass(frozen=True)
class GrammarCorpus:
    """A generated corpus: the stream, its tokenizer, design and generated pairs.

    Attributes: tokens (N,) uint16; tokenizer; config; lexicon_id (hash of the lexicon);
    onset_offset (token offset of the first sentence after which scheduled combinations may occur);
    design (per phenomenon: contexts, items, groups (n_ctx, n_items) codes into GROUPS, rare counts,
    attractors); pairs (list of MinimalPair); stats (group statistics)."""

    tokens: np.ndarray
    tokenizer: WordTokenizer
    config: GrammarConfig
    lexicon_id: str
    onset_offset: int
    design: dict
    pairs: list
    stats: dict


def _lexicon_id(lex: Lexicon) -> str:
    return hashlib.sha256(json.dumps(asdict(lex), sort_keys=True).encode()).hexdigest()[:16]


def _zipf(rng, n, a):
    w = 1.0 / np.arange(1, n + 1) ** a
    return rng.permutation(w / w.sum())


def _assign_groups(rng, weights: np.ndarray, n_ctx: int, shares, block: int,
                   partners: int | None = None) -> np.ndarray:
    """(n_ctx, n_items) group codes 0-3 (GROUPS), or ABSENT for items outside a context's
    ``partners`` (drawn uniformly, so their frequency profile is the whole class's): per context,
    the partners ranked by weight are cut into blocks, and each block deals the groups in proportion."""
    n = len(weights)
    counts = np.floor(np.asarray(shares) * block).astype(int)
    counts[0] += block - counts.sum()
    template = np.repeat(np.arange(4), counts)
    out = np.full((n_ctx, n), ABSENT, dtype=np.int8)
    for c in range(n_ctx):
        items = np.arange(n) if partners is None or partners >= n else rng.choice(n, partners, replace=False)
        items = items[np.argsort(-weights[items], kind="stable")]
        codes = np.concatenate([rng.permutation(template) for _ in range(-(-len(items) // block))])[:len(items)]
        out[c, items] = codes
    return out


def generate_corpus(lex: Lexicon, cfg: GrammarConfig, *, forbidden: set[tuple[str, ...]] = frozenset(),
                    extra_words: tuple[str, ...] = ()) -> GrammarCorpus:
    """Generate the stream and the pairs (module docstring).

    Parameters
    ----------
    lex : Lexicon
        From ``extract_lexicon`` (BLiMP's words).
    cfg : GrammarConfig
    forbidden : set of tuples of lower-cased words
        Sentences that must not occur (BLiMP's, with the final "."); a generated sentence equal to
        one is redrawn.
    extra_words : tuple of str
        Further vocabulary (e.g. every word of the real BLiMP paradigms to be scored later).
    """
    rng = np.random.default_rng(cfg.seed)
    lexicon_id = _lexicon_id(lex)
    if cfg.max_words is not None:
        lex = lex.subset(cfg.max_words)
    tok = WordTokenizer(list(FUNCTION_WORDS) + ["itself", "themselves"] + lex.words() + list(extra_words))
    ids = tok.encode_words
    sg = np.array(ids([s for s, _ in lex.regular_nouns]))
    pl = np.array(ids([p for _, p in lex.regular_nouns]))
    irr = lex.irregular_nouns
    n_control = int(round(cfg.control_fraction * len(irr)))
    perm = rng.permutation(len(irr))
    control, shown = perm[:n_control], np.sort(perm[n_control:])
    isg = np.array(ids([s for s, _ in irr]))
    ipl = np.array(ids([p for _, p in irr]))
    v3 = np.array(ids([a for a, _ in lex.verbs]))
    vb = np.array(ids([b for _, b in lex.verbs]))
    names = np.array(ids([n for n, _ in lex.names]))
    gender = np.array([g == "f" for _, g in lex.names])
    adj = np.array(ids(list(lex.adjectives)))
    the, of, and_, period = ids(["the", "of", "and", "."])
    dem = np.array(ids(["this", "that", "these", "those"])).reshape(2, 2)   # [number, family]
    refl = np.array(ids(["himself", "herself"]))
    z_noun, z_verb = _zipf(rng, len(sg), cfg.zipf), _zipf(rng, len(v3), cfg.zipf)
    z_name, z_adj = _zipf(rng, len(names), cfg.zipf), _zipf(rng, len(adj), cfg.zipf)
    z_irr = _zipf(rng, len(shown), cfg.zipf)
    obj_sg, obj_pl = np.concatenate([sg, isg[shown]]), np.concatenate([pl, ipl[shown]])   # neutral slots
    z_obj = _zipf(rng, len(obj_sg), cfg.zipf)
    z_dem = np.array([0.5, 0.5])

    # ---- design: (context, item) groups per phenomenon
    ctx_items = {"det_noun": (z_dem, z_noun), "subj_verb": (z_noun, z_verb), "attractor": (z_noun, z_verb),
                 "anaphor": (z_name, z_verb), "irregular": (z_dem, z_irr)}
    design = {}
    for ph, (zc, zk) in ctx_items.items():
        g = _assign_groups(rng, zk, len(zc), cfg.groups, cfg.block,
                           None if ph in ("det_noun", "irregular") else cfg.partners)
        rare = np.where(g == 1, rng.choice(cfg.rare_counts, size=g.shape), 0)
        design[ph] = {"groups": g, "rare": rare, "zc": zc, "zk": zk}
    attr = rng.integers(0, len(sg) - 1, size=(len(sg), len(v3)))
    design["attractor"]["attractor"] = attr + (attr >= np.arange(len(sg))[:, None])   # never the head

    # ---- sentence plan: documents, frames, offsets
    frames = [n for n, _ in cfg.weights]
    fw = np.array([w for _, w in cfg.weights], dtype=float)
    fw /= fw.sum()
    mean_len = float(fw @ np.array([_FRAME_LEN[f] for f in frames]))
    lo, hi = cfg.doc_sentences
    n_docs = int(cfg.n_tokens / ((lo + hi) / 2 * mean_len + 1) * 1.05) + 2
    doc_len = rng.integers(lo, hi + 1, n_docs)
    frame_of = rng.choice(len(frames), size=int(doc_len.sum()), p=fw)
    lens = np.array([_FRAME_LEN[f] for f in frames])[frame_of]
    doc_of = np.repeat(np.arange(n_docs), doc_len)
    starts = np.cumsum(np.concatenate([[0], lens[:-1]])) + doc_of            # + one eos per earlier doc
    doc_end = starts[np.cumsum(doc_len) - 1] + lens[np.cumsum(doc_len) - 1]  # eos position per doc
    keep_docs = int(np.searchsorted(doc_end, cfg.n_tokens, side="left")) + 1
    keep_docs = min(keep_docs, n_docs)
    n_sent = int(doc_len[:keep_docs].sum())
    frame_of, starts = frame_of[:n_sent], starts[:n_sent]
    N = int(doc_end[keep_docs - 1]) + 1
    stream = np.full(N, EOS, dtype=np.uint16)
    onset_target = cfg.onset * N
    onset_sentence = int(np.searchsorted(starts, onset_target, side="left"))
    onset_offset = int(starts[onset_sentence]) if onset_sentence < n_sent else N

    def zpick(p, n):
        return rng.choice(len(p), size=n, p=p)

    forbidden_ids = {}
    for s in forbidden:
        forbidden_ids.setdefault(len(s), set()).add(tuple(ids(list(s))))

    def combos(ph, idx):
        """(context, item, shown) per sentence of phenomenon ph at sentence indices idx; shown False:
        render the combination's words in the neutral variant (det_noun, irregular: "the" for DEM)."""
        d = design[ph]
        g, zc, zk = d["groups"], d["zc"], d["zk"]
        w = zc[:, None] * zk[None, :]
        c = np.empty(len(idx), dtype=np.int64)
        k = np.empty(len(idx), dtype=np.int64)
        post = idx >= onset_sentence
        neutral = ph in ("det_noun", "irregular")   # 2 contexts: keep unigram frequencies by substitution
        for mask, allowed in ((~post, g == 0), (post, (g == 0) | (g == 2))):
            p = (w if neutral else np.where(allowed, w, 0)).ravel()
            if mask.any():
                if p.sum() == 0:
                    raise ValueError(f"{ph}: no often combination to sample (groups {cfg.groups})")
                flat = rng.choice(p.size, size=int(mask.sum()), p=p / p.sum())
                c[mask], k[mask] = np.divmod(flat, g.shape[1])
        shown_ = np.where(post, (g[c, k] == 0) | (g[c, k] == 2), g[c, k] == 0)
        rc, rk = np.nonzero(d["rare"])
        reps = d["rare"][rc, rk]
        n_rare = int(reps.sum())
        if n_rare > len(idx):
            raise ValueError(f"{ph}: {n_rare} rare occurrences do not fit into {len(idx)} sentences; "
                             f"raise n_tokens")
        slots = rng.choice(len(idx), size=n_rare, replace=False)
        c[slots], k[slots], shown_[slots] = np.repeat(rc, reps), np.repeat(rk, reps), True
        return c, k, shown_

    def render(ph, c, k, shown_, n):
        """(n, L) token ids of frame ph; fresh fillers each call."""
        name = zpick(z_name, n)
        verb = zpick(z_verb, n)
        num = rng.integers(0, 2, n)
        if ph in ("det_noun", "irregular"):
            nsg, npl = (sg, pl) if ph == "det_noun" else (isg[shown], ipl[shown])
            noun = np.where(num == 0, nsg[k], npl[k])
            det = np.where(shown_, dem[num, c], the)
            return np.stack([names[name], v3[verb], det, noun, np.full(n, period)], axis=1)
        obj, onum = zpick(z_obj, n), rng.integers(0, 2, n)
        obj = np.where(onum == 0, obj_sg[obj], obj_pl[obj])
        if ph == "subj_verb":
            return np.stack([np.full(n, the), np.where(num == 0, sg[c], pl[c]), np.where(num == 0, v3[k], vb[k]),
                             np.full(n, the), obj, np.full(n, period)], axis=1)
        if ph == "attractor":
            a = design["attractor"]["attractor"][c, k]
            return np.stack([np.full(n, the), np.where(num == 0, sg[c], pl[c]), np.full(n, of), np.full(n, the),
                             np.where(num == 0, pl[a], sg[a]), np.where(num == 0, v3[k], vb[k]), np.full(n, the),
                             obj, np.full(n, period)], axis=1)
        if ph == "anaphor":
            return np.stack([names[c], v3[k], refl[gender[c].astype(int)], np.full(n, and_), np.full(n, the), obj,
                             np.full(n, period)], axis=1)
        return np.stack([names[name], v3[verb], np.full(n, the), adj[zpick(z_adj, n)], obj,   # filler
                         np.full(n, period)], axis=1)

    for fi, ph in enumerate(frames):
        idx = np.flatnonzero(frame_of == fi)
        if idx.size == 0:
            continue
        c, k, sh = combos(ph, idx) if ph != "filler" else (None, None, None)
        rows = render(ph, c, k, sh, idx.size)
        bad = forbidden_ids.get(rows.shape[1], set())
        for _ in range(100):                   # redraw the fillers of sentences that are BLiMP's
            clash = np.array([tuple(r) in bad for r in rows.tolist()]) if bad else np.zeros(len(rows), bool)
            if not clash.any():
                break
            sub = render(ph, *(None if a is None else a[clash] for a in (c, k, sh)), int(clash.sum()))
            rows[clash] = sub
        else:
            raise ValueError(f"{ph}: could not avoid BLiMP sentences after 100 redraws")
        stream[starts[idx][:, None] + np.arange(rows.shape[1])] = rows

    # ---- generated minimal pairs
    pairs = []
    nums = {"det_noun": (sg, pl), "irregular": (isg, ipl)}
    n_made = dict.fromkeys(PHENOMENA, 0)
    for ph in PHENOMENA:
        d = design[ph]
        term, mirrors = _PAIR_META[ph]
        for gi, gname in enumerate(GROUPS + (("control",) if ph == "irregular" else ())):
            if gname == "control":
                cand = [(f, j) for f in range(2) for j in control]
            else:
                cc, kk = np.nonzero(d["groups"] == gi)
                cand = list(zip(cc.tolist(), kk.tolist()))
            if not cand:
                continue
            pick = rng.integers(0, len(cand), cfg.pairs_per_group)
            for j, ci in enumerate(pick):
                c, k = cand[ci]
                if ph == "irregular" and gname != "control":
                    k = int(shown[k])
                good, bad, crit, ctx = _pair_words(ph, c, k, rng, tok, lex, design, nums, z_name, z_verb, z_noun)
                pairs.append(make_pair(UID=f"grammar_{ph}", linguistics_term=term, field="morphology",
                                       pairID=n_made[ph],
                                       good=good, bad=bad, critical_index=crit, context_index=ctx,
                                       lexically_identical=ph != "anaphor", exposure_group=gname,
                                       mirrors=mirrors))
                n_made[ph] += 1
    stats = _group_stats(stream, tok, pairs, onset_offset)
    return GrammarCorpus(tokens=stream, tokenizer=tok, config=cfg, lexicon_id=lexicon_id,
                         onset_offset=onset_offset,
                         design={ph: {"groups": d["groups"].tolist(), "rare": d["rare"].tolist(),
                                      **({"attractor": d["attractor"].tolist()} if "attractor" in d else {})}
                                 for ph, d in design.items()} | {"control_irregulars": [irr[i][0] for i in control]},
                         pairs=pairs, stats=stats)


def _pair_words(ph, c, k, rng, tok, lex, design, nums, z_name, z_verb, z_noun):
    """(good words, bad words, critical index, context index) of one generated pair."""
    num = int(rng.integers(0, 2))
    vocab = tok.vocab
    name = lambda: lex.names[int(rng.choice(len(lex.names), p=z_name))][0].lower()
    verb3 = lambda: lex.verbs[int(rng.choice(len(lex.verbs), p=z_verb))][0]
    reg = lex.regular_nouns
    noun_any = lambda: reg[int(rng.choice(len(reg), p=z_noun))][int(rng.integers(0, 2))]
    if ph in ("det_noun", "irregular"):
        nsg, npl = nums[ph]
        d = ("this", "that")[c] if num == 0 else ("these", "those")[c]
        n_good, n_bad = (vocab[nsg[k]], vocab[npl[k]]) if num == 0 else (vocab[npl[k]], vocab[nsg[k]])
        head = [name(), verb3(), d]
        return head + [n_good, "."], head + [n_bad, "."], 3, 2
    if ph in ("subj_verb", "attractor"):
        s, p_ = reg[c]
        v3, vb = lex.verbs[k]
        subj = s if num == 0 else p_
        v_good, v_bad = (v3, vb) if num == 0 else (vb, v3)
        pre = ["the", subj] if ph == "subj_verb" else ["the", subj, "of", "the",
                                                        reg[design["attractor"]["attractor"][c, k]][1 - num]]
        tail = ["the", noun_any(), "."]
        return pre + [v_good] + tail, pre + [v_bad] + tail, len(pre), 1
    nm, g = lex.names[c]
    r_good, r_bad = ("herself", "himself") if g == "f" else ("himself", "herself")
    v3 = lex.verbs[k][0]
    tail = ["and", "the", noun_any(), "."]
    return [nm.lower(), v3, r_good] + tail, [nm.lower(), v3, r_bad] + tail, 2, 0


def _group_stats(stream, tok, pairs, onset_offset) -> dict:
    """Per UID and group: pairs; mean log10(1 + unigram count) of the good critical word; fraction of
    pairs whose good critical phrase occurs before the onset and in the whole stream; median count."""
    from .index import ExposureIndex

    uni = np.bincount(stream, minlength=len(tok))
    phrases = [tok.encode(p.critical_phrase_good) for p in pairs]
    counts = ExposureIndex(stream, eos_id=EOS, vocab_size=len(tok)).counts(phrases, [onset_offset, len(stream)])
    out: dict = {}
    for i, p in enumerate(pairs):
        w = split_words(p.sentence_good)[p.critical_index]
        row = out.setdefault(p.UID, {}).setdefault(p.extra["exposure_group"], {"n": 0, "_lu": [], "_c": []})
        row["n"] += 1
        row["_lu"].append(np.log10(1 + uni[tok.encode_words([w])[0]]))
        row["_c"].append(counts[i])
    for groups in out.values():
        for row in groups.values():
            c = np.array(row.pop("_c"))
            row["log10_unigram"] = float(np.mean(row.pop("_lu")))
            row["seen_before_onset"] = float(np.mean(c[:, 0] > 0))
            row["seen_by_end"] = float(np.mean(c[:, 1] > 0))
            row["median_count"] = float(np.median(c[:, 1]))
    return out


def build_corpus(blimp_dir: str | os.PathLike, cfg: GrammarConfig, out_dir: str | os.PathLike) -> GrammarCorpus:
    """Lexicon from ``blimp_dir``, every BLiMP sentence forbidden, every word of the paradigms that
    have critical-token rules added to the vocabulary (so their real pairs are in vocabulary);
    generate and write to ``out_dir``."""
    from .lexicon import extract_lexicon
    from .minimal_pairs import RULES, load_blimp

    lex = extract_lexicon(blimp_dir)
    pairs = load_blimp(blimp_dir)
    forbidden = {tuple(w.lower() for w in split_words(s)) for p in pairs for s in (p.sentence_good, p.sentence_bad)}
    extra = sorted({w.lower() for p in pairs if p.UID in RULES
                    for s in (p.sentence_good, p.sentence_bad) for w in split_words(s)})
    corpus = generate_corpus(lex, cfg, forbidden=forbidden, extra_words=tuple(extra))
    write_corpus(corpus, out_dir)
    return corpus


def write_corpus(corpus: GrammarCorpus, out_dir: str | os.PathLike) -> Path:
    """Write ``tokens.bin``, ``corpus.json`` and ``pairs/grammar_*.jsonl`` into ``out_dir``.

    An existing ``corpus.json`` with a different configuration or lexicon is an error naming the
    differing fields (never a silent overwrite); the same configuration is rewritten."""
    out = Path(out_dir)
    meta_path = out / "corpus.json"
    new_cfg = asdict(corpus.config) | {"lexicon_id": corpus.lexicon_id}
    if meta_path.exists():
        old = json.loads(meta_path.read_text())["config"]
        diff = sorted(k for k in set(old) | set(new_cfg) if json.dumps(old.get(k)) != json.dumps(new_cfg.get(k)))
        if diff:
            raise ValueError(f"{out} holds a corpus with another configuration (differs in {diff}); "
                             f"use a new folder")
    with atomic_path(out / "tokens.bin") as tmp:
        corpus.tokens.astype(np.uint16).tofile(tmp)
    by_uid: dict[str, list[MinimalPair]] = {}
    for p in corpus.pairs:
        by_uid.setdefault(p.UID, []).append(p)
    for uid, ps in by_uid.items():
        write_pairs(out / "pairs" / f"{uid}.jsonl", ps)
    atomic_write_json(meta_path, {
        "config": new_cfg, "n_tokens": int(corpus.tokens.size), "dtype": "uint16", "eos_id": EOS,
        "onset_offset": corpus.onset_offset, "vocab": list(corpus.tokenizer.vocab), "stats": corpus.stats,
        "design": corpus.design})
    return out


def load_corpus(corpus_dir: str | os.PathLike) -> tuple[np.memmap, WordTokenizer, dict]:
    """(tokens as a read-only memmap, tokenizer, metadata) of a folder written by :func:`write_corpus`."""
    d = Path(corpus_dir)
    if not (d / "corpus.json").is_file():
        raise ValueError(f"{d} is not a corpus folder (no corpus.json)")
    meta = json.loads((d / "corpus.json").read_text())
    tokens = np.memmap(d / "tokens.bin", dtype=meta["dtype"], mode="r")
    if tokens.size != meta["n_tokens"]:
        raise ValueError(f"{d}/tokens.bin has {tokens.size} tokens; corpus.json says {meta['n_tokens']}")
    vocab = meta["vocab"]
    return tokens, WordTokenizer(vocab[2:]), meta
