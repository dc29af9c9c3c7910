"""Nanda et al.'s excluded and restricted losses (arXiv 2301.05217), with key frequencies taken from
the embedding's spectrum.  Definitions: ``docs/uniformity_med.md`` (§4 and §7 (item 1)).

The logits of all p^2 pairs, z[(a, b), c] with row a p + b (the order of ``modular_dataset``), are
decomposed per output class c over the input grid.  For a frequency f (w = 2 pi f / p) the two
"sum directions" are cos(w (a + b)) and sin(w (a + b)); they are orthogonal to each other, to the
constant and across f, with squared norm p^2 / 2 on the grid.  A generalising solution has logits
sum_k alpha_k cos(w_k (a + b - c)) = sum_k alpha_k [cos(w_k (a+b)) cos(w_k c) + sin(w_k (a+b)) sin(w_k c)],
inside their span.

* excluded logits: z minus its projection on the key frequencies' sum directions; the excluded
  loss is their cross-entropy on the TRAINING pairs (rises as the model comes to rely on the
  Fourier algorithm rather than on memorisation);
* restricted logits: the per-class mean over the grid plus the projection on the key frequencies'
  sum directions; the restricted loss is their cross-entropy over ALL p^2 pairs (falls when the
  key-frequency circuit alone solves the task).

Known answers (tests): for the quadratic network's analytic logits, restricted = z and the
excluded logits vanish (loss log p).
"""

from __future__ import annotations

import numpy as np

from grokphase.validation.nn.loss import cross_entropy

__all__ = ["final_logits", "all_pair_logits", "sum_frequency_basis", "excluded_logits", "restricted_logits",
           "excluded_loss", "restricted_loss"]


def final_logits(model, tokens: np.ndarray) -> np.ndarray:
    """(B, n_out) logits at the answer: ``model.logits(tokens)``, read at the last position when
    the model returns logits per position (the transformer)."""
    z = model.logits(tokens)
    return z[:, -1] if z.ndim == 3 else z


def all_pair_logits(model, ds) -> np.ndarray:
    """Logits of every pair of ``ds`` (a ``ModularDataset``), (p^2, p) float64, row a p + b."""
    return final_logits(model, ds.tokens).astype(np.float64)


def sum_frequency_basis(p: int, freqs) -> np.ndarray:
    """Orthonormal columns cos(w_f (a+b)) / (p/sqrt 2), sin(w_f (a+b)) / (p/sqrt 2) over the grid,
    shape (p^2, 2 len(freqs)); freqs in 1..(p-1)/2."""
    freqs = np.atleast_1d(np.asarray(freqs, dtype=np.int64))
    if freqs.size == 0 or freqs.min() < 1 or freqs.max() > (p - 1) // 2 or np.unique(freqs).size != freqs.size:
        raise ValueError(f"freqs must be distinct integers in [1, (p-1)/2 = {(p - 1) // 2}], got {freqs.tolist()}")
    a, b = np.divmod(np.arange(p * p), p)
    ang = 2 * np.pi * np.outer(a + b, freqs) / p
    basis = np.empty((p * p, 2 * freqs.size))
    basis[:, 0::2], basis[:, 1::2] = np.cos(ang), np.sin(ang)
    return basis * (np.sqrt(2.0) / p)


def _check_logits(logits, p):
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] != p * p:
        raise ValueError(f"logits must have shape (p^2, C) = ({p * p}, C), got {logits.shape}")
    return logits


def excluded_logits(logits: np.ndarray, p: int, freqs) -> np.ndarray:
    """Logits (p^2, C) with their components along the key frequencies' sum directions removed."""
    z = _check_logits(logits, p)
    B = sum_frequency_basis(p, freqs)
    return z - B @ (B.T @ z)


def restricted_logits(logits: np.ndarray, p: int, freqs) -> np.ndarray:
    """Per-class grid mean plus the components along the key frequencies' sum directions."""
    z = _check_logits(logits, p)
    B = sum_frequency_basis(p, freqs)
    return z.mean(axis=0, keepdims=True) + B @ (B.T @ z)


def excluded_loss(model, ds, freqs) -> float:
    """Cross-entropy of the excluded logits on the training pairs of ``ds``."""
    z = excluded_logits(all_pair_logits(model, ds), ds.p, freqs)
    return cross_entropy(z[ds.train_idx], ds.labels[ds.train_idx])[0]


def restricted_loss(model, ds, freqs) -> float:
    """Cross-entropy of the restricted logits over all p^2 pairs of ``ds``."""
    z = restricted_logits(all_pair_logits(model, ds), ds.p, freqs)
    return cross_entropy(z, ds.labels)[0]
