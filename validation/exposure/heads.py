"""Which attention heads carry critical-token -> context-token attention (``docs/exposure_grokking.md`` §5).

``attn`` is a sequence over layers of attention patterns (B, H, T, T) (row = query, column = key,
rows summing to 1), e.g. from the transformer's attention hook; each of the B sequences has one
query position q_b (the critical token, or the position predicting it) and one key position k_b <= q_b
(the context token).

* head mass M[l, h] = mean_b attn[l][b, h, q_b, k_b];
* random-key baseline: the same at random query positions q' of the same sequence with the key at
  the same distance, q' - (q_b - k_b) (q' < the sequence's length);
* concentration of a head-mass map over its L x H heads, with shares s = M / sum M: top-k share;
  Gini (mean absolute difference / (2 mean); 0 uniform, 1 - 1/n one head); normalised entropy
  -sum s log s / log n (1 uniform, 0 one head); heads for 80% (fewest heads whose shares reach 0.8);
* ablation: the top-k heads by mass against k random heads (``ablation_effect``, any evaluator that
  maps a (L, H) boolean mask of ablated heads to an accuracy).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

__all__ = ["head_mass", "random_key_baseline", "top_k_share", "gini", "normalized_entropy", "heads_for",
           "concentration", "ablation_masks", "ablation_effect"]


def _inputs(attn, query_pos, key_pos):
    layers = [np.asarray(a) for a in attn]
    if not layers or any(a.ndim != 4 or a.shape[-1] != a.shape[-2] for a in layers):
        raise ValueError("attn must be a sequence of (B, H, T, T) arrays, one per layer")
    B, _, T, _ = layers[0].shape
    q, k = np.asarray(query_pos), np.asarray(key_pos)
    if q.shape != (B,) or k.shape != (B,):
        raise ValueError(f"query_pos and key_pos must have shape ({B},); got {q.shape}, {k.shape}")
    if np.any(k > q) or np.any(k < 0) or np.any(q >= T):
        raise ValueError(f"need 0 <= key_pos <= query_pos < T = {T}")
    return layers, q, k


def head_mass(attn: Sequence[np.ndarray], query_pos, key_pos) -> np.ndarray:
    """Mean attention from query_pos to key_pos per (layer, head); shape (L, H)."""
    layers, q, k = _inputs(attn, query_pos, key_pos)
    b = np.arange(len(q))
    return np.stack([a[b, :, q, k].mean(axis=0) for a in layers])


def random_key_baseline(attn, query_pos, key_pos, *, lengths=None, n_draws: int = 8, seed: int = 0) -> np.ndarray:
    """Head mass at random query positions with the key at the same distance; shape (L, H).

    lengths (B,): valid tokens per sequence (default T)."""
    layers, q, k = _inputs(attn, query_pos, key_pos)
    B, T = len(q), layers[0].shape[-1]
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    dist = q - k
    rng = np.random.default_rng(seed)
    qq = dist[:, None] + (rng.random((B, n_draws)) * (lengths - dist)[:, None]).astype(int)
    kk = qq - dist[:, None]
    b = np.repeat(np.arange(B), n_draws)
    return np.stack([a[b, :, qq.ravel(), kk.ravel()].mean(axis=0) for a in layers])


def _shares(mass):
    m = np.asarray(mass, dtype=float).ravel()
    if m.size == 0 or np.any(m < 0) or m.sum() <= 0:
        raise ValueError("mass must be non-negative with a positive sum")
    return m / m.sum()


def top_k_share(mass, k: int) -> float:
    """Share of the total mass in the k largest heads."""
    s = np.sort(_shares(mass))[::-1]
    return float(s[:k].sum())


def gini(mass) -> float:
    """Gini coefficient of the head masses: sum_ij |m_i - m_j| / (2 n sum m)."""
    s = _shares(mass)
    return float(np.abs(s[:, None] - s[None, :]).sum() / (2 * s.size))


def normalized_entropy(mass) -> float:
    """-sum s log s / log n over the n heads."""
    s = _shares(mass)
    nz = s[s > 0]
    return float(-(nz * np.log(nz)).sum() / np.log(s.size)) if s.size > 1 else 0.0


def heads_for(mass, share: float = 0.8) -> int:
    """Fewest heads whose masses sum to at least ``share`` of the total."""
    c = np.cumsum(np.sort(_shares(mass))[::-1])
    return int(np.searchsorted(c, share - 1e-12) + 1)


def concentration(mass, k: int = 2) -> dict:
    """``{"top_k_share", "gini", "normalized_entropy", "heads_for_80", "uniform_top_k_share", "k"}``."""
    n = np.asarray(mass).size
    return {"top_k_share": top_k_share(mass, k), "gini": gini(mass), "normalized_entropy": normalized_entropy(mass),
            "heads_for_80": heads_for(mass, 0.8), "uniform_top_k_share": k / n, "k": k}


def ablation_masks(mass, k: int, n_random: int, seed: int = 0):
    """(top-k mask, list of n_random random k-head masks), each (L, H) bool (True = ablated); the
    random sets are drawn among all heads."""
    m = np.asarray(mass)
    if not (isinstance(k, int) and 1 <= k <= m.size):
        raise ValueError(f"k must be an integer in [1, {m.size}]; got {k!r}")
    top = np.zeros(m.size, bool)
    top[np.argsort(-m.ravel(), kind="stable")[:k]] = True
    rng = np.random.default_rng(seed)
    rand = []
    for _ in range(n_random):
        r = np.zeros(m.size, bool)
        r[rng.choice(m.size, k, replace=False)] = True
        rand.append(r.reshape(m.shape))
    return top.reshape(m.shape), rand


def ablation_effect(evaluate: Callable[[np.ndarray | None], float], mass, *, k: int = 2, n_random: int = 10,
                    seed: int = 0) -> dict:
    """Accuracy with no head, the top-k heads and k random heads ablated.

    evaluate(mask) -> accuracy; mask None (nothing ablated) or (L, H) bool.  Returns
    ``{"acc_full", "acc_top", "acc_random" (list), "acc_random_mean", "drop_top", "drop_random_mean",
    "top_heads" (list of (layer, head))}``."""
    top, rand = ablation_masks(mass, k, n_random, seed)
    full = float(evaluate(None))
    at = float(evaluate(top))
    ar = [float(evaluate(r)) for r in rand]
    return {"acc_full": full, "acc_top": at, "acc_random": ar, "acc_random_mean": float(np.mean(ar)) if ar else float("nan"),
            "drop_top": full - at, "drop_random_mean": full - float(np.mean(ar)) if ar else float("nan"),
            "top_heads": [tuple(int(i) for i in x) for x in np.argwhere(top)]}
