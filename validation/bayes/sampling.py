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

from grokphase import _checks as chk

from grokphase.numerics.copy_loss import softmax


def _scored(tokens, pos):
    """tokens (n, T) integers, pos (n,) integers in [0, T)."""
    tokens = chk.int_array("tokens", tokens, ndim=2)
    pos = chk.int_array("pos", pos, ndim=1, lo=0, hi=tokens.shape[1] - 1)
    if pos.shape[0] != tokens.shape[0]:
        raise ValueError(f"pos must hold one position per sequence ({tokens.shape[0]}); got shape {pos.shape}")
    return tokens, pos


def ensemble_probs(models, tokens: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """tokens (n, T), pos (n,) scored positions; one row of (S, n, K) per model (each model's
    last block runs only at the scored positions: ``Transformer.logits_at``)."""
    if len(models) < 1:
        raise ValueError("models must hold at least one model; got none")
    tokens, pos = _scored(tokens, pos)
    return np.stack([softmax(m.logits_at(tokens, pos).astype(np.float64)) for m in models])


def mc_dropout_probs(model, tokens: np.ndarray, pos: np.ndarray, rng: np.random.Generator, S: int) -> np.ndarray:
    """S dropout forward passes of ``model``: (S, n, K)."""
    if not model.config.dropout > 0:
        raise ValueError(f"model.config.dropout must be > 0 for MC dropout, got {model.config.dropout}")
    S = chk.integer("S", S, 1)
    tokens, pos = _scored(tokens, pos)
    return np.stack([softmax(model.logits_at(tokens, pos, rng=rng).astype(np.float64)) for _ in range(S)])
