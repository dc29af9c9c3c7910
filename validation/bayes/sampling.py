"""Predictive samples of the NumPy transformer from weight ensembles and from MC dropout.

Both return class probabilities of shape (S, n, K) at one scored position per sequence, ready for
``uncertainty_decomposition``:

- ``ensemble_probs``: one sample per member (deep ensembles: independently seeded trainings on the
  same data; also SWAG or IVON weight draws);
- ``mc_dropout_probs``: S stochastic forward passes of one network trained with dropout, the
  dropout masks drawn from ``rng`` (Gal & Ghahramani 2016); needs ``config.dropout > 0``.
"""

from __future__ import annotations

import numpy as np

from .laplace import _softmax


def ensemble_probs(models, tokens: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """tokens (n, T), pos (n,) scored positions; one row of (S, n, K) per model (each model's
    last block runs only at the scored positions: ``Transformer.logits_at``)."""
    if len(models) < 1:
        raise ValueError("models must hold at least one model")
    return np.stack([_softmax(m.logits_at(tokens, pos).astype(np.float64)) for m in models])


def mc_dropout_probs(model, tokens: np.ndarray, pos: np.ndarray, rng: np.random.Generator, S: int) -> np.ndarray:
    """S dropout forward passes of ``model``: (S, n, K)."""
    if not model.config.dropout > 0:
        raise ValueError(f"model.config.dropout must be > 0 for MC dropout, got {model.config.dropout}")
    if S < 1:
        raise ValueError(f"S must be >= 1, got {S}")
    return np.stack([_softmax(model.logits_at(tokens, pos, rng=rng).astype(np.float64)) for _ in range(S)])
