"""Cross-entropy with a target mask (loss only on chosen positions)."""

from __future__ import annotations

import numpy as np


def cross_entropy(logits: np.ndarray, targets: np.ndarray, float64: bool = True):
    """Mean cross-entropy of logits (M, V) against int targets (M,).

    Computed in float64 when ``float64`` (Nanda et al. do this: float32 log-softmax of confident
    logits causes loss spikes late in grokking runs).  Returns (loss: float, dlogits (M, V) in the
    dtype of ``logits``, probabilities (M, V) float64-or-input dtype, correct (M,) bool).  Entries of
    dlogits below the dtype's smallest normal number are 0 (flush to zero)."""
    z = logits.astype(np.float64) if float64 else logits
    z = z - z.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=-1, keepdims=True))
    logp = z - lse
    M = logits.shape[0]
    rows = np.arange(M)
    loss = float(-logp[rows, targets].mean())
    probs = np.exp(logp)
    d = probs.copy()
    d[rows, targets] -= 1.0
    d /= M
    # no subnormals in dlogits: they slow the GEMMs that read it (see _kernels.cross_entropy_rows)
    d[np.abs(d) < np.finfo(logits.dtype).tiny] = 0.0
    return loss, d.astype(logits.dtype, copy=False), probs, logits.argmax(axis=-1) == targets


def mse_one_hot(logits: np.ndarray, targets: np.ndarray):
    """Mean squared error between logits (M, V) and one-hot targets (M,), averaged over all M V
    entries (``torch.nn.functional.mse_loss(logits, one_hot)``), computed in float64.

    Returns (loss: float, dlogits (M, V) in the dtype of ``logits``, correct (M,) bool: argmax)."""
    z = logits.astype(np.float64)
    M, V = z.shape
    diff = z.copy()
    diff[np.arange(M), targets] -= 1.0
    loss = float(np.mean(diff * diff))
    return loss, (2.0 / (M * V) * diff).astype(logits.dtype, copy=False), logits.argmax(axis=-1) == targets
