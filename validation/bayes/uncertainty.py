"""Total, aleatoric and epistemic uncertainty of categorical predictions from posterior samples.

``docs/icl_grokking.md`` §3 (in nats): with S sampled predictive distributions p_s,
TU = H[mean_s p_s], AU = mean_s H[p_s], EU = TU - AU (the mutual information between the label and
the parameters, BALD).  Entropies use x log x -> 0 at x = 0 (numerically safe as p -> 0); EU is
clipped at 0 against rounding (it is >= 0 by Jensen's inequality).
"""

from __future__ import annotations

import numpy as np

from grokphase import _checks as chk


def _entropy(p: np.ndarray) -> np.ndarray:
    """-sum p log p over the last axis, with 0 log 0 = 0."""
    logp = np.log(np.where(p > 0, p, 1.0))
    return -(p * logp).sum(axis=-1)


def uncertainty_decomposition(probs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """probs (S, ..., K): S posterior samples of distributions over K classes (rows sum to 1).
    Returns (tu, au, eu), each of shape (...)."""
    p = chk.array("probs", probs, lo=0.0)
    if p.ndim < 2 or p.shape[0] < 1 or p.shape[-1] < 1:
        raise ValueError(f"probs must have shape (S, ..., K) with S >= 1 samples and K >= 1 classes; got {p.shape}")
    if not np.allclose(p.sum(axis=-1), 1.0, atol=1e-6):
        worst = float(np.abs(p.sum(axis=-1) - 1.0).max())
        raise ValueError(f"probs must sum to 1 over the last axis (classes); got a row off by {worst:.3g}")
    tu = _entropy(p.mean(axis=0))
    au = _entropy(p).mean(axis=0)
    return tu, au, np.maximum(tu - au, 0.0)
