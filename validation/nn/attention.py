"""Causal multi-head attention (softmax or linear) with a hand-written backward pass.

Shapes: x (B, T, D); W_Q, W_K, W_V (D, H*dh); W_O (H*dh, D).  Scores S = q k^T / sqrt(dh) with a
causal mask; softmax attention A = rowsoftmax(S), linear attention A = S (masked, unnormalised:
the copy-task model of ``shared/theory/attention_copy.md`` §1).  Optional RoPE on q and k over the
full head dimension.  ``qk_input`` (T, D): position-only scores — q and k are computed from it
(shared over the batch, e.g. the learned positional embedding) while v comes from x.
``rows`` (R,) sorted query positions: only those outputs are computed (keys and values still
use every position) — the last layer needs only the positions that carry a loss.
"""

from __future__ import annotations

import math

import numpy as np

from ._profile import lap
from .layers import rope_backward, rope_forward, wgrad


def _heads(a2: np.ndarray, lead: int, T: int, H: int) -> np.ndarray:
    """(lead*T, H*dh) -> (lead, H, T, dh)."""
    return a2.reshape(lead, T, H, -1).transpose(0, 2, 1, 3)


def _merge(a: np.ndarray) -> np.ndarray:
    """(lead, H, T, dh) -> (lead*T, H*dh)."""
    lead, H, T, dh = a.shape
    return a.transpose(0, 2, 1, 3).reshape(lead * T, H * dh)


def attention_forward(x, W_Q, W_K, W_V, W_O, n_heads: int, kind: str = "softmax", rope=None, qk_input=None,
                      rows=None):
    """-> (out (B, R, D), cache) with R = len(rows) (all T positions when rows is None).
    rope: (cos, sin) tables of shape (>= T, dh) or None."""
    if kind not in ("softmax", "linear"):
        raise ValueError(f"kind must be 'softmax' or 'linear', got {kind!r}")
    B, T, D = x.shape
    H = n_heads
    HD = W_Q.shape[1]
    rows = np.arange(T) if rows is None else np.asarray(rows)
    R = rows.size
    scale = 1.0 / math.sqrt(HD // H)
    x2 = x.reshape(B * T, D)
    xq = x2 if R == T else x[:, rows].reshape(B * R, D)
    if qk_input is None:
        q = _heads(xq @ W_Q, B, R, H)
        kv = x2 @ np.concatenate([W_K, W_V], axis=1)
        k, v = _heads(kv[:, :HD], B, T, H), _heads(kv[:, HD:], B, T, H)
    else:
        q = _heads(qk_input[rows] @ W_Q, 1, R, H)
        k = _heads(qk_input[:T] @ W_K, 1, T, H)
        v = _heads(x2 @ W_V, B, T, H)
    lap("attn.qkv", 2.0 * (B * R + 2 * B * T) * D * HD)
    if rope is not None:
        q = rope_forward(q, rope[0][rows], rope[1][rows])
        k = rope_forward(k, rope[0][:T], rope[1][:T])
        lap("attn.rope")
    A = q @ k.swapaxes(-1, -2)
    lap("attn.scores", 2.0 * B * R * T * HD)
    A *= scale
    if kind == "softmax":
        A += np.where(rows[:, None] >= np.arange(T)[None, :], 0.0, -np.inf).astype(A.dtype)
        A -= A.max(axis=-1, keepdims=True)
        np.exp(A, out=A)
        A /= A.sum(axis=-1, keepdims=True)
    else:
        A *= rows[:, None] >= np.arange(T)[None, :]
    lap("attn.softmax")
    z2 = _merge(A @ v)
    lap("attn.av", 2.0 * B * R * T * HD)
    out = (z2 @ W_O).reshape(B, R, D)
    lap("attn.out", 2.0 * B * R * HD * D)
    return out, (x2, xq, q, k, v, A, z2, scale, kind, rope, qk_input, rows, W_Q, W_K, W_V, W_O, B, T, H)


def attention_backward(d_out, cache):
    """d_out (B, R, D) -> (dx (B, T, D), grads {'W_Q','W_K','W_V','W_O'}, d_qk_input (T, D) or None)."""
    x2, xq, q, k, v, A, z2, scale, kind, rope, qk_input, rows, W_Q, W_K, W_V, W_O, B, T, H = cache
    R = rows.size
    d2 = d_out.reshape(B * R, -1)
    grads = {"W_O": wgrad(z2, d2)}
    dz = _heads(d2 @ W_O.T, B, R, H)
    HD, D = W_O.shape
    lap("attn.out.bwd", 4.0 * B * R * HD * D)
    dS = dz @ v.swapaxes(-1, -2)                     # dA, overwritten in place into dS below
    dv = A.swapaxes(-1, -2) @ dz
    lap("attn.av.bwd", 4.0 * B * R * T * HD)
    if A.shape[0] == 1 and B > 1:  # position-only scores are shared over the batch
        dS = dS.sum(axis=0, keepdims=True)
    if kind == "softmax":
        dS -= (dS * A).sum(axis=-1, keepdims=True)
        dS *= A
    else:
        dS *= rows[:, None] >= np.arange(T)[None, :]
    dS *= scale
    lap("attn.softmax.bwd")
    dq = dS @ k
    dk = dS.swapaxes(-1, -2) @ q
    lap("attn.scores.bwd", 4.0 * B * R * T * HD)
    if rope is not None:
        dq = rope_backward(dq, rope[0][rows], rope[1][rows])
        dk = rope_backward(dk, rope[0][:T], rope[1][:T])
        lap("attn.rope.bwd")
    dq2, dk2, dv2 = _merge(dq), _merge(dk), _merge(dv)
    if qk_input is None:
        dkv = np.concatenate([dk2, dv2], axis=1)
        dWkv = wgrad(x2, dkv)
        HD = W_Q.shape[1]
        grads["W_Q"], grads["W_K"], grads["W_V"] = wgrad(xq, dq2), dWkv[:, :HD], dWkv[:, HD:]
        dx = dkv @ np.concatenate([W_K, W_V], axis=1).T
        dxq = dq2 @ W_Q.T
        dx = dx.reshape(B, T, -1)
        if R == T:
            dx += dxq.reshape(B, T, -1)
        else:
            dx[:, rows] += dxq.reshape(B, R, -1)
        d_qk = None
    else:
        grads["W_Q"] = qk_input[rows].T @ dq2
        grads["W_K"] = qk_input[:T].T @ dk2
        grads["W_V"] = wgrad(x2, dv2)
        dx = (dv2 @ W_V.T).reshape(B, T, -1)
        d_qk = np.zeros_like(qk_input[:T])
        d_qk[rows] += dq2 @ W_Q.T
        d_qk += dk2 @ W_K.T
    lap("attn.qkv.bwd", 4.0 * (B * R + 2 * B * T) * W_Q.shape[0] * W_Q.shape[1])
    return dx, grads, d_qk
