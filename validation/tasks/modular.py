"""Binary operations mod a prime with the splits of the uniformity/MED paper.

Model: ``docs/uniformity_med.md`` §2 (Gu et al., arXiv 2504.03162, and its released code).

Sequence [a, t, "="] with a in 0..p-1 and the second operand's id t = b + d (b in 0..p-1; d = 0:
both operands share ids).  The label is op(a, t mod p) mod p, read at the "=" position (p classes).
Vocabulary: ids 0..p-1+d for the operands and "=" = the last id, so vocab_size = p + d + 1 (the
paper's code allocates 170 ids at d = 60, with ids 157..168 unused: those rows would only feel weight
decay and do not change the task; we do not allocate them).

Splits (a seeded permutation of all p^2 pairs): 'random' (the first floor(frac p^2) for training);
'strip' (pairs with a <= k go to test; floor(frac p^2) training pairs sampled from the rest, all of
them if fewer remain; the remaining ones test); 'rectangle' (the block a, b <= k goes to test, then as 'strip').
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OPS = {
    "add": lambda a, b, p: (a + b) % p,
    "sub": lambda a, b, p: (a - b) % p,
    "mul": lambda a, b, p: (a * b) % p,
    "quad": lambda a, b, p: (a * a + a * b + b * b) % p,
}


@dataclass(frozen=True)
class ModularDataset:
    """tokens (p^2, 3) int64, labels (p^2,), train_idx / test_idx index arrays; vocab_size, p, op."""

    tokens: np.ndarray
    labels: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    p: int
    op: str
    offset: int
    vocab_size: int

    @property
    def eq_token(self) -> int:
        return self.vocab_size - 1

    def split(self, which: str):
        """(tokens, labels) of 'train' or 'test'."""
        idx = self.train_idx if which == "train" else self.test_idx
        return self.tokens[idx], self.labels[idx]

    def ceiling(self) -> float:
        """Fraction of test pairs whose two operand ids both appear in training
        (``docs/uniformity_med.md`` §1: a token that never appears in training cannot join the
        uniform arrangement)."""
        seen = np.zeros(self.vocab_size, bool)
        seen[self.tokens[self.train_idx, :2].ravel()] = True
        t = self.tokens[self.test_idx]
        return float(np.mean(seen[t[:, 0]] & seen[t[:, 1]]))


def _is_prime(p: int) -> bool:
    return p >= 2 and all(p % q for q in range(2, int(p**0.5) + 1))


def modular_dataset(p: int = 97, op: str = "add", frac: float = 0.3, *, seed: int = 0, split: str = "random",
                    k: int | None = None, offset: int = 0) -> ModularDataset:
    """All p^2 pairs of ``op`` mod ``p`` with a train/test split (module docstring)."""
    if not _is_prime(p):
        raise ValueError(f"p must be a prime, got {p}")
    if op not in OPS:
        raise ValueError(f"op must be one of {tuple(OPS)}, got {op!r}")
    if not (0.0 < frac < 1.0):
        raise ValueError(f"frac must be in (0, 1), got {frac}")
    if split not in ("random", "strip", "rectangle"):
        raise ValueError(f"split must be 'random', 'strip' or 'rectangle', got {split!r}")
    if split != "random" and not (k is not None and 0 <= k < p - 1):
        raise ValueError(f"k must be an integer in [0, p-1) for the {split} split, got {k!r}")
    if offset < 0 or offset >= p:
        raise ValueError(f"offset must be in [0, p), got {offset}")
    if not (1 <= int(np.floor(frac * p * p)) < p * p):
        raise ValueError(f"frac: floor(frac p^2) must leave at least one training and one test pair, got frac={frac}")
    a, b = np.divmod(np.arange(p * p), p)
    vocab = p + offset + 1
    tokens = np.stack([a, b + offset, np.full(p * p, vocab - 1)], axis=1).astype(np.int64)
    labels = OPS[op](a, b, p).astype(np.int64)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(p * p)
    n_train = int(np.floor(frac * p * p))
    if split == "random":
        train, test = perm[:n_train], perm[n_train:]
    else:
        held = a[perm] <= k if split == "strip" else (a[perm] <= k) & (b[perm] <= k)
        rest = perm[~held]
        n_train = min(n_train, rest.size)  # large k: every remaining pair trains
        train, test = rest[:n_train], np.concatenate([perm[held], rest[n_train:]])
    return ModularDataset(tokens=tokens, labels=labels, train_idx=np.sort(train), test_idx=np.sort(test),
                          p=p, op=op, offset=offset, vocab_size=vocab)
