"""Causal multi-head attention (softmax or linear) with a hand-written backward pass.

Shapes: x (B, T, D); W_Q, W_K, W_V (D, H*dh); W_O (H*dh, D).  Scores S = q k^T / sqrt(dh) with a
causal mask; softmax attention A = rowsoftmax(S), linear attention A = S (masked, unnormalised:
the copy-task model of ``docs/attention_copy.md`` §1).  Optional RoPE on q and k over the full
head dimension.  ``qk_input`` (T, D): position-only scores — q and k are computed from it (shared
over the batch, e.g. the learned positional embedding) while v comes from x.  ``rows`` (R,)
sorted query positions: only those outputs are computed (keys and values still use every
position) — the last layer needs only the positions that carry a loss.  ``head_mask`` (H,):
head h's output is multiplied by head_mask[h] before W_O (0 ablates the head; all ones is the
plain model).

The projections are single GEMMs over all tokens (q, k, v in one (B T, 3 H dh) product when every
row is a query); everything between them — RoPE, the scores on and below the diagonal, the
softmax, A V, the head mask and the split/merge of heads — is one fused kernel per (batch, head)
(``_kernels.attention_fwd`` / ``attention_bwd``), which reads and writes the GEMM layouts directly.
"""

from __future__ import annotations

import math

import numpy as np

from . import _kernels as K
from . import _parallel
from ._profile import lap
from .layers import _ws, wgrad


def _rows(rows, T):
    return np.arange(T) if rows is None else np.ascontiguousarray(rows, dtype=np.int64)


