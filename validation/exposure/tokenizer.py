"""A word-level tokenizer: lower-cased words of ``minimal_pairs.split_words`` mapped to ids.

Ids 0 and 1 are reserved: ``EOS = 0`` (end of document, also the one-token prefix of scored
sentences) and ``UNK = 1`` (any word not in the vocabulary); words follow in the order given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from grokphase._io import atomic_write_json

from .minimal_pairs import split_words

__all__ = ["WordTokenizer", "EOS", "UNK"]

EOS, UNK = 0, 1
_SPECIALS = ("<eos>", "<unk>")


class WordTokenizer:
    """``WordTokenizer(words)``: ``encode(text) -> list[int]``, ``decode(ids) -> str``; callable as encode.

    Parameters
    ----------
    words : iterable of str
        The vocabulary after the two special tokens (lower-cased, duplicates dropped, order kept).
    """

    eos_id = EOS
    unk_id = UNK

    def __init__(self, words: Iterable[str]):
        vocab = list(_SPECIALS)
        seen = set(vocab)
        for w in words:
            w = w.lower()
            if w not in seen:
                seen.add(w)
                vocab.append(w)
        self.vocab = tuple(vocab)
        self._id = {w: i for i, w in enumerate(self.vocab)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], min_count: int = 1) -> "WordTokenizer":
        """Vocabulary of the words of ``texts`` occurring at least ``min_count`` times (by frequency,
        ties by first appearance)."""
        counts: dict[str, int] = {}
        for t in texts:
            for w in split_words(t):
                w = w.lower()
                counts[w] = counts.get(w, 0) + 1
        return cls(sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: -counts[w]))

    def __len__(self) -> int:
        return len(self.vocab)

    def __call__(self, text: str) -> list[int]:
        return self.encode(text)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self._id

    def encode(self, text: str) -> list[int]:
        """Ids of the words of ``text`` (unknown words -> UNK)."""
        return [self._id.get(w.lower(), UNK) for w in split_words(text)]

    def encode_words(self, words: Sequence[str]) -> list[int]:
        """Ids of already split words."""
        return [self._id.get(w.lower(), UNK) for w in words]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.vocab[int(i)] for i in ids)

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``{"vocab": [...]}`` as JSON (atomically)."""
        return atomic_write_json(path, {"vocab": list(self.vocab)})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "WordTokenizer":
        import json

        vocab = json.loads(Path(path).read_text())["vocab"]
        if tuple(vocab[:2]) != _SPECIALS:
            raise ValueError(f"{path}: vocab must start with {_SPECIALS}; got {vocab[:2]}")
        return cls(vocab[2:])
