"""Fused Numba kernels of the transformer's step (forward and hand-written backward).

Each kernel ``k(c, lo, hi, ...)`` (all but the cross-entropy, which does one block of rows in the
calling thread for ``output_head``) does rows [lo, hi) of its parallel dimension (chunk c of
``_parallel.run``; reductions over rows write partial sums into row c of a float64 array) and
writes into arrays the caller owns, so buffers are reused across steps and no NumPy temporaries
appear.  They keep the dtype of their array arguments (float32 or float64: one compiled signature
each, ``cache=True``, ``nogil``), index arrays element-wise (array views inside hot loops cost
atomic reference counts) and are compiled with reassociation and FMA contraction only (NaN and inf
still propagate).  Every array index is cast to an unsigned integer (``_u``): for a signed index
Numba emits the negative-index wrap-around (a compare and select per access), which keeps LLVM
from vectorising the loops (one thread, the shapes of ``benchmarks/bench_transformer.py``: the
mod-97 attention forward took 10.1 ms with signed indices and 2.8 ms with unsigned ones, the LM
layer's 10.1 and 4.5 ms).  The Python wrappers at the end hide the chunking.

Contents: ``_exp`` (float64 range reduction + degree-13 Taylor polynomial, ~1 ulp, vectorisable:
no SVML needed) for the float64 losses and float64 models, ``_exp32`` for float32 attention; LayerNorm forward (with the residual add before it fused in)
and backward (adding into the residual gradient); attention per (batch, head): RoPE, scores on and
below the causal diagonal only, softmax or linear attention, A V, the head mask and the
split/merge of heads, reading and writing the GEMM layouts; the float64 cross-entropy of a block of
rows with its gradient written in place (one thread: ``output_head`` runs blocks in parallel); target log-probabilities; ReLU (+ bias) and its mask; column sums; the
embedding scatter-add.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from . import _parallel

_FM = {"reassoc", "contract"}
_OPT = dict(cache=True, nogil=True, fastmath=_FM)

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10


@intrinsic
def _bits_to_float64(typingctx, bits):
    """Reinterpret an int64 as a float64 (a bitcast; vectorises)."""
    if bits != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _bits_to_float32(typingctx, bits):
    """Reinterpret an int32 as a float32 (a bitcast; vectorises)."""
    if bits != types.int32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


_f32 = np.float32
_u = np.uintp     # unsigned indices: Numba then emits no negative-index wrap-around (see the module docstring)


@njit(cache=True, inline="always", fastmath=_FM)
def _exp32(x):
    """exp(x) in float32 for x <= 0, within half an ulp for x > -87 (below: exp(-87) ~ 1.6e-38):
    Cody-Waite reduction by ln 2 and the degree-6 polynomial of Cephes' expf; 16 lanes per vector,
    four times the rate of ``_exp``."""
    x = max(_f32(x), _f32(-87.0))
    k = np.floor(x * _f32(1.44269504088896341) + _f32(0.5))
    r = (x - k * _f32(0.693359375)) + k * _f32(2.12194440e-4)
    p = _f32(1.9875691500e-4)
    p = p * r + _f32(1.3981999507e-3)
    p = p * r + _f32(8.3334519073e-3)
    p = p * r + _f32(4.1665795894e-2)
    p = p * r + _f32(1.6666665459e-1)
    p = p * r + _f32(5.0000001201e-1)
    p = p * r * r + r + _f32(1.0)
    return p * _bits_to_float32(np.int32((np.int32(k) + np.int32(127)) << np.int32(23)))


@njit(cache=True, inline="always", fastmath=_FM)
def _exp(x):
    """exp(x) in float64 for x <= 0 (arguments below -708 return exp(-708) ~ 3e-308)."""
    x = max(float(x), -708.0)
    k = math.floor(x * _LOG2E + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _bits_to_float64((np.int64(k) + 1023) << 52)


# ----------------------------------------------------------------------------- LayerNorm
@njit(**_OPT)
def _layernorm_fwd(c, lo, hi, x, res, w, b, eps, xsum, out, mean, rstd):
    D = x.shape[1]
    one, Df, epsf = x.dtype.type(1.0), x.dtype.type(D), x.dtype.type(eps)
    add = res.shape[0] > 0
    for n in range(lo, hi):
        s = x.dtype.type(0.0)
        if add:
            for d in range(D):
                t = x[_u(n), _u(d)] + res[_u(n), _u(d)]
                xsum[_u(n), _u(d)] = t
                s += t
            src = xsum
        else:
            for d in range(D):
                s += x[_u(n), _u(d)]
            src = x
        mu = s / Df
        v = x.dtype.type(0.0)
        for d in range(D):
            t = src[_u(n), _u(d)] - mu
            v += t * t
        inv = one / np.sqrt(v / Df + epsf)
        mean[_u(n)] = mu
        rstd[_u(n)] = inv
        for d in range(D):
            out[_u(n), _u(d)] = (src[_u(n), _u(d)] - mu) * inv * w[_u(d)] + b[_u(d)]


@njit(**_OPT)
def _layernorm_bwd(c, lo, hi, dout, x, w, mean, rstd, dx, accumulate, pw, pb):
    D = x.shape[1]
    Df = x.dtype.type(D)
    for n in range(lo, hi):
        mu, inv = mean[_u(n)], rstd[_u(n)]
        s1 = x.dtype.type(0.0)
        s2 = x.dtype.type(0.0)
        for d in range(D):
            xh = (x[_u(n), _u(d)] - mu) * inv
            g = dout[_u(n), _u(d)] * w[_u(d)]
            s1 += g
            s2 += g * xh
            pw[_u(c), _u(d)] += dout[_u(n), _u(d)] * xh
            pb[_u(c), _u(d)] += dout[_u(n), _u(d)]
        s1 /= Df
        s2 /= Df
        if accumulate:
            for d in range(D):
                dx[_u(n), _u(d)] += inv * (dout[_u(n), _u(d)] * w[_u(d)] - s1 - (x[_u(n), _u(d)] - mu) * inv * s2)
        else:
            for d in range(D):
                dx[_u(n), _u(d)] = inv * (dout[_u(n), _u(d)] * w[_u(d)] - s1 - (x[_u(n), _u(d)] - mu) * inv * s2)


# ----------------------------------------------------------------------------- attention
# A call that passes arrays costs atomic reference counts, so these helpers run over all rows of
# one batch element at once; they read (write) each row of the GEMM layout once, for every head.
@njit(cache=True, inline="always")
def _load_heads(src, row0, c0, pos, n, cos, sin, out, scale):
    """out[h, i, :] = scale * RoPE(src[row0 + i, c0 + h dh : + dh]) at position pos[i], i < n, for
    every head h of out (H, ., dh) (no RoPE when cos has no rows)."""
    H, dh = out.shape[0], out.shape[2]
    half = dh // 2
    for i in range(n):
        r, p = row0 + i, pos[_u(i)]
        for h in range(H):
            c = c0 + h * dh
            if cos.shape[0] == 0:
                for d in range(dh):
                    out[_u(h), _u(i), _u(d)] = src[_u(r), _u(c + d)] * scale
            else:
                for d in range(half):
                    a, b = src[_u(r), _u(c + d)], src[_u(r), _u(c + half + d)]
                    out[_u(h), _u(i), _u(d)] = (a * cos[_u(p), _u(d)] - b * sin[_u(p), _u(d)]) * scale
                    out[_u(h), _u(i), _u(half + d)] = (b * cos[_u(p), _u(half + d)] + a * sin[_u(p), _u(half + d)]) * scale


@njit(cache=True, inline="always")
def _store_heads(g, dst, row0, c0, pos, n, cos, sin, scale):
    """dst[row0 + i, c0 + h dh : + dh] = scale * RoPE^T(g[h, i, :]) at position pos[i], i < n, for
    every head h (the transpose of ``_load_heads``)."""
    H, dh = g.shape[0], g.shape[2]
    half = dh // 2
    for i in range(n):
        r, p = row0 + i, pos[_u(i)]
        for h in range(H):
            c = c0 + h * dh
            if cos.shape[0] == 0:
                for d in range(dh):
                    dst[_u(r), _u(c + d)] = g[_u(h), _u(i), _u(d)] * scale
            else:
                for d in range(half):
                    a, b = g[_u(h), _u(i), _u(d)], g[_u(h), _u(i), _u(half + d)]
                    dst[_u(r), _u(c + d)] = (a * cos[_u(p), _u(d)] + b * sin[_u(p), _u(half + d)]) * scale
                    dst[_u(r), _u(c + half + d)] = (b * cos[_u(p), _u(half + d)] - a * sin[_u(p), _u(d)]) * scale


@njit(cache=True, inline="always", fastmath=_FM)
def _row_max(z, r, n, pm):
    """max_j z[r, j] over j < n (n >= 1), as a float64: 16 running maxima (one vector) over the
    first n - n % 16 entries, then the tail (a plain max loop does not vectorise); pm (16,) scratch."""
    n16 = n - n % 16
    mx = float(z[_u(r), 0])
    if n16 > 0:
        for q in range(16):
            pm[_u(q)] = z[_u(r), _u(q)]
        for j0 in range(16, n16, 16):
            for q in range(16):
                v = z[_u(r), _u(j0 + q)]
                pm[_u(q)] = v if v > pm[_u(q)] else pm[_u(q)]
        for q in range(16):
            mx = max(mx, float(pm[_u(q)]))
    for j in range(n16, n):
        mx = max(mx, float(z[_u(r), _u(j)]))
    return mx


# Products of one (batch, head) on 4-row tiles of queries, each with its own column limit ncol[t]
# (a multiple of 16: _tile_columns).  Unrolled so that every load/store of the accumulated row
# carries four multiply-adds; the plain triple loop runs at a third of the speed.
@njit(cache=True, inline="always", fastmath=_FM)
def _mm_nt(a, bT, out, Rp, ncol, dh):
    """out[i, j] = sum_d a[i, d] bT[d, j] for 4-row tiles i0 and j < ncol[i0 // 4]."""
    d4 = dh - dh % 4
    for i0 in range(0, Rp, 4):
        nt = ncol[_u(i0 // 4)]
        for ii in range(4):
            for j in range(nt):
                out[_u(i0 + ii), _u(j)] = 0.0
        for d in range(0, d4, 4):
            a0, a1, a2, a3 = a[_u(i0), _u(d)], a[_u(i0 + 1), _u(d)], a[_u(i0 + 2), _u(d)], a[_u(i0 + 3), _u(d)]
            c0, c1, c2, c3 = a[_u(i0), _u(d + 1)], a[_u(i0 + 1), _u(d + 1)], a[_u(i0 + 2), _u(d + 1)], a[_u(i0 + 3), _u(d + 1)]
            e0, e1, e2, e3 = a[_u(i0), _u(d + 2)], a[_u(i0 + 1), _u(d + 2)], a[_u(i0 + 2), _u(d + 2)], a[_u(i0 + 3), _u(d + 2)]
            f0, f1, f2, f3 = a[_u(i0), _u(d + 3)], a[_u(i0 + 1), _u(d + 3)], a[_u(i0 + 2), _u(d + 3)], a[_u(i0 + 3), _u(d + 3)]
            for j in range(nt):
                bv, bw, bx, by = bT[_u(d), _u(j)], bT[_u(d + 1), _u(j)], bT[_u(d + 2), _u(j)], bT[_u(d + 3), _u(j)]
                out[_u(i0), _u(j)] += a0 * bv + c0 * bw + e0 * bx + f0 * by
                out[_u(i0 + 1), _u(j)] += a1 * bv + c1 * bw + e1 * bx + f1 * by
                out[_u(i0 + 2), _u(j)] += a2 * bv + c2 * bw + e2 * bx + f2 * by
                out[_u(i0 + 3), _u(j)] += a3 * bv + c3 * bw + e3 * bx + f3 * by
        for d in range(d4, dh):
            a0, a1, a2, a3 = a[_u(i0), _u(d)], a[_u(i0 + 1), _u(d)], a[_u(i0 + 2), _u(d)], a[_u(i0 + 3), _u(d)]
            for j in range(nt):
                bv = bT[_u(d), _u(j)]
                out[_u(i0), _u(j)] += a0 * bv
                out[_u(i0 + 1), _u(j)] += a1 * bv
                out[_u(i0 + 2), _u(j)] += a2 * bv
                out[_u(i0 + 3), _u(j)] += a3 * bv


@njit(cache=True, inline="always", fastmath=_FM)
def _mm_nn(a, b, out, Rp, ncol, dh):
    """out[i, :] = sum_{j < ncol[i0 // 4]} a[i, j] b[j, :] for 4-row tiles i0."""
    for i0 in range(0, Rp, 4):
        nt = ncol[_u(i0 // 4)]
        for ii in range(4):
            for d in range(dh):
                out[_u(i0 + ii), _u(d)] = 0.0
        for j in range(0, nt, 2):
            a0, a1, a2, a3 = a[_u(i0), _u(j)], a[_u(i0 + 1), _u(j)], a[_u(i0 + 2), _u(j)], a[_u(i0 + 3), _u(j)]
            c0, c1, c2, c3 = a[_u(i0), _u(j + 1)], a[_u(i0 + 1), _u(j + 1)], a[_u(i0 + 2), _u(j + 1)], a[_u(i0 + 3), _u(j + 1)]
            for d in range(dh):
                bv, bw = b[_u(j), _u(d)], b[_u(j + 1), _u(d)]
                out[_u(i0), _u(d)] += a0 * bv + c0 * bw
                out[_u(i0 + 1), _u(d)] += a1 * bv + c1 * bw
                out[_u(i0 + 2), _u(d)] += a2 * bv + c2 * bw
                out[_u(i0 + 3), _u(d)] += a3 * bv + c3 * bw


@njit(cache=True, inline="always", fastmath=_FM)
def _mm_tn_acc(a, b, out, Rp, ncol, dh):
    """out[j, :] += sum_i a[i, j] b[i, :] over 8-row tiles i0 and j below the column limit of the
    tile's second half (a last tile of 4 rows when Rp is not a multiple of 8)."""
    R8 = Rp - Rp % 8
    for i0 in range(R8, Rp, 4):
        nt = ncol[_u(i0 // 4)]
        for j in range(nt):
            a0, a1, a2, a3 = a[_u(i0), _u(j)], a[_u(i0 + 1), _u(j)], a[_u(i0 + 2), _u(j)], a[_u(i0 + 3), _u(j)]
            for d in range(dh):
                out[_u(j), _u(d)] += a0 * b[_u(i0), _u(d)] + a1 * b[_u(i0 + 1), _u(d)] + a2 * b[_u(i0 + 2), _u(d)] + a3 * b[_u(i0 + 3), _u(d)]
    for i0 in range(0, R8, 8):
        nt = ncol[_u(i0 // 4 + 1)]
        for j in range(nt):
            a0, a1, a2, a3 = a[_u(i0), _u(j)], a[_u(i0 + 1), _u(j)], a[_u(i0 + 2), _u(j)], a[_u(i0 + 3), _u(j)]
            a4, a5, a6, a7 = a[_u(i0 + 4), _u(j)], a[_u(i0 + 5), _u(j)], a[_u(i0 + 6), _u(j)], a[_u(i0 + 7), _u(j)]
            for d in range(dh):
                out[_u(j), _u(d)] += (a0 * b[_u(i0), _u(d)] + a1 * b[_u(i0 + 1), _u(d)] + a2 * b[_u(i0 + 2), _u(d)] + a3 * b[_u(i0 + 3), _u(d)]
                              + a4 * b[_u(i0 + 4), _u(d)] + a5 * b[_u(i0 + 5), _u(d)] + a6 * b[_u(i0 + 6), _u(d)] + a7 * b[_u(i0 + 7), _u(d)])


@njit(cache=True, inline="always")
def _padded(R, T):
    """Rows padded to a multiple of 4 (the tiles) and keys to a multiple of 16 (vectors), or of 2
    for short sequences (T < 16: the mod-p model's 3 tokens would otherwise be mostly padding)."""
    return (R + 3) // 4 * 4, ((T + 15) // 16 * 16 if T >= 16 else (T + 1) // 2 * 2)


@njit(cache=True, inline="always")
def _tile_columns(rows, Rp, Tp):
    """Columns each 4-row tile of queries needs: the last key of its last row, rounded up to 16
    (Rp: the rows padded to a multiple of 4, Tp: the keys padded by ``_padded``)."""
    R = rows.shape[0]
    ncol = np.empty(Rp // 4, np.int64)
    for t in range(Rp // 4):
        n = rows[_u(min(4 * t + 3, R - 1))] + 1
        ncol[_u(t)] = min(Tp, (n + 15) // 16 * 16)
    return ncol


@njit(**_OPT)
def _attention_fwd(c, lo, hi, qsrc, qc0, qbs, ksrc, kc0, kbs, vsrc, vc0, rows, cos, sin, scale, softmax,
                   head_mask, A, z, single):
    """Batch elements [lo, hi), every head; single: float32 data (``_exp32``)."""
    B, H, R, T = A.shape
    dh = z.shape[1] // H
    dt = A.dtype
    Rp, Tp = _padded(R, T)
    ncol = _tile_columns(rows, Rp, Tp)
    keys = np.arange(T)
    qb = np.zeros((H, Rp, dh), dt)
    kb = np.zeros((H, Tp, dh), dt)
    vb = np.zeros((H, Tp, dh), dt)
    kT = np.zeros((dh, Tp), dt)
    S = np.zeros((Rp, Tp), dt)
    zb = np.empty((Rp, dh), dt)
    pm = np.empty(16, dt)
    for b in range(lo, hi):
        _load_heads(qsrc, b * qbs, qc0, rows, R, cos, sin, qb, scale)
        _load_heads(ksrc, b * kbs, kc0, keys, T, cos, sin, kb, 1.0)
        _load_heads(vsrc, b * T, vc0, keys, T, cos[:0], sin[:0], vb, 1.0)
        for h in range(H):
            for d in range(dh):
                for j in range(T):
                    kT[_u(d), _u(j)] = kb[_u(h), _u(j), _u(d)]
            _mm_nt(qb[_u(h)], kT, S, Rp, ncol, dh)
            for i in range(R):
                n = rows[_u(i)] + 1
                if softmax:
                    mx = S.dtype.type(_row_max(S, i, n, pm))
                    if single:
                        for j in range(n):
                            S[_u(i), _u(j)] = _exp32(S[_u(i), _u(j)] - mx)
                    else:
                        for j in range(n):
                            S[_u(i), _u(j)] = _exp(S[_u(i), _u(j)] - mx)
                    tot = 0.0
                    for j in range(n):
                        tot += S[_u(i), _u(j)]
                    inv = 1.0 / tot
                    for j in range(n):
                        S[_u(i), _u(j)] *= inv
                for j in range(n, ncol[_u(i // 4)]):
                    S[_u(i), _u(j)] = 0.0
                for j in range(n):
                    A[_u(b), _u(h), _u(i), _u(j)] = S[_u(i), _u(j)]
                for j in range(n, T):
                    A[_u(b), _u(h), _u(i), _u(j)] = 0.0
            _mm_nn(S, vb[_u(h)], zb, Rp, ncol, dh)
            m_h = head_mask[_u(h)]
            for i in range(R):
                for d in range(dh):
                    z[_u(b * R + i), _u(h * dh + d)] = zb[_u(i), _u(d)] * m_h


@njit(**_OPT)
def _attention_bwd(c, lo, hi, dz, qsrc, qc0, qbs, ksrc, kc0, kbs, vsrc, vc0, rows, cos, sin, scale, softmax,
                   head_mask, A, dq, dqc0, dk, dkc0, dv, dvc0):
    """Batch elements [lo, hi), every head."""
    B, H, R, T = A.shape
    dh = dz.shape[1] // H
    dt = A.dtype
    Rp, Tp = _padded(R, T)
    ncol = _tile_columns(rows, Rp, Tp)
    keys = np.arange(T)
    qb = np.zeros((H, Rp, dh), dt)
    kb = np.zeros((H, Tp, dh), dt)
    vb = np.zeros((H, Tp, dh), dt)
    dzb = np.zeros((H, Rp, dh), dt)
    dqb = np.empty((H, Rp, dh), dt)
    dkb = np.empty((H, Tp, dh), dt)
    dvb = np.empty((H, Tp, dh), dt)
    vT = np.zeros((dh, Tp), dt)
    P = np.zeros((Rp, Tp), dt)
    G = np.zeros((Rp, Tp), dt)
    for b in range(lo, hi):
        _load_heads(qsrc, b * qbs, qc0, rows, R, cos, sin, qb, scale)
        _load_heads(ksrc, b * kbs, kc0, keys, T, cos, sin, kb, 1.0)
        _load_heads(vsrc, b * T, vc0, keys, T, cos[:0], sin[:0], vb, 1.0)
        _load_heads(dz, b * R, 0, rows, R, cos[:0], sin[:0], dzb, 1.0)
        for h in range(H):
            m_h = head_mask[_u(h)]
            for i in range(R):
                for d in range(dh):
                    dzb[_u(h), _u(i), _u(d)] *= m_h
                n = rows[_u(i)] + 1
                for j in range(n):
                    P[_u(i), _u(j)] = A[_u(b), _u(h), _u(i), _u(j)]
                for j in range(n, ncol[_u(i // 4)]):
                    P[_u(i), _u(j)] = 0.0
            for d in range(dh):
                for j in range(T):
                    vT[_u(d), _u(j)] = vb[_u(h), _u(j), _u(d)]
            for j in range(Tp):
                for d in range(dh):
                    dkb[_u(h), _u(j), _u(d)] = 0.0
                    dvb[_u(h), _u(j), _u(d)] = 0.0
            _mm_nt(dzb[_u(h)], vT, G, Rp, ncol, dh)          # dA = dz v^T
            _mm_tn_acc(P, dzb[_u(h)], dvb[_u(h)], Rp, ncol, dh)   # dv = A^T dz
            for i in range(R):                            # dS = A (dA - rowsum(A dA)) or dA (linear)
                n = rows[_u(i)] + 1
                if softmax:
                    t = 0.0
                    for j in range(n):
                        t += P[_u(i), _u(j)] * G[_u(i), _u(j)]
                    for j in range(n):
                        G[_u(i), _u(j)] = P[_u(i), _u(j)] * (G[_u(i), _u(j)] - t)
                for j in range(n, ncol[_u(i // 4)]):
                    G[_u(i), _u(j)] = 0.0
            _mm_nn(G, kb[_u(h)], dqb[_u(h)], Rp, ncol, dh)        # d(scaled q) = dS k
            _mm_tn_acc(G, qb[_u(h)], dkb[_u(h)], Rp, ncol, dh)    # dk = dS^T (scaled q)
        _store_heads(dqb, dq, b * R, dqc0, rows, R, cos, sin, scale)
        _store_heads(dkb, dk, b * T, dkc0, keys, T, cos, sin, 1.0)
        _store_heads(dvb, dv, b * T, dvc0, keys, T, cos[:0], sin[:0], 1.0)


# ----------------------------------------------------------------------------- loss, elementwise
@njit(cache=True, inline="always", fastmath=_FM)
def _row_softmax(z, r, e, pm):
    """Max mx of row r of z and tot = sum_j exp(z[r, j] - mx), both float64; e[j] = exp(z[r, j] - mx);
    pm: the (16,) scratch of ``_row_max`` (of z's dtype)."""
    V = z.shape[1]
    mx = _row_max(z, r, V, pm)
    for j in range(V):
        e[_u(j)] = _exp(float(z[_u(r), _u(j)]) - mx)
    tot = 0.0
    for j in range(V):
        tot += e[_u(j)]
    return mx, tot


@njit(**_OPT)
def _cross_entropy(logits, targets, inv_m, dlogits, single, tiny):
    """single: float32 logits, whose exponentials are taken in float32 (``_exp32``, within half an
    ulp) and summed in float64; the max, log-sum-exp and loss stay float64.  Gradient entries below
    ``tiny`` (the dtype's smallest normal number) are written as 0: see ``cross_entropy_rows``."""
    V = logits.shape[1]
    zero = logits.dtype.type(0.0)
    e = np.empty(V, logits.dtype)
    pm = np.empty(16, logits.dtype)
    total = 0.0
    for r in range(logits.shape[0]):
        mx = _row_max(logits, r, V, pm)
        if single:
            m32 = logits.dtype.type(mx)
            for j in range(V):
                e[_u(j)] = _exp32(logits[_u(r), _u(j)] - m32)
        else:
            for j in range(V):
                e[_u(j)] = _exp(float(logits[_u(r), _u(j)]) - mx)
        tot = 0.0
        for j in range(V):
            tot += float(e[_u(j)])
        t = targets[_u(r)]
        total += mx + math.log(tot) - float(logits[_u(r), _u(t)])
        scale = inv_m / tot
        sc = logits.dtype.type(scale)
        for j in range(V):
            g = e[_u(j)] * sc
            dlogits[_u(r), _u(j)] = g if g >= tiny else zero
        dlogits[_u(r), _u(t)] = float(e[_u(t)]) * scale - inv_m
    return total


@njit(**_OPT)
def _target_logprobs(c, lo, hi, logits, targets, out):
    e = np.empty(logits.shape[1])
    pm = np.empty(16, logits.dtype)
    for r in range(lo, hi):
        mx, tot = _row_softmax(logits, r, e, pm)
        out[_u(r)] = float(logits[_u(r), _u(targets[r])]) - mx - math.log(tot)


@njit(**_OPT)
def _relu_bias(c, lo, hi, x, b):
    F = x.shape[1]
    if b.shape[0] > 0:
        for n in range(lo, hi):
            for f in range(F):
                x[_u(n), _u(f)] = max(x[_u(n), _u(f)] + b[_u(f)], 0.0)
    else:
        for n in range(lo, hi):
            for f in range(F):
                x[_u(n), _u(f)] = max(x[_u(n), _u(f)], 0.0)


@njit(**_OPT)
def _relu_bwd(c, lo, hi, g, act, part):
    F = g.shape[1]
    bias = part.shape[1] > 0
    for n in range(lo, hi):
        for f in range(F):
            g[_u(n), _u(f)] = g[_u(n), _u(f)] if act[_u(n), _u(f)] > 0.0 else 0.0
        if bias:
            for f in range(F):
                part[_u(c), _u(f)] += g[_u(n), _u(f)]


@njit(**_OPT)
def _column_sums(c, lo, hi, x, part):
    D = x.shape[1]
    for n in range(lo, hi):
        for d in range(D):
            part[_u(c), _u(d)] += x[_u(n), _u(d)]


@njit(**_OPT)
def _embedding_bwd(c, lo, hi, tokens, d_out, acc):
    """Columns [lo, hi) of the table gradient (rows never collide across chunks)."""
    N = d_out.shape[0]
    for n in range(N):
        t = tokens[_u(n)]
        for d in range(lo, hi):
            acc[_u(t), _u(d)] += d_out[_u(n), _u(d)]


# ----------------------------------------------------------------------------- wrappers
def _partials(n: int, width: int) -> np.ndarray:
    """float64 partial sums, one row per chunk of ``_parallel.run(kernel, n, n * width, ...)``."""
    return np.zeros((_parallel.n_chunks(n, n * width), width))


def layernorm_fwd(x, res, w, b, eps, xsum, out, mean, rstd):
    """LayerNorm over the rows of s = x (+ res when res has rows; s is then written to xsum), all
    (N, D): out = (s - mean) * rstd * w + b, mean (N,), rstd (N,) = 1 / sqrt(var + eps), biased var."""
    _parallel.run(_layernorm_fwd, x.shape[0], x.size, x, res, w, b, float(eps), xsum, out, mean, rstd)


def layernorm_bwd(dout, x, w, mean, rstd, dx, dw, db, accumulate: bool):
    """Backward of ``layernorm_fwd`` (x: the normalised input s): dx (+)= d LN / d s (``accumulate``:
    add into dx, the residual gradient); dw = sum_n dout xhat, db = sum_n dout (float64 sums)."""
    pw, pb = _partials(x.shape[0], x.shape[1]), _partials(x.shape[0], x.shape[1])
    _parallel.run(_layernorm_bwd, x.shape[0], x.size, dout, x, w, mean, rstd, dx, accumulate, pw, pb)
    dw[...] = pw.sum(axis=0)
    db[...] = pb.sum(axis=0)


def attention_fwd(qsrc, qc0, qbs, ksrc, kc0, kbs, vsrc, vc0, rows, cos, sin, scale, softmax, head_mask, A, z):
    """Causal attention for every (batch, head) of A (B, H, R, T), from and to the GEMM layouts.

    q of (batch b, query i, head h) = RoPE(qsrc[b qbs + i, qc0 + h dh : + dh]) at position rows[i]
    (sorted), k of (b, key j, h) = RoPE(ksrc[b kbs + j, kc0 + h dh : + dh]) at position j, v from
    vsrc[b T + j, vc0 + h dh : + dh] (qbs, kbs = 0: shared over the batch, position-only scores;
    cos, sin (>= T, dh) tables or zero rows: no RoPE).  Writes A = scale q.k for j <= rows[i],
    softmax over those j (``softmax``) or the masked scores themselves, zero above the diagonal;
    and z[b R + i, h dh : + dh] = head_mask[h] sum_j A[b, h, i, j] v_j."""
    work = A.size * (z.shape[1] // A.shape[1])
    _parallel.run(_attention_fwd, A.shape[0], work, qsrc, qc0, qbs, ksrc, kc0, kbs, vsrc, vc0, rows,
                  cos, sin, float(scale), softmax, head_mask, A, z, A.dtype == np.float32)


def attention_bwd(dz, qsrc, qc0, qbs, ksrc, kc0, kbs, vsrc, vc0, rows, cos, sin, scale, softmax, head_mask, A,
                  dq, dqc0, dk, dkc0, dv, dvc0):
    """Backward of ``attention_fwd`` given dz (B R, H dh): writes the gradients of q, k, v (RoPE
    transposed) into column blocks of dq (B R, .), dk and dv (B T, .): dq[b R + i, dqc0 + h dh : + dh]
    is the gradient of qsrc[b qbs + i, qc0 + h dh : + dh], and so on (for qbs or kbs = 0 the
    caller sums dq or dk over the batch)."""
    work = A.size * (dz.shape[1] // A.shape[1])
    _parallel.run(_attention_bwd, A.shape[0], work, dz, qsrc, qc0, qbs, ksrc, kc0, kbs, vsrc, vc0,
                  rows, cos, sin, float(scale), softmax, head_mask, A, dq, dqc0, dk, dkc0, dv, dvc0)


def cross_entropy_rows(logits, targets, inv_m: float, dlogits) -> float:
    """Row-wise log-softmax in float64 of logits (m, V) against int targets (m,), in the calling
    thread: returns the summed cross-entropy of the m rows and writes dlogits (m, V) (may be logits
    itself) = (softmax - onehot) inv_m (inv_m = 1 / M for a mean over M rows in all).  float32 logits
    take their exponentials in float32 (3.5x the rate: 16 against 56 ms for 4096 x 2500 on one
    thread here); the gradient then differs from the all-float64 one by float32 rounding (6e-8
    relative) and the loss by 2.5e-12 relative.

    Gradient entries that would be subnormal (a confident model: softmax ~ exp(-87) x inv_m in
    float32) are written as 0, as a flush-to-zero FPU would.  Subnormal operands slow the GEMMs that
    read dlogits many-fold on x86 (measured: the mod-97 strip-split model at step 2000 took 0.41 s
    per step against 0.17 s at initialisation, 106 ms against 4 ms in this head); the entries left
    out are below 1.2e-38 (float32) or 2.2e-308 (float64), under the rounding of every other entry."""
    return _cross_entropy(logits, targets, float(inv_m), dlogits, logits.dtype == np.float32,
                          logits.dtype.type(np.finfo(logits.dtype).tiny))


def target_logprobs(logits, targets, out):
    """out (M,) float64 = log softmax(logits[r])[targets[r]] for logits (M, V), in float64."""
    _parallel.run(_target_logprobs, logits.shape[0], logits.size, logits, targets, out)


def relu_bias(x, b):
    """x (N, F) <- max(x + b, 0) in place (b of length 0: no bias)."""
    _parallel.run(_relu_bias, x.shape[0], x.size, x, b)


def relu_bwd(g, act, db):
    """g (N, F) <- g * (act > 0) in place; db (F,) = column sums of the result when it has length F."""
    part = np.zeros((_parallel.n_chunks(g.shape[0], g.size), db.shape[0]))
    _parallel.run(_relu_bwd, g.shape[0], g.size, g, act, part)
    if db.shape[0]:
        db[...] = part.sum(axis=0)


def column_sums(x, out):
    """out (D,) = sum over the rows of x (N, D), accumulated in float64."""
    part = _partials(x.shape[0], x.shape[1])
    _parallel.run(_column_sums, x.shape[0], x.size, x, part)
    out[...] = part.sum(axis=0)


def embedding_bwd(tokens, d_out, V: int) -> np.ndarray:
    """Gradient (V, D) of an embedding table from tokens (N,) and d_out (N, D), accumulated in
    float64 (chunks of columns in parallel) and returned in the dtype of d_out."""
    acc = np.zeros((V, d_out.shape[1]))
    _parallel.run(_embedding_bwd, d_out.shape[1], d_out.size, tokens, d_out, acc)
    return acc.astype(d_out.dtype)
