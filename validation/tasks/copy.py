"""The copy task of ``docs/attention_copy.md`` for token models: target = previous token.

The theory's target is cyclic (y_1 = x_L); a causal model cannot see x_L at position 1, so the loss
mask drops position 0 (the cyclic target stays in ``targets`` for completeness).
"""

from __future__ import annotations

import numpy as np


def copy_batch(rng: np.random.Generator, batch: int, length: int, vocab: int):
    """(tokens (B, L), targets (B, L), mask (B, L)) with targets[:, l] = tokens[:, l-1] (cyclic)."""
    if length < 2 or vocab < 2 or batch < 1:
        raise ValueError("length and vocab must be >= 2 and batch >= 1")
    tokens = rng.integers(0, vocab, size=(batch, length))
    targets = np.roll(tokens, 1, axis=1)
    mask = np.ones((batch, length), bool)
    mask[:, 0] = False
    return tokens, targets, mask
