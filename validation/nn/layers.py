"""Elementwise and token-wise layers with hand-written backward passes.

Shapes: B batch, T sequence length, D model width, V vocabulary, F MLP width.  All functions keep
the dtype of their inputs (scalars are Python floats, which NumPy 2 does not use for promotion).
"""

from __future__ import annotations

import numpy as np

from ._profile import lap


def wgrad(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a.T @ b for tall a (N, m), b (N, n): computed as (b.T @ a).T when n > m, which OpenBLAS runs
    several times faster for N >> m, n (measured with benchmarks/bench_transformer.py)."""
    return (b.T @ a).T if b.shape[1] > a.shape[1] else a.T @ b


def embedding_forward(table: np.ndarray, tokens: np.ndarray):
    """table (V, D), tokens (B, T) int -> (B, T, D)."""
    return table[tokens], (tokens, table.shape[0])


def embedding_backward(d_out: np.ndarray, cache) -> np.ndarray:
    """Gradient of the table, (V, D): one scatter-add (bincount, accumulated in float64)."""
    tokens, V = cache
    D = d_out.shape[-1]
    idx = (tokens.reshape(-1, 1) * D + np.arange(D)).ravel()
    return np.bincount(idx, weights=d_out.reshape(-1), minlength=V * D).reshape(V, D).astype(d_out.dtype)


def layernorm_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5):
    """LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * w + b (biased variance)."""
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    inv = 1.0 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + eps)
    xhat = xc * inv
    out = xhat * w + b
    lap("ln")
    return out, (xhat, inv, w)


def layernorm_backward(d_out: np.ndarray, cache):
    """-> (dx, dw, db)."""
    xhat, inv, w = cache
    D = xhat.shape[-1]
    dxhat = d_out * w
    dx = inv * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                - xhat * (dxhat * xhat).sum(axis=-1, keepdims=True) / D)
    red = tuple(range(d_out.ndim - 1))
    out = dx, (d_out * xhat).sum(axis=red), d_out.sum(axis=red)
    lap("ln.bwd")
    return out


def mlp_forward(x: np.ndarray, W_in, b_in, W_out, b_out):
    """ReLU MLP on the last axis: relu(x W_in + b_in) W_out + b_out.  b_in/b_out may be None."""
    shape = x.shape
    x2 = x.reshape(-1, shape[-1])
    pre = x2 @ W_in
    lap("mlp.in", 2.0 * x2.shape[0] * W_in.shape[0] * W_in.shape[1])
    if b_in is not None:
        pre += b_in
    act = np.maximum(pre, 0)
    lap("mlp.relu")
    out = act @ W_out
    if b_out is not None:
        out += b_out
    lap("mlp.out", 2.0 * x2.shape[0] * W_in.shape[1] * W_out.shape[1])
    return out.reshape(*shape[:-1], W_out.shape[1]), (x2, pre, act, W_in, W_out, shape, b_in is not None)


def mlp_backward(d_out: np.ndarray, cache):
    """-> (dx, dW_in, db_in, dW_out, db_out); the bias gradients are None without biases."""
    x2, pre, act, W_in, W_out, shape, bias = cache
    d2 = d_out.reshape(-1, d_out.shape[-1])
    dW_out = wgrad(act, d2)
    dpre = d2 @ W_out.T
    lap("mlp.out.bwd", 4.0 * x2.shape[0] * W_in.shape[1] * W_out.shape[1])
    dpre *= pre > 0
    lap("mlp.relu.bwd")
    dW_in = wgrad(x2, dpre)
    dx = (dpre @ W_in.T).reshape(shape)
    lap("mlp.in.bwd", 4.0 * x2.shape[0] * W_in.shape[0] * W_in.shape[1])
    out = dx, dW_in, (dpre.sum(axis=0) if bias else None), dW_out, (d2.sum(axis=0) if bias else None)
    lap("mlp.bias.bwd")
    return out


def dropout_forward(x: np.ndarray, rate: float, rng: np.random.Generator | None):
    """Inverted dropout: zero with probability rate, scale the rest by 1/(1 - rate).  rng None or
    rate 0: identity (evaluation)."""
    if rng is None or rate == 0.0:
        return x, None
    keep = (rng.random(x.shape, dtype=np.float32) >= rate).astype(x.dtype) * (1.0 / (1.0 - rate))
    return x * keep, keep


def dropout_backward(d_out: np.ndarray, cache) -> np.ndarray:
    return d_out if cache is None else d_out * cache


def rope_tables(T: int, d_head: int, dtype, base: float = 10000.0):
    """cos, sin tables (T, d_head) for rotary embedding over the full head dimension, in the
    'rotate half' layout: pair (i, i + d_head/2) rotates by angle t * base^(-2i/d_head)."""
    half = d_head // 2
    freq = base ** (-np.arange(half, dtype=np.float64) * 2.0 / d_head)
    ang = np.arange(T, dtype=np.float64)[:, None] * freq[None, :]
    ang = np.concatenate([ang, ang], axis=1)
    return np.cos(ang).astype(dtype), np.sin(ang).astype(dtype)


def _rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def _rotate_half_T(x):
    half = x.shape[-1] // 2
    return np.concatenate([x[..., half:], -x[..., :half]], axis=-1)


def rope_forward(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """x (..., T, d_head) -> rotated, same shape."""
    return x * cos + _rotate_half(x) * sin


def rope_backward(d_out: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Transpose of the rotation (an orthogonal map per position)."""
    return d_out * cos + _rotate_half_T(d_out * sin)
