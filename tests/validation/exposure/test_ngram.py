"""Kneser-Ney n-gram: normalisation over the vocabulary, a hand-computed bigram, logprobs layout."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grokphase.validation.exposure.ngram import KneserNeyLM


@given(seqs=st.lists(st.lists(st.integers(1, 5), min_size=1, max_size=8), min_size=1, max_size=8),
       order=st.integers(1, 4), ctx=st.lists(st.integers(0, 5), max_size=4))
def test_normalised_over_vocabulary(seqs, order, ctx):
    lm = KneserNeyLM(seqs, vocab_size=7, order=order)
    assert math.isclose(sum(lm.prob(w, ctx) for w in range(7)), 1.0, rel_tol=1e-12)


def test_bigram_by_hand():
    # padded bigrams: (0,1) (1,2) (0,1) (1,3) (0,2) ; V = 4
    lm = KneserNeyLM([[1, 2], [1, 3], [2]], vocab_size=4, order=2)
    # unigram continuation counts: 1 <- {0}: 1 ; 2 <- {1, 0}: 2 ; 3 <- {1}: 1   (n1 = 2, n2 = 1: D1 = 0.5)
    p1 = lambda c: max(c - 0.5, 0) / 4 + 0.5 * 3 / 4 * 0.25
    # bigram counts: (0,1): 2, (1,2): 1, (1,3): 1, (0,2): 1  (n1 = 3, n2 = 1: D2 = 0.6)
    assert math.isclose(lm.prob(2, [1]), (1 - 0.6) / 2 + 0.6 * 2 / 2 * p1(2))
    assert math.isclose(lm.prob(1, []), (2 - 0.6) / 3 + 0.6 * 2 / 3 * p1(1))   # context = bos
    assert math.isclose(lm.prob(1, [3]), p1(1))                                 # unseen context
    lp = lm.logprobs([[0, 1, 2], [3, 1]])
    assert np.allclose(lp[0], np.log([lm.prob(1, []), lm.prob(2, [1])]))
    assert np.allclose(lp[1], np.log([lm.prob(1, [3])]))


def test_bad_input():
    with pytest.raises(ValueError, match="order"):
        KneserNeyLM([[1]], vocab_size=3, order=0)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        KneserNeyLM([[5]], vocab_size=3)
