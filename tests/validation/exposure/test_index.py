"""ExposureIndex against brute force: both backends, chunked, on random streams with document ends."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grokphase.validation.exposure import ExposureIndex, read_jsonl_stream
from grokphase.validation.exposure import index as index_mod

BACKENDS = ["numpy", "aho"]


def brute_positions(tokens, phrase):
    L = len(phrase)
    return [i for i in range(len(tokens) - L + 1) if list(tokens[i:i + L]) == list(phrase)]


@st.composite
def stream_and_phrases(draw):
    vocab = draw(st.integers(2, 5))
    n = draw(st.integers(1, 60))
    eos = 0
    tokens = np.array(draw(st.lists(st.integers(0, vocab - 1), min_size=n, max_size=n)), dtype=np.uint16)
    phrases = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["substring", "random", "repeat"]))
        if kind == "substring":   # a piece of the stream with eos removed: crosses document ends
            i = draw(st.integers(0, n - 1))
            j = draw(st.integers(i + 1, min(n, i + 8)))
            ph = [t for t in tokens[i:j].tolist() if t != eos]
        elif kind == "repeat" and phrases:
            ph = list(draw(st.sampled_from(phrases)))
        else:
            ph = draw(st.lists(st.integers(1, vocab - 1), min_size=1, max_size=4))
        if ph and len(ph) <= n:
            phrases.append(ph)
    if not phrases:
        phrases = [[1]]
    chunk = draw(st.integers(1, n + 3))
    return tokens, phrases, vocab, chunk


@pytest.mark.parametrize("backend", BACKENDS)
@given(data=stream_and_phrases(), upto_frac=st.lists(st.floats(0, 1), min_size=1, max_size=5))
@settings(max_examples=60)
def test_matches_brute_force(backend, data, upto_frac):
    tokens, phrases, vocab, chunk = data
    idx = ExposureIndex(tokens, eos_id=0, backend=backend, vocab_size=vocab, chunk_size=chunk)
    upto = [int(round(f * len(tokens))) for f in upto_frac]
    pos = idx.positions(phrases)
    first = idx.first_occurrence(phrases)
    counts = idx.counts(phrases, upto)
    assert counts.shape == (len(phrases), len(upto))
    for i, ph in enumerate(phrases):
        bp = brute_positions(tokens, ph)
        assert pos[i].tolist() == bp
        assert first[i] == (bp[0] if bp else -1)
        for j, u in enumerate(upto):
            assert counts[i, j] == sum(1 for p in bp if p + len(ph) <= u)


def test_overlaps_count_separately_and_never_cross_eos():
    tok = np.array([1, 1, 1, 0, 1, 1])
    for b in BACKENDS:
        idx = ExposureIndex(tok, eos_id=0, backend=b)
        assert idx.counts([[1, 1], [1], [1, 1, 1, 1]], [6]).ravel().tolist() == [3, 5, 0]
        assert idx.positions([[1, 1]])[0].tolist() == [0, 1, 4]


def test_hash_collisions_are_resolved_exactly(monkeypatch):
    # A zero multiplier sends every window and phrase to the same hash: only the exact check remains.
    monkeypatch.setattr(index_mod, "_M1", np.uint64(0))
    rng = np.random.default_rng(0)
    tok = rng.integers(0, 4, 300)
    phrases = [[1, 2], [2, 1], [3], [1, 2, 3], [3, 3, 3], [2, 1]]
    idx = ExposureIndex(tok, eos_id=0, chunk_size=37)
    for i, ph in enumerate(idx.positions(phrases)):
        assert ph.tolist() == brute_positions(tok, phrases[i])


def test_backends_agree_on_a_larger_stream():
    rng = np.random.default_rng(1)
    tok = rng.integers(0, 50, 20_000).astype(np.uint32)
    phrases = [tok[i:i + L].tolist() for i, L in zip(rng.integers(0, 19_000, 300), rng.integers(1, 5, 300))]
    phrases = [[t for t in p if t != 0] or [7] for p in phrases]
    a = ExposureIndex(tok, eos_id=0, chunk_size=4096).occurrences(phrases)
    b = ExposureIndex(tok, eos_id=0, backend="aho", chunk_size=5000).occurrences(phrases)
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.starts, b.starts)
    assert a.total().sum() > 300


def test_steps(tmp_path):
    tok = np.array([3, 1, 2, 0, 1, 2, 1, 2], dtype=np.uint16)
    path = tmp_path / "s.bin"
    tok.tofile(path)
    idx = ExposureIndex.from_file(path, eos_id=0, tokens_per_step=3)
    assert isinstance(idx.tokens, np.memmap)
    # occurrences of [1, 2] end at 3, 6, 8 -> fully seen after steps 1, 2, 3
    assert idx.counts_at_steps([[1, 2]], [0, 1, 2, 3]).tolist() == [[0, 1, 2, 3]]
    assert idx.first_occurrence_step([[1, 2], [2, 1], [3, 3]]).tolist() == [1, 3, -1]
    sq = ExposureIndex(tok, eos_id=0, tokens_per_step=lambda s: s * s)   # offsets 0, 1, 4, 9
    assert sq.first_occurrence_step([[1, 2], [2, 1]]).tolist() == [2, 3]
    with pytest.raises(ValueError, match="tokens_per_step"):
        ExposureIndex(tok).counts_at_steps([[1]], [1])


def test_jsonl_corpus(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text('{"text": "a b a"}\n\n{"text": "b a"}\n')
    vocab = {"a": 1, "b": 2}
    tok = lambda s: [vocab[w] for w in s.split()]
    assert read_jsonl_stream(p, tok, 0).tolist() == [1, 2, 1, 0, 2, 1, 0]
    idx = ExposureIndex.from_jsonl(p, tok, eos_id=0)
    assert idx.counts([[1, 2]], [7]).item() == 1 and idx.counts([[2, 1]], [7]).item() == 2
    p.write_text('{"text": "a"}\n{"txt": "b"}\n')
    with pytest.raises(ValueError, match=r"c.jsonl:2"):
        read_jsonl_stream(p, tok, 0)


@pytest.mark.parametrize("phrases, match", [
    ([[]], "non-empty"), ([[1, 0]], "eos_id"), ([[9]], "outside the vocabulary"),
    ([[1] * 9], "longer|length 9"), ([[-1]], "outside"), ([[1.5]], "integer"),
])
def test_bad_phrases(phrases, match):
    idx = ExposureIndex(np.array([1, 2, 0, 1, 2, 1, 2, 2]), eos_id=0, vocab_size=4)
    with pytest.raises(ValueError, match=match):
        idx.counts(phrases, [3])


def test_bad_streams_and_arguments():
    with pytest.raises(ValueError, match="integer dtype"):
        ExposureIndex(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="1-d"):
        ExposureIndex(np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match=">= 0"):
        ExposureIndex(np.array([1, -2]))
    with pytest.raises(ValueError, match="vocab_size"):
        ExposureIndex(np.array([1, 5]), vocab_size=5)
    with pytest.raises(ValueError, match="backend"):
        ExposureIndex(np.array([1]), backend="suffix")
    with pytest.raises(ValueError, match="upto"):
        ExposureIndex(np.array([1, 2])).counts([[1]], [3])


def test_aho_backend_missing_is_a_clear_error(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "ahocorasick", None)
    with pytest.raises(ImportError, match="pyahocorasick"):
        ExposureIndex(np.array([1, 2]), backend="aho")


def test_docstring_examples():
    import doctest

    import grokphase.exposure
    for mod in (index_mod, grokphase.exposure):
        assert doctest.testmod(mod).failed == 0
