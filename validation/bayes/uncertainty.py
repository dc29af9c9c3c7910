"""Total, aleatoric and epistemic uncertainty of categorical predictions from posterior samples.

``docs/icl_grokking.md`` §3 (in nats): with S sampled predictive distributions p_s,
TU = H[mean_s p_s], AU = mean_s H[p_s], EU = TU - AU (the mutual information between the label and
the parameters, BALD).  Entropies use x log x -> 0 at x = 0 (numerically safe as p -> 0); EU is
clipped at 0 against rounding (it is >= 0 by Jensen's inequality).
"""

from __future__ import annotations

import numpy as np


def _entropy(p: np.ndarray) -> np.ndarray:
    """-sum p log p over the last axis, with 0 log 0 = 0."""
    logp = np.log(np.where(p > 0, p, 1.0))
    return -(p * logp).sum(axis=-1)


def uncertainty_decomposition(probs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """probs (S, ..., K): S posterior samples of distributions over K classes (rows sum to 1).
    Returns (tu, au, eu), each of shape (...)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim < 2:
        raise ValueError(f"probs must have shape (S, ..., K), got {p.shape}")
    if np.any(p < 0) or not np.allclose(p.sum(axis=-1), 1.0, atol=1e-6):
        raise ValueError("probs must be non-negative and sum to 1 over the last axis")
    tu = _entropy(p.mean(axis=0))
    au = _entropy(p).mean(axis=0)
    return tu, au, np.maximum(tu - au, 0.0)
