"""The copy task of ``docs/attention_copy.md`` for token models: target = previous token.

The theory's target is cyclic (y_1 = x_L); a causal model cannot see x_L at position 1, so the loss
mask drops position 0 (the cyclic target stays in ``targets`` for completeness).
"""

from __future__ import annotations

import numpy as np

from grokphase import _checks as chk


def copy_batch(rng: np.random.Generator, batch: int, length: int, vocab: int):
    """(tokens (B, L), targets (B, L), mask (B, L)) with targets[:, l] = tokens[:, l-1] (cyclic)."""
    batch = chk.integer("batch", batch, 1)
    length = chk.integer("length", length, 2)
    vocab = chk.integer("vocab", vocab, 2)
    tokens = rng.integers(0, vocab, size=(batch, length))
    targets = np.roll(tokens, 1, axis=1)
    mask = np.ones((batch, length), bool)
    mask[:, 0] = False
    return tokens, targets, mask
