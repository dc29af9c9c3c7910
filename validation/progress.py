"""Progress measures of grokking runs.

* ``med``: the uniformity paper's mean embedding distance of numerically adjacent tokens
  (``docs/uniformity_med.md`` §4, the definition of the paper's code):
  MED = 1/2 [ (1/(p-2)) sum_{i=0}^{p-3} |e_{i+1} - e_i| + (1/(p-2)) sum_{i=d}^{d+p-3} |e_{i+1} - e_i| ].
* ``fourier_sparsity``: Nanda et al.'s observation that the grokked embedding is sparse in the
  Fourier basis over Z_p.  Our scalar: the share of the embedding's non-constant spectral power
  (summed over model dimensions, frequency f merged with p - f) carried by its k strongest
  frequencies; about k / ((p-1)/2) for a random embedding, -> 1 for a k-frequency one.
* ``weight_norm`` (global L2 norm of all parameters) and ``token_norms`` (per-token embedding norms).
"""

from __future__ import annotations

import numpy as np


def med(embed: np.ndarray, p: int, offset: int = 0) -> float:
    """embed (V, D) token embedding; p the modulus; offset d of the second operand's ids."""
    if embed.shape[0] < p + offset:
        raise ValueError(f"embed has {embed.shape[0]} rows, needs p + offset = {p + offset}")
    e = embed.astype(np.float64)
    first = np.linalg.norm(np.diff(e[:p - 1], axis=0), axis=1).sum() / (p - 2)
    second = np.linalg.norm(np.diff(e[offset:offset + p - 1], axis=0), axis=1).sum() / (p - 2)
    return 0.5 * float(first + second)


def fourier_power(embed: np.ndarray, p: int) -> np.ndarray:
    """Spectral power of embed[:p] (p, D) per frequency f = 1..(p-1)/2 (f and p - f merged)."""
    F = np.fft.fft(embed[:p].astype(np.float64), axis=0)
    power = (np.abs(F) ** 2).sum(axis=1)
    half = (p - 1) // 2
    return power[1:half + 1] + power[p - half:][::-1]


def fourier_sparsity(embed: np.ndarray, p: int, k: int = 5) -> float:
    """Share of non-constant spectral power in the k strongest frequencies (module docstring)."""
    pw = fourier_power(embed, p)
    return float(np.sort(pw)[::-1][:k].sum() / pw.sum())


def weight_norm(params: dict) -> float:
    return float(np.sqrt(sum(float(np.vdot(v, v)) for v in params.values())))


def token_norms(embed: np.ndarray, n: int | None = None) -> np.ndarray:
    """Norms of the first n token embeddings (all when n is None)."""
    e = embed if n is None else embed[:n]
    return np.linalg.norm(e.astype(np.float64), axis=1)
