"""Grammar corpus: the exposure design holds exactly in the generated stream; lexicon from BLiMP."""


import numpy as np
import pytest

from grokphase.validation.exposure.corpus import GROUPS, GrammarConfig, generate_corpus, load_corpus, write_corpus
from grokphase.validation.exposure.index import ExposureIndex
from grokphase.validation.exposure.lexicon import extract_lexicon, is_regular_plural
from grokphase.validation.exposure.minimal_pairs import load_blimp

CFG = GrammarConfig(n_tokens=120_000, seed=3, pairs_per_group=40, rare_counts=(1, 2), block=8)


@pytest.fixture(scope="module")
def corpus(toy_lexicon):
    return generate_corpus(toy_lexicon, CFG)


def sentences(tokens, tok):
    words = tok.decode(tokens).replace("<eos>", ".").split(" . ")
    return [w.split() for w in words]


def test_design_holds_exactly(corpus, toy_lexicon):
    tok, stream = corpus.tokenizer, corpus.tokens
    idx = ExposureIndex(stream, eos_id=0, vocab_size=len(tok))
    by = {}
    for p in corpus.pairs:
        by.setdefault((p.UID, p.extra["exposure_group"]), []).append(p)
    assert {g for _, g in by} == set(GROUPS) | {"control"}
    for (uid, group), ps in by.items():
        good = idx.counts([tok.encode(p.critical_phrase_good) for p in ps], [corpus.onset_offset, len(stream)])
        bad = idx.positions([tok.encode(p.critical_phrase_bad) for p in ps])
        if uid == "grammar_subj_verb":   # "the N of the A V": A V disagrees, only after "of the"
            of_the = tok.encode("of the")
            assert all(stream[i - 2:i].tolist() == of_the for pos in bad for i in pos)
        else:                            # agreement is always correct
            assert sum(len(pos) for pos in bad) == 0, (uid, group)
        if group in ("held_out", "control"):
            assert good.sum() == 0, (uid, group)
        if group == "scheduled":
            assert good[:, 0].sum() == 0 and good[:, 1].sum() > 0, uid
        if group == "often":
            assert good[:, 0].sum() > 0, uid
    # the negative control's irregular nouns never occur in any form
    ctrl = [w for s, p in toy_lexicon.nouns if s in corpus.design["control_irregulars"] for w in (s, p)]
    assert len(ctrl) == 4 and np.isin(stream, tok.encode(" ".join(ctrl))).sum() == 0


def test_rare_combinations_occur_exactly_their_count(corpus, toy_lexicon):
    tok, idx = corpus.tokenizer, ExposureIndex(corpus.tokens, eos_id=0)
    rare = np.array(corpus.design["det_noun"]["rare"])
    reg = list(toy_lexicon.regular_nouns)
    for c, k in zip(*np.nonzero(rare)):
        sg_dem, pl_dem = ("this", "these") if c == 0 else ("that", "those")
        n = idx.counts([tok.encode(f"{sg_dem} {reg[k][0]}"), tok.encode(f"{pl_dem} {reg[k][1]}")], [len(corpus.tokens)])
        assert n.sum() == rare[c, k]


def test_documents_frames_and_forbidden_sentences(toy_lexicon):
    forbidden = {("name1", "v3s", "this", "n2", "."), ("name0", "v1s", "these", "n5s", ".")}
    c = generate_corpus(toy_lexicon, GrammarConfig(n_tokens=20_000, seed=1, pairs_per_group=5, block=8, rare_counts=(1,)),
                        forbidden=forbidden)
    tok = c.tokenizer
    docs = np.split(c.tokens, np.flatnonzero(c.tokens == 0) + 1)[:-1]
    n_sent = [int((d == tok.encode(".")[0]).sum()) for d in docs]
    assert min(n_sent) >= 5 and max(n_sent) <= 20 and c.tokens[-1] == 0
    assert all(tuple(s) + (".",) not in forbidden for s in sentences(c.tokens, tok))


def test_write_load_and_config_identity(tmp_path, corpus, toy_lexicon):
    write_corpus(corpus, tmp_path)
    tokens, tok, meta = load_corpus(tmp_path)
    assert np.array_equal(tokens, corpus.tokens) and tok.vocab == corpus.tokenizer.vocab
    assert meta["onset_offset"] == corpus.onset_offset and meta["config"]["seed"] == 3
    pairs = load_blimp(tmp_path / "pairs")
    assert len(pairs) == len(corpus.pairs) and pairs[0].critical_index is not None
    write_corpus(corpus, tmp_path)                            # same configuration: fine
    other = generate_corpus(toy_lexicon, GrammarConfig(n_tokens=5_000, seed=4, pairs_per_group=5, block=8, rare_counts=(1,)))
    with pytest.raises(ValueError, match=r"differs in \['n_tokens', 'pairs_per_group', 'rare_counts', 'seed'\]"):
        write_corpus(other, tmp_path)


def test_config_validation():
    with pytest.raises(ValueError, match="groups"):
        GrammarConfig(groups=(0.5, 0.5, 0.5, 0.0))
    with pytest.raises(ValueError, match="onset"):
        GrammarConfig(onset=1.0)


def test_lexicon_from_blimp(blimp_dir):
    lex = extract_lexicon(blimp_dir)
    nouns, verbs, names = dict(lex.nouns), dict(lex.verbs), dict(lex.names)
    assert nouns["man"] == "men" and nouns["sketch"] == "sketches" and ("man", "men") in lex.irregular_nouns
    assert all(is_regular_plural(s, p) for s, p in lex.regular_nouns) and len(lex.irregular_nouns) >= 25
    assert verbs["drops"] == "drop" and names["Katherine"] == "f" and "Guy" not in names
    assert len(lex.regular_nouns) >= 100 and len(verbs) >= 200 and len(names) >= 200
    # the lexicon's nouns are read with the majority number (BLiMP has mislabelled sentences)
    assert not (set(nouns) & set(nouns.values()))
