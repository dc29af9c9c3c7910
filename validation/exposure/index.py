"""Exact exposure counting: where, how often and from when each phrase occurs in a token stream.

A *phrase* is a non-empty sequence of token ids.  An *occurrence* of a phrase of length L is a start
offset i with ``tokens[i:i+L] == phrase``; overlapping occurrences count separately ("aa" occurs
twice in "aaa") and, since no phrase may contain the end-of-document id, no occurrence spans two
documents.  An occurrence lies *inside* ``tokens[:u]`` when i + L <= u, and it has been *seen after
step s* when i + L <= offset(s), the number of tokens consumed by the first s optimiser steps
(``tokens_per_step * s`` or a user-given map; see ``docs/exposure_grokking.md`` §3).

Two backends return identical occurrences:

``"numpy"`` (default, no extra dependency)
    For every phrase length L present, a polynomial hash of every length-L window of the stream
    (mod 2**64, computed for L = 1, 2, ... from the previous length in one vectorised pass), a
    bit-table prefilter and a binary search among the phrase hashes, then an exact token-by-token
    comparison of every candidate, so hash collisions cost time, never correctness.
``"aho"``
    An Aho-Corasick automaton (``pyahocorasick``, the ``aho`` extra) over the stream recoded as a
    string: each token that occurs in some phrase becomes its own character, every other token
    (the end-of-document id included) one separator character that no phrase contains.

Both process the stream in chunks (``chunk_size`` tokens plus an overlap of the longest phrase), so
a memory-mapped stream larger than memory is read once per query.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from grokphase._io import iter_jsonl

__all__ = ["ExposureIndex", "Occurrences", "read_jsonl_stream"]

_BACKENDS = ("numpy", "aho")
_M1 = np.uint64(0x9E3779B97F4A7C15)   # odd constants (golden-ratio and splitmix64 multipliers)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_BASE = np.uint64(0x2545F4914F6CDD1D)


@dataclass(frozen=True)
class Occurrences:
    """Start offsets of every occurrence of each queried phrase (compressed sparse rows).

    Attributes
    ----------
    lengths : ndarray, int64, shape (n,)
        Phrase lengths.
    indptr : ndarray, int64, shape (n + 1,)
        Occurrences of phrase i are ``starts[indptr[i]:indptr[i+1]]``.
    starts : ndarray, int64, shape (indptr[-1],)
        Start offsets, increasing within each phrase.
    n_tokens : int
        Length of the stream they were found in.
    """

    lengths: np.ndarray
    indptr: np.ndarray
    starts: np.ndarray
    n_tokens: int

    def __len__(self) -> int:
        return len(self.lengths)

    def positions(self, i: int) -> np.ndarray:
        """Start offsets of phrase i, shape (count,)."""
        return self.starts[self.indptr[i]:self.indptr[i + 1]]

    def total(self) -> np.ndarray:
        """Occurrences in the whole stream, shape (n,)."""
        return np.diff(self.indptr)

    def first(self) -> np.ndarray:
        """Start of the first occurrence of each phrase, -1 if none; shape (n,)."""
        has = self.indptr[1:] > self.indptr[:-1]
        out = np.full(len(self), -1, dtype=np.int64)
        out[has] = self.starts[self.indptr[:-1][has]]
        return out

    def counts(self, upto) -> np.ndarray:
        """Occurrences lying entirely inside ``tokens[:u]`` for each u in ``upto``; shape (n, len(upto)).

        Raises ValueError unless every u is an integer in [0, n_tokens]."""
        u = _offsets("upto", upto, self.n_tokens)
        n = len(self)
        if n == 0 or u.size == 0:
            return np.zeros((n, u.size), dtype=np.int64)
        # One global binary search: keys = phrase * (N + 1) + start are increasing.
        stride = np.int64(self.n_tokens + 1)
        pid = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.indptr))
        keys = pid * stride + self.starts
        last = np.maximum(u[None, :] - self.lengths[:, None], -1)     # last admissible start
        q = np.arange(n, dtype=np.int64)[:, None] * stride + last
        return np.searchsorted(keys, q, side="right") - self.indptr[:-1, None]


class ExposureIndex:
    """Exposure counter over one token stream.

    Parameters
    ----------
    tokens : array_like of int, shape (N,)
        The stream (a NumPy array, e.g. a ``np.memmap`` of uint16/uint32 ids; see :meth:`from_file`).
        Must be 1-d, of an integer dtype, with ids in [0, vocab_size).
    eos_id : int, optional
        End-of-document id: no occurrence contains it, and a phrase containing it is a ValueError.
    backend : {"numpy", "aho"}
        Search algorithm (module docstring); identical results.
    vocab_size : int, optional
        Valid ids are [0, vocab_size); default ``max(tokens) + 1``.
    tokens_per_step : int or callable, optional
        Offset -> step map: after s optimiser steps the first ``tokens_per_step * s`` tokens (at most
        N) have been seen; a callable maps an int array of steps to the (non-decreasing) offsets.
        Needed only by the ``*_step(s)`` queries.
    chunk_size : int
        Tokens per processing chunk (memory ~ 40 bytes per token of a chunk).

    Examples
    --------
    >>> idx = ExposureIndex([5, 1, 1, 1, 0, 1, 1], eos_id=0)
    >>> idx.first_occurrence([[1, 1], [5, 1], [1, 5]])
    array([ 1,  0, -1])
    >>> idx.counts([[1, 1]], upto=[3, 4, 7])
    array([[1, 2, 3]])
    """

    def __init__(self, tokens, eos_id: int | None = None, backend: str = "numpy", *,
                 vocab_size: int | None = None,
                 tokens_per_step: int | Callable[[np.ndarray], np.ndarray] | None = None,
                 chunk_size: int = 1 << 22):
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS}; got {backend!r}")
        if backend == "aho":
            _require_ahocorasick()
        tok = tokens if isinstance(tokens, np.ndarray) else np.asarray(tokens)
        if tok.ndim != 1:
            raise ValueError(f"tokens must be a 1-d array of ids; got shape {tok.shape}")
        if tok.dtype.kind not in "iu":
            raise ValueError(f"tokens must have an integer dtype; got {tok.dtype}")
        if tok.size == 0:
            raise ValueError("tokens must not be empty")
        lo, hi = int(tok.min()), int(tok.max())
        if lo < 0:
            raise ValueError(f"tokens must be ids >= 0; got minimum {lo}")
        if vocab_size is None:
            vocab_size = hi + 1
        elif not (isinstance(vocab_size, (int, np.integer)) and vocab_size > hi):
            raise ValueError(f"vocab_size must be an integer > max(tokens) = {hi}; got {vocab_size!r}")
        if eos_id is not None and not (isinstance(eos_id, (int, np.integer)) and 0 <= eos_id < vocab_size):
            raise ValueError(f"eos_id must be None or an integer in [0, {vocab_size}); got {eos_id!r}")
        if tokens_per_step is not None and not callable(tokens_per_step):
            if not (isinstance(tokens_per_step, (int, np.integer)) and tokens_per_step >= 1):
                raise ValueError(f"tokens_per_step must be an integer >= 1 or a callable; got {tokens_per_step!r}")
        if not (isinstance(chunk_size, (int, np.integer)) and chunk_size >= 1):
            raise ValueError(f"chunk_size must be an integer >= 1; got {chunk_size!r}")
        self.tokens = tok
        self.eos_id = None if eos_id is None else int(eos_id)
        self.backend = backend
        self.vocab_size = int(vocab_size)
        self.tokens_per_step = tokens_per_step
        self.chunk_size = int(chunk_size)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_file(cls, path: str | os.PathLike, dtype: str = "uint16", **kw) -> "ExposureIndex":
        """Index a raw binary stream (``np.memmap``, read-only) of ``dtype`` ids (uint16 or uint32)."""
        if np.dtype(dtype) not in (np.dtype("uint16"), np.dtype("uint32")):
            raise ValueError(f"dtype must be 'uint16' or 'uint32'; got {dtype!r}")
        return cls(np.memmap(path, dtype=dtype, mode="r"), **kw)

    @classmethod
    def from_jsonl(cls, path: str | os.PathLike, tokenize: Callable[[str], Sequence[int]], eos_id: int,
                   *, text_key: str = "text", **kw) -> "ExposureIndex":
        """Index a JSON-lines corpus: one document per line, ``tokenize(doc[text_key])`` followed by
        ``eos_id`` (see :func:`read_jsonl_stream`)."""
        return cls(read_jsonl_stream(path, tokenize, eos_id, text_key=text_key), eos_id=eos_id, **kw)

    # ------------------------------------------------------------------ queries
    def occurrences(self, phrases) -> Occurrences:
        """Every occurrence of every phrase (:class:`Occurrences`); repeated phrases share one search."""
        arrs = self._check_phrases(phrases)
        keys = [a.tobytes() for a in arrs]
        uniq: dict[bytes, int] = {}
        inverse = np.array([uniq.setdefault(k, len(uniq)) for k in keys], dtype=np.int64)
        first_of = np.zeros(len(uniq), dtype=np.int64)
        first_of[inverse[::-1]] = np.arange(len(arrs))[::-1]
        uarrs = [arrs[i] for i in first_of]
        find = _find_numpy if self.backend == "numpy" else _find_aho
        pid, start = find(self.tokens, uarrs, self.chunk_size) if uarrs else (np.zeros(0, np.int64),) * 2
        # Each phrase's starts arrive increasing (chunk by chunk), so a stable sort by phrase suffices.
        order = np.argsort(pid, kind="stable")
        start = start[order]
        u_indptr = np.searchsorted(pid[order], np.arange(len(uarrs) + 1), side="left")
        counts = np.diff(u_indptr)[inverse]
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # gather the unique phrases' rows back in query order: u_indptr[inverse[i]] + 0..counts[i]-1
        take = np.repeat(u_indptr[:-1][inverse] - indptr[:-1], counts) + np.arange(indptr[-1])
        starts = start[take]
        lengths = np.array([len(a) for a in arrs], dtype=np.int64)
        return Occurrences(lengths, indptr, starts.astype(np.int64), len(self.tokens))

    def first_occurrence(self, phrases) -> np.ndarray:
        """Start offset of the first occurrence of each phrase, -1 if it never occurs; shape (n,)."""
        return self.occurrences(phrases).first()

    def counts(self, phrases, upto) -> np.ndarray:
        """Occurrences inside ``tokens[:u]`` for each u in ``upto``; int64 array (n, len(upto))."""
        return self.occurrences(phrases).counts(upto)

    def positions(self, phrases) -> list[np.ndarray]:
        """Start offsets of every occurrence, one increasing int64 array per phrase."""
        occ = self.occurrences(phrases)
        return [occ.positions(i) for i in range(len(occ))]

    # ------------------------------------------------------------------ steps
    def offsets_at_steps(self, steps) -> np.ndarray:
        """Tokens seen after each of ``steps`` optimiser steps (int64, same shape), at most N."""
        tps = self._tps()
        s = np.asarray(steps)
        if s.dtype.kind not in "iu" or (s.size and s.min() < 0):
            raise ValueError(f"steps must be integers >= 0; got {steps!r}")
        s = s.astype(np.int64)
        off = s * tps if not callable(tps) else np.asarray(tps(s), dtype=np.int64)
        if off.shape != s.shape:
            raise ValueError(f"tokens_per_step(steps) must return one offset per step; got shape {off.shape}")
        return np.minimum(off, len(self.tokens))

    def counts_at_steps(self, phrases, steps) -> np.ndarray:
        """Occurrences seen after each step; int64 array (n, len(steps))."""
        return self.counts(phrases, self.offsets_at_steps(np.atleast_1d(steps)))

    def first_occurrence_step(self, phrases) -> np.ndarray:
        """First step after which an occurrence of each phrase has been fully seen, -1 if never."""
        occ = self.occurrences(phrases)
        first = occ.first()
        end = np.where(first >= 0, first + occ.lengths, 0)
        tps = self._tps()
        if not callable(tps):
            step = -(-end // tps)
        else:   # smallest s with offset(s) >= end: bracket by doubling, then bisect (vectorised)
            hi = 1
            while self.offsets_at_steps(np.array([hi]))[0] < len(self.tokens):
                hi *= 2
                if hi > 1 << 62:
                    raise ValueError("tokens_per_step never reaches the end of the stream")
            lo_s, hi_s = np.zeros_like(end), np.full_like(end, hi)
            while np.any(lo_s < hi_s):
                mid = (lo_s + hi_s) // 2
                ok = self.offsets_at_steps(mid) >= end
                hi_s = np.where(ok, mid, hi_s)
                lo_s = np.where(ok, lo_s, mid + 1)
            step = lo_s
        return np.where(first >= 0, step, -1).astype(np.int64)

    def _tps(self):
        if self.tokens_per_step is None:
            raise ValueError("tokens_per_step is None: give ExposureIndex(..., tokens_per_step=...) "
                             "to ask for steps")
        return self.tokens_per_step

    # ------------------------------------------------------------------ validation
    def _check_phrases(self, phrases) -> list[np.ndarray]:
        if isinstance(phrases, np.ndarray) and phrases.ndim == 2:
            phrases = list(phrases)
        out = []
        for i, ph in enumerate(phrases):
            a = np.asarray(ph)
            if a.ndim != 1 or a.size == 0:
                raise ValueError(f"phrases[{i}] must be a non-empty 1-d sequence of ids; got {ph!r}")
            if a.dtype.kind not in "iu":
                raise ValueError(f"phrases[{i}] must hold integer ids; got dtype {a.dtype}")
            if a.size > len(self.tokens):
                raise ValueError(f"phrases[{i}] has length {a.size} > the stream's {len(self.tokens)} tokens")
            if a.min() < 0 or a.max() >= self.vocab_size:
                raise ValueError(f"phrases[{i}] has ids outside the vocabulary [0, {self.vocab_size}): {a.tolist()}")
            if self.eos_id is not None and np.any(a == self.eos_id):
                raise ValueError(f"phrases[{i}] contains eos_id = {self.eos_id}; no occurrence can span "
                                 f"a document end: {a.tolist()}")
            out.append(a.astype(np.int64))
        return out


# ---------------------------------------------------------------------- backends
def _chunks(n: int, chunk: int, overlap: int) -> Iterable[tuple[int, int, int]]:
    """(start, end, stop): windows starting in [start, end) read tokens[start:stop]."""
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        yield s, e, min(e + overlap, n)


def _phrase_hashes(mat: np.ndarray, base: np.uint64) -> np.ndarray:
    """Polynomial hash of each row of mat (m, L): sum_j f(t_j) base**(L-1-j) mod 2**64."""
    h = np.zeros(len(mat), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(mat.shape[1]):
            h = h * base + (mat[:, j].astype(np.uint64) + np.uint64(1)) * _M1
    return h


def _find_numpy(tokens: np.ndarray, phrases: list[np.ndarray], chunk: int):
    """(phrase index, start) of every occurrence, by rolling hash + exact verification."""
    by_len: dict[int, list[int]] = {}
    for j, a in enumerate(phrases):
        by_len.setdefault(len(a), []).append(j)
    mats = {L: np.stack([phrases[j] for j in ids]) for L, ids in by_len.items()}
    tables = {}
    for L, mat in mats.items():
        h = _phrase_hashes(mat, _BASE)
        order = np.argsort(h, kind="stable")
        bits = int(min(24, max(10, math.ceil(math.log2(len(h))) + 10)))
        table = np.zeros(1 << bits, dtype=bool)
        with np.errstate(over="ignore"):
            table[(h * _M2) >> np.uint64(64 - bits)] = True
        tables[L] = (h[order], np.asarray(by_len[L])[order], mat[order], table, bits)
    Lmax = max(tables)
    pids, starts = [], []
    for s, e, stop in _chunks(len(tokens), chunk, Lmax - 1):
        w = np.asarray(tokens[s:stop]).astype(np.int64)
        with np.errstate(over="ignore"):
            f = (w.astype(np.uint64) + np.uint64(1)) * _M1
            h = f.copy()                                      # h_1
            for L in range(1, Lmax + 1):
                if L > 1:                                     # h_L[i] = h_{L-1}[i] base + f[i+L-1]
                    h = h[:-1] * _BASE + f[L - 1:]
                n_win = min(e, len(tokens) - L + 1) - s
                if L not in tables or n_win <= 0:
                    continue
                hs, ids, mat, table, bits = tables[L]
                hw = h[:n_win]
                cand = np.flatnonzero(table[(hw * _M2) >> np.uint64(64 - bits)])
                if cand.size == 0:
                    continue
                lo = np.searchsorted(hs, hw[cand], side="left")
                hi = np.searchsorted(hs, hw[cand], side="right")
                n_same = hi - lo                    # phrases with this hash: 0 (prefilter miss), 1, rarely more
                cand = np.repeat(cand, n_same)
                first = np.cumsum(n_same) - n_same
                k = np.repeat(lo - first, n_same) + np.arange(cand.size)    # lo, lo+1, .., hi-1 per window
                ok = np.all(w[cand[:, None] + np.arange(L)] == mat[k], axis=1)   # exact check
                pids.append(ids[k[ok]].astype(np.int64))
                starts.append(cand[ok].astype(np.int64) + s)
    if not pids:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(pids), np.concatenate(starts)


def _require_ahocorasick():
    try:
        import ahocorasick  # noqa: F401
    except ImportError as e:
        raise ImportError("backend='aho' needs pyahocorasick: pip install 'grokphase[aho]' "
                          "(or pip install pyahocorasick); backend='numpy' needs nothing") from e


def _find_aho(tokens: np.ndarray, phrases: list[np.ndarray], chunk: int):
    """(phrase index, start) of every occurrence, by an Aho-Corasick automaton over a recoded stream."""
    import ahocorasick

    used = np.unique(np.concatenate(phrases))
    code = np.arange(1, used.size + 1, dtype=np.int64)
    code = np.where(code >= 0xD800, code + 0x800, code)         # skip the UTF-16 surrogate range
    lut_max = int(max(used.max(), int(tokens.max()) if tokens.size else 0)) + 1
    lut = np.zeros(lut_max, dtype=np.uint32)                     # 0: separator, in no phrase
    lut[used] = code

    def text(ids) -> str:
        return lut[np.asarray(ids)].astype("<u4").tobytes().decode("utf-32-le")

    auto = ahocorasick.Automaton()
    for j, a in enumerate(phrases):
        auto.add_word(text(a), j)
    auto.make_automaton()
    lengths = np.array([len(a) for a in phrases], dtype=np.int64)
    Lmax = int(lengths.max())
    pids, starts = [], []
    for s, e, stop in _chunks(len(tokens), chunk, Lmax - 1):
        flat = np.fromiter(itertools.chain.from_iterable(auto.iter(text(tokens[s:stop]))), dtype=np.int64)
        end, pid = flat[0::2], flat[1::2]
        start = end - lengths[pid] + 1 + s
        keep = start < e                                         # the overlap belongs to the next chunk
        pids.append(pid[keep])
        starts.append(start[keep])
    return np.concatenate(pids), np.concatenate(starts)


def _offsets(name: str, values, n: int) -> np.ndarray:
    u = np.atleast_1d(np.asarray(values))
    if u.ndim != 1 or u.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-d sequence of integer offsets; got {values!r}")
    u = u.astype(np.int64)
    if u.size and (u.min() < 0 or u.max() > n):
        raise ValueError(f"{name} must lie in [0, {n}] (the stream length); got range [{u.min()}, {u.max()}]")
    return u


def read_jsonl_stream(path: str | os.PathLike, tokenize: Callable[[str], Sequence[int]], eos_id: int,
                      *, text_key: str = "text") -> np.ndarray:
    """Token stream of a JSON-lines corpus: for each line (one JSON object per document, blank lines
    skipped) ``tokenize(obj[text_key])`` followed by ``eos_id``.

    Returns
    -------
    ndarray, shape (N,)
        uint16 when every id < 65536, else uint32.

    Raises
    ------
    ValueError
        Naming file and line: invalid JSON, a missing or non-string ``text_key``, a tokenizer output
        that is not a sequence of ids >= 0 or that contains ``eos_id``.
    """
    if not (isinstance(eos_id, (int, np.integer)) and eos_id >= 0):
        raise ValueError(f"eos_id must be an integer >= 0; got {eos_id!r}")
    path = Path(path)
    parts = []
    for where, doc in iter_jsonl(path):
        if not isinstance(doc, dict) or not isinstance(doc.get(text_key), str):
            raise ValueError(f"{where}: expected an object with a string field {text_key!r}")
        ids = np.asarray(tokenize(doc[text_key]))
        if ids.ndim != 1 or (ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0)):
            raise ValueError(f"{where}: tokenize must return a list of ids >= 0; got {ids!r}")
        if np.any(ids == eos_id):
            raise ValueError(f"{where}: tokenize returned eos_id = {eos_id} inside the document")
        parts.append(ids.astype(np.int64))
        parts.append(np.array([eos_id], dtype=np.int64))
    stream = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    dtype = np.uint16 if (stream.size == 0 or stream.max() < 1 << 16) else np.uint32
    return stream.astype(dtype)
