"""An interpolated Kneser-Ney word n-gram language model (a baseline model for the scorer).

Interpolated Kneser-Ney (Chen & Goodman 1998, "interpolated KN" with one discount per order).
Training sequences are left-padded with order - 1 copies of ``bos`` (scored sequences likewise: the
one prefix token a scored sentence starts with stands for all of them).  With c_n the raw n-gram
counts and, for k < n, c_k(h, w) = N1+(. h w) the number of distinct words seen before the k-gram
(h, w) (its continuation count),

    P_k(w | h) = max(c_k(h, w) - D_k, 0) / c_k(h) + D_k N1+(h .) / c_k(h) * P_{k-1}(w | h[1:])

where c_k(h) = sum_w c_k(h, w), N1+(h .) = #{w : c_k(h, w) > 0}; a context never seen gives
P_k = P_{k-1}; P_0(w) = 1 / vocab_size (so every word, seen or not, has probability > 0).  Discount
D_k = n1 / (n1 + 2 n2) from the numbers of k-grams with count 1 and 2 (0.5 when undefined).
Each P_k(. | h) sums to one over the vocabulary.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Iterable, Sequence

import numpy as np

__all__ = ["KneserNeyLM", "ngram_counts"]


def _check(vocab_size, order, bos):
    if not (isinstance(order, int) and order >= 1):
        raise ValueError(f"order must be an integer >= 1; got {order!r}")
    if not (isinstance(vocab_size, int) and vocab_size >= 1):
        raise ValueError(f"vocab_size must be an integer >= 1; got {vocab_size!r}")
    if not (isinstance(bos, int) and 0 <= bos < vocab_size):
        raise ValueError(f"bos must be an id in [0, {vocab_size}); got {bos!r}")


def ngram_counts(sequences: Iterable[Sequence[int]], order: int, bos: int = 0) -> Counter:
    """Counts of the ``order``-grams of the sequences, each left-padded with order - 1 ``bos``."""
    pad = (bos,) * (order - 1)
    top = Counter()
    for seq in sequences:
        s = pad + tuple(int(t) for t in seq)
        if s and min(s) < 0:
            raise ValueError(f"training ids must be >= 0; got {list(seq)}")
        top.update(s[i:i + order] for i in range(len(s) - order + 1))
    return top


class KneserNeyLM:
    """``KneserNeyLM(sequences, vocab_size, order=3, bos=0)``; the instance is a ``logprob_fn``.

    Parameters
    ----------
    sequences : iterable of sequences of int
        Training token ids (e.g. sentences, ``bos`` excluded: it is added as padding).
    vocab_size : int
        Ids are [0, vocab_size).
    order : int
        n of the n-gram (>= 1).
    bos : int
        The start/padding id.
    """

    def __init__(self, sequences: Iterable[Sequence[int]], vocab_size: int, order: int = 3, bos: int = 0):
        _check(vocab_size, order, bos)
        self._build(ngram_counts(sequences, order, bos), vocab_size, order, bos)

    @classmethod
    def from_counts(cls, counts: Counter, vocab_size: int, order: int, bos: int = 0) -> "KneserNeyLM":
        """The model of top-order counts from :func:`ngram_counts` (counts may be added/subtracted
        across corpora first, e.g. for leave-one-out training); non-positive counts are ignored."""
        _check(vocab_size, order, bos)
        lm = cls.__new__(cls)
        lm._build(counts, vocab_size, order, bos)
        return lm

    def _build(self, top: Counter, vocab_size: int, order: int, bos: int):
        self.order, self.vocab_size, self.bos = order, vocab_size, bos
        top = {g: c for g, c in top.items() if c > 0}
        if any(len(g) != order for g in top):
            raise ValueError(f"counts must be of {order}-grams")
        hi = max((max(g) for g in top), default=0)
        if hi >= vocab_size:
            raise ValueError(f"ids must lie in [0, {vocab_size}); the counts hold id {hi}")
        counts = {order: top}
        for k in range(order - 1, 0, -1):            # continuation counts from the (k+1)-gram types
            counts[k] = Counter(g[1:] for g in counts[k + 1])
        self._count = {}
        self._ctx = {}
        self._discount = {}
        for k, ck in counts.items():
            n1 = sum(1 for c in ck.values() if c == 1)
            n2 = sum(1 for c in ck.values() if c == 2)
            self._discount[k] = n1 / (n1 + 2 * n2) if n1 > 0 else 0.5
            ctx = defaultdict(lambda: [0, 0])
            for g, c in ck.items():
                e = ctx[g[:-1]]
                e[0] += c
                e[1] += 1
            self._count[k] = dict(ck)
            self._ctx[k] = {h: (t, n) for h, (t, n) in ctx.items()}

    def prob(self, word: int, context: Sequence[int]) -> float:
        """P(word | context) (the last order - 1 ids of the left-padded context are used)."""
        h = ((self.bos,) * (self.order - 1) + tuple(int(t) for t in context))[len(context):]
        return self._p(self.order, h, int(word))

    def _p(self, k: int, h: tuple, w: int) -> float:
        if k == 0:
            return 1.0 / self.vocab_size
        lower = self._p(k - 1, h[1:], w)
        st = self._ctx[k].get(h)
        if st is None:
            return lower
        total, types = st
        d = self._discount[k]
        c = self._count[k].get(h + (w,), 0)
        return max(c - d, 0.0) / total + d * types / total * lower

    def logprobs(self, seqs: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """For each sequence s: log P(s[t] | s[:t]) for t = 1 .. len(s) - 1 (natural log)."""
        out = []
        pad = (self.bos,) * (self.order - 1)
        n1 = self.order - 1
        for seq in seqs:
            s = tuple(int(t) for t in seq)
            if any(t < 0 or t >= self.vocab_size for t in s):
                raise ValueError(f"ids must lie in [0, {self.vocab_size}); got {list(seq)}")
            full = pad + s[1:] if s and s[0] == self.bos else pad + s
            off = len(full) - len(s)          # full[off + t] == s[t] for t >= 1
            out.append(np.array([math.log(self._p(self.order, full[off + t - n1:off + t], s[t]))
                                 for t in range(1, len(s))]))
        return out

    __call__ = logprobs
