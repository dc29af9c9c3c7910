"""Causal multi-head attention (softmax or linear) with a hand-written backward pass.

Shapes: x (B, T, D); W_Q, W_K, W_V (D, H*dh); W_O (H*dh, D).  Scores S = q k^T / sqrt(dh) with a
causal mask; softmax attention A = rowsoftmax(S), linear attention A = S (masked, unnormalised:
the copy-task model of ``shared/theory/attention_copy.md`` §1).  Optional RoPE on q and k over the
full head dimension.  ``qk_input`` (T, D): position-only scores — q and k are computed from it
(shared over the batch, e.g. the learned positional embedding) while v comes from x.
"""

from __future__ import annotations

import math

import numpy as np

from .layers import rope_backward, rope_forward


def _heads(a2: np.ndarray, lead: int, T: int, H: int) -> np.ndarray:
    """(lead*T, H*dh) -> (lead, H, T, dh)."""
    return a2.reshape(lead, T, H, -1).transpose(0, 2, 1, 3)


def _merge(a: np.ndarray) -> np.ndarray:
    """(lead, H, T, dh) -> (lead*T, H*dh)."""
    lead, H, T, dh = a.shape
    return a.transpose(0, 2, 1, 3).reshape(lead * T, H * dh)


def attention_forward(x, W_Q, W_K, W_V, W_O, n_heads: int, kind: str = "softmax", rope=None, qk_input=None):
    """-> (out (B, T, D), cache).  rope: (cos, sin) tables of shape (>= T, dh) or None."""
    B, T, D = x.shape
    H = n_heads
    dh = W_Q.shape[1] // H
    scale = 1.0 / math.sqrt(dh)
    x2 = x.reshape(B * T, D)
    if qk_input is None:
        qkv = x2 @ np.concatenate([W_Q, W_K, W_V], axis=1)
        HD = W_Q.shape[1]
        q, k, v = (_heads(qkv[:, i * HD:(i + 1) * HD], B, T, H) for i in range(3))
    else:
        q = _heads(qk_input[:T] @ W_Q, 1, T, H)
        k = _heads(qk_input[:T] @ W_K, 1, T, H)
        v = _heads(x2 @ W_V, B, T, H)
    if rope is not None:
        cos, sin = rope[0][:T], rope[1][:T]
        q, k = rope_forward(q, cos, sin), rope_forward(k, cos, sin)
    S = (q @ k.swapaxes(-1, -2)) * scale
    mask = np.tril(np.ones((T, T), dtype=bool))
    if kind == "softmax":
        S = np.where(mask, S, -np.inf)
        S -= S.max(axis=-1, keepdims=True)
        A = np.exp(S)
        A /= A.sum(axis=-1, keepdims=True)
    elif kind == "linear":
        A = S * mask
    else:
        raise ValueError(f"kind must be 'softmax' or 'linear', got {kind!r}")
    z2 = _merge(A @ v)
    out = (z2 @ W_O).reshape(B, T, D)
    return out, (x2, q, k, v, A, z2, mask, scale, kind, rope, qk_input, W_Q, W_K, W_V, W_O, B, T, H)


def attention_backward(d_out, cache):
    """-> (dx (B, T, D), grads {'W_Q','W_K','W_V','W_O'}, d_qk_input (T, D) or None)."""
    x2, q, k, v, A, z2, mask, scale, kind, rope, qk_input, W_Q, W_K, W_V, W_O, B, T, H = cache
    d2 = d_out.reshape(B * T, -1)
    grads = {"W_O": z2.T @ d2}
    dz = _heads(d2 @ W_O.T, B, T, H)
    dA = dz @ v.swapaxes(-1, -2)
    dv = A.swapaxes(-1, -2) @ dz
    if A.shape[0] == 1 and B > 1:  # position-only scores are shared over the batch
        dA = dA.sum(axis=0, keepdims=True)
    if kind == "softmax":
        dS = A * (dA - (dA * A).sum(axis=-1, keepdims=True))
    else:
        dS = dA * mask
    dS *= scale
    dq = dS @ k
    dk = dS.swapaxes(-1, -2) @ q
    if rope is not None:
        cos, sin = rope[0][:T], rope[1][:T]
        dq, dk = rope_backward(dq, cos, sin), rope_backward(dk, cos, sin)
    if qk_input is None:
        dqkv = np.concatenate([_merge(dq), _merge(dk), _merge(dv)], axis=1)
        dW = x2.T @ dqkv
        HD = W_Q.shape[1]
        grads["W_Q"], grads["W_K"], grads["W_V"] = dW[:, :HD], dW[:, HD:2 * HD], dW[:, 2 * HD:]
        dx = dqkv @ np.concatenate([W_Q, W_K, W_V], axis=1).T
        d_qk = None
    else:
        dq2, dk2, dv2 = _merge(dq), _merge(dk), _merge(dv)
        P = qk_input[:T]
        grads["W_Q"], grads["W_K"], grads["W_V"] = P.T @ dq2, P.T @ dk2, x2.T @ dv2
        dx = dv2 @ W_V.T
        d_qk = dq2 @ W_Q.T + dk2 @ W_K.T
    return dx.reshape(B, T, -1), grads, d_qk