def attention_forward(x, W_Q, W_K, W_V, W_O, n_heads: int, kind: str = "softmax", rope=None, qk_input=None,
                      rows=None, head_mask=None, *, ws=None):
    """-> (out (B, R, D), cache) with R = len(rows) (all T positions when rows is None).
    rope: (cos, sin) tables of shape (>= T, dh) or None.  The attention pattern A (B, H, R, T)
    (zero above the diagonal) is ``cache[0]``."""
    if kind not in ("softmax", "linear"):
        raise ValueError(f"kind must be 'softmax' or 'linear', got {kind!r}")
    ws = _ws(ws)
    B, T, D = x.shape
    H, HD = n_heads, W_Q.shape[1]
    dt = x.dtype
    rows = _rows(rows, T)
    R = rows.size
    x2 = x.reshape(B * T, D)
    if qk_input is None and R == T:
        W = np.concatenate([W_Q, W_K, W_V], axis=1)
        qkv = ws("qkv", (B * T, 3 * HD), dt)
        _parallel.matmul(x2, W, qkv)
        src = (qkv, 0, T, qkv, HD, T, qkv, 2 * HD)
        xq = x2
    elif qk_input is None:
        xq = x[:, rows].reshape(B * R, D)
        q = ws("q", (B * R, HD), dt)
        _parallel.matmul(xq, W_Q, q)
        W = np.concatenate([W_K, W_V], axis=1)
        kv = ws("kv", (B * T, 2 * HD), dt)
        _parallel.matmul(x2, W, kv)
        src = (q, 0, R, kv, 0, T, kv, HD)
    else:
        xq, W = None, None
        q = np.ascontiguousarray(qk_input[rows] @ W_Q)
        k = np.ascontiguousarray(qk_input[:T] @ W_K)
        v = ws("v", (B * T, HD), dt)
        _parallel.matmul(x2, W_V, v)
        src = (q, 0, 0, k, 0, 0, v, 0)
    lap("attn.qkv", 2.0 * (B * R + 2 * B * T) * D * HD)
    cos, sin = (rope[0], rope[1]) if rope is not None else (np.zeros((0, HD // H), dt),) * 2
    hm = np.ones(H, dt) if head_mask is None else np.ascontiguousarray(head_mask, dtype=dt)
    if hm.shape != (H,):
        raise ValueError(f"head_mask must have shape ({H},), got {hm.shape}")
    scale = 1.0 / math.sqrt(HD // H)
    A = ws("A", (B, H, R, T), dt)
    z = ws("z", (B * R, HD), dt)
    K.attention_fwd(*src, rows, cos, sin, scale, kind == "softmax", hm, A, z)
    lap("attn.core", 4.0 * B * H * float(np.sum(rows + 1)) * (HD // H))
    out = ws("attn_out", (B * R, D), dt)
    _parallel.matmul(z, W_O, out)
    lap("attn.out", 2.0 * B * R * HD * D)
    return out.reshape(B, R, D), (A, z, x2, xq, src, W, cos, sin, hm, scale, kind, qk_input, rows, W_Q, W_K,
                                  W_V, W_O, B, T, H)


def attention_backward(d_out, cache, *, ws=None):
    """d_out (B, R, D) -> (dx (B, T, D), grads {'W_Q','W_K','W_V','W_O'}, d_qk_input (T, D) or None)."""
    ws = _ws(ws)
    A, z, x2, xq, src, W, cos, sin, hm, scale, kind, qk_input, rows, W_Q, W_K, W_V, W_O, B, T, H = cache
    R = rows.size
    HD, D = W_O.shape
    dt = z.dtype
    d2 = d_out.reshape(B * R, D)
    grads = {"W_O": wgrad(z, d2)}
    dz = ws("dz", (B * R, HD), dt)
    _parallel.matmul(d2, W_O.T, dz)
    lap("attn.out.bwd", 4.0 * B * R * HD * D)
    args = (dz, *src, rows, cos, sin, scale, kind == "softmax", hm, A)
    d_qk = None
    dx = ws("attn_dx", (B * T, D), dt)
    if qk_input is None and R == T:
        dqkv = ws("dqkv", (B * T, 3 * HD), dt)
        K.attention_bwd(*args, dqkv, 0, dqkv, HD, dqkv, 2 * HD)
        lap("attn.core.bwd", 8.0 * B * H * float(np.sum(rows + 1)) * (HD // H))
        dW = wgrad(x2, dqkv)
        grads["W_Q"], grads["W_K"], grads["W_V"] = (np.ascontiguousarray(dW[:, i * HD:(i + 1) * HD]) for i in range(3))
        _parallel.matmul(dqkv, W.T, dx)
    elif qk_input is None:
        dq = ws("dq", (B * R, HD), dt)
        dkv = ws("dkv", (B * T, 2 * HD), dt)
        K.attention_bwd(*args, dq, 0, dkv, 0, dkv, HD)
        lap("attn.core.bwd", 8.0 * B * H * float(np.sum(rows + 1)) * (HD // H))
        grads["W_Q"] = wgrad(xq, dq)
        dW = wgrad(x2, dkv)
        grads["W_K"], grads["W_V"] = np.ascontiguousarray(dW[:, :HD]), np.ascontiguousarray(dW[:, HD:])
        _parallel.matmul(dkv, W.T, dx)
        dx.reshape(B, T, D)[:, rows] += (dq @ W_Q.T).reshape(B, R, D)
    else:
        dq = ws("dq", (B * R, HD), dt)
        dk = ws("dk", (B * T, HD), dt)
        dv = ws("dv", (B * T, HD), dt)
        K.attention_bwd(*args, dq, 0, dk, 0, dv, 0)
        lap("attn.core.bwd", 8.0 * B * H * float(np.sum(rows + 1)) * (HD // H))
        dq_s, dk_s = dq.reshape(B, R, HD).sum(axis=0), dk.reshape(B, T, HD).sum(axis=0)
        grads["W_Q"] = qk_input[rows].T @ dq_s
        grads["W_K"] = qk_input[:T].T @ dk_s
        grads["W_V"] = wgrad(x2, dv)
        _parallel.matmul(dv, W_V.T, dx)
        d_qk = np.zeros_like(qk_input[:T])
        d_qk[rows] += dq_s @ W_Q.T
        d_qk += dk_s @ W_K.T
    lap("attn.qkv.bwd", 4.0 * (B * R + 2 * B * T) * W_Q.shape[0] * HD)
    return dx.reshape(B, T, D), grads, d_qk
