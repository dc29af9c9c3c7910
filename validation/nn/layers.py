"""Token-wise layers with hand-written backward passes.

Shapes: B batch, T sequence length, D model width, V vocabulary, F MLP width; N = rows (B T, or
any leading shape, flattened).  All functions keep the dtype of their inputs (scalars are Python
floats, which NumPy 2 does not use for promotion).  ``ws`` (a ``Workspace`` or None) supplies the
output and scratch arrays: None allocates fresh ones; the model passes one scope per layer so that
a training loop reuses them (an output then lives until the same layer runs again).
The arithmetic lives in the fused kernels of ``_kernels`` (LayerNorm forward/backward, ReLU and
its mask, the embedding scatter); the matrix products go to BLAS.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K
from . import _parallel
from ._profile import lap
from ._workspace import Workspace


def _ws(ws):
    return Workspace() if ws is None else ws


def wgrad(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a.T @ b for tall a (N, m), b (N, n) (a weight gradient; the contraction over N split across
    threads): computed as (b.T @ a).T when n > m, which OpenBLAS runs several times faster for
    N >> m, n (measured with benchmarks/bench_transformer.py)."""
    return _parallel.matmul_tn(b, a).T if b.shape[1] > a.shape[1] else _parallel.matmul_tn(a, b)


def embedding_forward(table: np.ndarray, tokens: np.ndarray, pos: np.ndarray | None = None, *, ws=None):
    """table (V, D), tokens (B, T) int, optional positional table pos (>= T, D) ->
    table[tokens] (+ pos[:T]), (B, T, D)."""
    B, T = tokens.shape
    x = _ws(ws)("embed", (B, T, table.shape[1]), table.dtype)
    np.take(table, tokens, axis=0, out=x)
    if pos is not None:
        x += pos[:T]
    return x, (tokens, table.shape[0])


def embedding_backward(d_out: np.ndarray, cache) -> np.ndarray:
    """Gradient of the table, (V, D): one scatter-add, accumulated in float64."""
    tokens, V = cache
    D = d_out.shape[-1]
    return K.embedding_bwd(tokens.reshape(-1), d_out.reshape(-1, D), V)


def layernorm_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5, *, residual=None,
                      ws=None):
    """LayerNorm over the last axis: (s - mean) / sqrt(var + eps) * w + b (biased variance) of
    s = x, or of s = x + residual (the residual add fused in).  -> (out, cache); the sum s is
    ``cache[0]`` (x itself without a residual)."""
    ws = _ws(ws)
    D = x.shape[-1]
    x2 = x.reshape(-1, D)
    N = x2.shape[0]
    out = ws("ln_out", x.shape, x.dtype)
    mean, rstd = ws("ln_mean", (N,), x.dtype), ws("ln_rstd", (N,), x.dtype)
    if residual is None:
        s, none = x, x2[:0]
        K.layernorm_fwd(x2, none, w, b, eps, none, out.reshape(N, D), mean, rstd)
    else:
        s = ws("ln_sum", x.shape, x.dtype)
        K.layernorm_fwd(x2, residual.reshape(N, D), w, b, eps, s.reshape(N, D), out.reshape(N, D), mean, rstd)
    lap("ln")
    return out, (s, mean, rstd, w)


def layernorm_backward(d_out: np.ndarray, cache, *, dx: np.ndarray | None = None, ws=None):
    """-> (dx, dw, db).  With ``dx`` given (the residual stream's gradient, shape of x) the
    input gradient is added into it in place and returned."""
    s, mean, rstd, w = cache
    D = s.shape[-1]
    acc = dx is not None
    if not acc:
        dx = _ws(ws)("ln_dx", s.shape, s.dtype)
    dw, db = np.empty(D, s.dtype), np.empty(D, s.dtype)
    K.layernorm_bwd(d_out.reshape(-1, D), s.reshape(-1, D), w, mean, rstd, dx.reshape(-1, D), dw, db, acc)
    lap("ln.bwd")
    return dx, dw, db


def mlp_forward(x: np.ndarray, W_in, b_in, W_out, b_out, *, ws=None):
    """ReLU MLP on the last axis: relu(x W_in + b_in) W_out + b_out.  b_in/b_out may be None."""
    ws = _ws(ws)
    shape = x.shape
    x2 = x.reshape(-1, shape[-1])
    N, F = x2.shape[0], W_in.shape[1]
    act = ws("act", (N, F), x.dtype)
    _parallel.matmul(x2, W_in, act)
    lap("mlp.in", 2.0 * N * W_in.shape[0] * F)
    K.relu_bias(act, b_in if b_in is not None else act[0, :0])
    lap("mlp.relu")
    out = ws("mlp_out", (N, W_out.shape[1]), x.dtype)
    _parallel.matmul(act, W_out, out)
    if b_out is not None:
        out += b_out
    lap("mlp.out", 2.0 * N * F * W_out.shape[1])
    return out.reshape(*shape[:-1], W_out.shape[1]), (x2, act, W_in, W_out, shape, b_in is not None)


def mlp_backward(d_out: np.ndarray, cache, *, ws=None):
    """-> (dx, dW_in, db_in, dW_out, db_out); the bias gradients are None without biases."""
    ws = _ws(ws)
    x2, act, W_in, W_out, shape, bias = cache
    d2 = d_out.reshape(-1, d_out.shape[-1])
    N, F = act.shape
    dW_out = wgrad(act, d2)
    db_out = None
    if bias:
        db_out = np.empty(d2.shape[1], d2.dtype)
        K.column_sums(d2, db_out)
    dact = ws("dact", (N, F), act.dtype)
    _parallel.matmul(d2, W_out.T, dact)
    lap("mlp.out.bwd", 4.0 * N * F * W_out.shape[1])
    db_in = np.empty(F if bias else 0, act.dtype)
    K.relu_bwd(dact, act, db_in)
    lap("mlp.relu.bwd")
    dW_in = wgrad(x2, dact)
    dx = ws("mlp_dx", x2.shape, act.dtype)
    _parallel.matmul(dact, W_in.T, dx)
    lap("mlp.in.bwd", 4.0 * N * W_in.shape[0] * F)
    return dx.reshape(shape), dW_in, (db_in if bias else None), dW_out, db_out


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
