"""Fused Numba kernels of the transformer's step (forward and hand-written backward).

Each kernel ``k(c, lo, hi, ...)`` does rows [lo, hi) of its parallel dimension (chunk c of
``_parallel.run``; reductions over rows write partial sums into row c of a float64 array) and
writes into arrays the caller owns, so buffers are reused across steps and no NumPy temporaries
appear.  They keep the dtype of their array arguments (float32 or float64: one compiled signature
each, ``cache=True``, ``nogil``), index arrays element-wise (array views inside hot loops cost
atomic reference counts) and are compiled with reassociation and FMA contraction only (NaN and inf
still propagate).  The Python wrappers at the end hide the chunking.

Contents: ``_exp`` (float64 range reduction + degree-13 Taylor polynomial, ~1 ulp, vectorisable:
no SVML needed) for the float64 losses and float64 models, ``_exp32`` for float32 attention; LayerNorm forward (with the residual add before it fused in)
and backward (adding into the residual gradient); attention per (batch, head): RoPE, scores on and
below the causal diagonal only, softmax or linear attention, A V, the head mask and the
split/merge of heads, reading and writing the GEMM layouts; the float64 cross-entropy with its
gradient written in place; target log-probabilities; ReLU (+ bias) and its mask; column sums; the
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
                t = x[n, d] + res[n, d]
                xsum[n, d] = t
                s += t
            src = xsum
        else:
            for d in range(D):
                s += x[n, d]
            src = x
        mu = s / Df
        v = x.dtype.type(0.0)
        for d in range(D):
            t = src[n, d] - mu
            v += t * t
        inv = one / np.sqrt(v / Df + epsf)
        mean[n] = mu
        rstd[n] = inv
        for d in range(D):
            out[n, d] = (src[n, d] - mu) * inv * w[d] + b[d]


@njit(**_OPT)
def _layernorm_bwd(c, lo, hi, dout, x, w, mean, rstd, dx, accumulate, pw, pb):
    D = x.shape[1]
    Df = x.dtype.type(D)
    for n in range(lo, hi):
        mu, inv = mean[n], rstd[n]
        s1 = x.dtype.type(0.0)
        s2 = x.dtype.type(0.0)
        for d in range(D):
            xh = (x[n, d] - mu) * inv
            g = dout[n, d] * w[d]
            s1 += g
            s2 += g * xh
            pw[c, d] += dout[n, d] * xh
            pb[c, d] += dout[n, d]
        s1 /= Df
        s2 /= Df
        if accumulate:
            for d in range(D):
                dx[n, d] += inv * (dout[n, d] * w[d] - s1 - (x[n, d] - mu) * inv * s2)
        else:
            for d in range(D):
                dx[n, d] = inv * (dout[n, d] * w[d] - s1 - (x[n, d] - mu) * inv * s2)


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
        r, p = row0 + i, pos[i]
        for h in range(H):
            c = c0 + h * dh
            if cos.shape[0] == 0:
                for d in range(dh):
                    out[h, i, d] = src[r, c + d] * scale
            else:
                for d in range(half):
                    a, b = src[r, c + d], src[r, c + half + d]
                    out[h, i, d] = (a * cos[p, d] - b * sin[p, d]) * scale
                    out[h, i, half + d] = (b * cos[p, half + d] + a * sin[p, half + d]) * scale


@njit(cache=True, inline="always")
def _store_heads(g, dst, row0, c0, pos, n, cos, sin, scale):
    """dst[row0 + i, c0 + h dh : + dh] = scale * RoPE^T(g[h, i, :]) at position pos[i], i < n, for
    every head h (the transpose of ``_load_heads``)."""
    H, dh = g.shape[0], g.shape[2]
    half = dh // 2
    for i in range(n):
        r, p = row0 + i, pos[i]
        for h in range(H):
            c = c0 + h * dh
            if cos.shape[0] == 0:
                for d in range(dh):
                    dst[r, c + d] = g[h, i, d] * scale
            else:
                for d in range(half):
                    a, b = g[h, i, d], g[h, i, half + d]
                    dst[r, c + d] = (a * cos[p, d] + b * sin[p, half + d]) * scale
                    dst[r, c + half + d] = (b * cos[p, half + d] - a * sin[p, d]) * scale


# Products of one (batch, head) on 4-row tiles of queries, each with its own column limit ncol[t]
# (a multiple of 16: _tile_columns).  Unrolled so that every load/store of the accumulated row
# carries four multiply-adds; the plain triple loop runs at a third of the speed.
@njit(cache=True, inline="always", fastmath=_FM)
def _mm_nt(a, bT, out, Rp, ncol, dh):
    """out[i, j] = sum_d a[i, d] bT[d, j] for 4-row tiles i0 and j < ncol[i0 // 4]."""
    d4 = dh - dh % 4
    for i0 in range(0, Rp, 4):
        nt = ncol[i0 // 4]
        for ii in range(4):
            for j in range(nt):
                out[i0 + ii, j] = 0.0
        for d in range(0, d4, 4):
            a0, a1, a2, a3 = a[i0, d], a[i0 + 1, d], a[i0 + 2, d], a[i0 + 3, d]
            c0, c1, c2, c3 = a[i0, d + 1], a[i0 + 1, d + 1], a[i0 + 2, d + 1], a[i0 + 3, d + 1]
            e0, e1, e2, e3 = a[i0, d + 2], a[i0 + 1, d + 2], a[i0 + 2, d + 2], a[i0 + 3, d + 2]
            f0, f1, f2, f3 = a[i0, d + 3], a[i0 + 1, d + 3], a[i0 + 2, d + 3], a[i0 + 3, d + 3]
            for j in range(nt):
                bv, bw, bx, by = bT[d, j], bT[d + 1, j], bT[d + 2, j], bT[d + 3, j]
                out[i0, j] += a0 * bv + c0 * bw + e0 * bx + f0 * by
                out[i0 + 1, j] += a1 * bv + c1 * bw + e1 * bx + f1 * by
                out[i0 + 2, j] += a2 * bv + c2 * bw + e2 * bx + f2 * by
                out[i0 + 3, j] += a3 * bv + c3 * bw + e3 * bx + f3 * by
        for d in range(d4, dh):
            a0, a1, a2, a3 = a[i0, d], a[i0 + 1, d], a[i0 + 2, d], a[i0 + 3, d]
            for j in range(nt):
                bv = bT[d, j]
                out[i0, j] += a0 * bv
                out[i0 + 1, j] += a1 * bv
                out[i0 + 2, j] += a2 * bv
                out[i0 + 3, j] += a3 * bv


@njit(cache=True, inline="always", fastmath=_FM)
def _mm_nn(a, b, out, Rp, ncol, dh):
    """out[i, :] = sum_{j < ncol[i0 // 4]} a[i, j] b[j, :] for 4-row tiles i0."""
    for i0 in range(0, Rp, 4):
        nt = ncol[i0 // 4]
        for ii in range(4):
            for d in range(dh):
                out[i0 + ii, d] = 0.0
        for j in range(0, nt, 2):
            a0, a1, a2, a3 = a[i0, j], a[i0 + 1, j], a[i0 + 2, j], a[i0 + 3, j]
            c0, c1, c2, c3 = a[i0, j + 1], a[i0 + 1, j + 1], a[i0 + 2, j + 1], a[i0 + 3, j + 1]
            for d in range(dh):
                bv, bw = b[j, d], b[j + 1, d]
                out[i0, d] += a0 * bv + c0 * bw
                out[i0 + 1, d] += a1 * bv + c1 * bw
                out[i0 + 2, d] += a2 * bv + c2 * bw
                out[i0 + 3, d] += a3 * bv + c3 * bw


@njit(cache=True, inline="always", fastmath=_FM)
def _mm_tn_acc(a, b, out, Rp, ncol, dh):
    """out[j, :] += sum_i a[i, j] b[i, :] over 8-row tiles i0 and j below the column limit of the
    tile's second half (a last tile of 4 rows when Rp is not a multiple of 8)."""
    R8 = Rp - Rp % 8
    for i0 in range(R8, Rp, 4):
        nt = ncol[i0 // 4]
        for j in range(nt):
            a0, a1, a2, a3 = a[i0, j], a[i0 + 1, j], a[i0 + 2, j], a[i0 + 3, j]
            for d in range(dh):
                out[j, d] += a0 * b[i0, d] + a1 * b[i0 + 1, d] + a2 * b[i0 + 2, d] + a3 * b[i0 + 3, d]
    for i0 in range(0, R8, 8):
        nt = ncol[i0 // 4 + 1]
        for j in range(nt):
            a0, a1, a2, a3 = a[i0, j], a[i0 + 1, j], a[i0 + 2, j], a[i0 + 3, j]
            a4, a5, a6, a7 = a[i0 + 4, j], a[i0 + 5, j], a[i0 + 6, j], a[i0 + 7, j]
            for d in range(dh):
                out[j, d] += (a0 * b[i0, d] + a1 * b[i0 + 1, d] + a2 * b[i0 + 2, d] + a3 * b[i0 + 3, d]
                              + a4 * b[i0 + 4, d] + a5 * b[i0 + 5, d] + a6 * b[i0 + 6, d] + a7 * b[i0 + 7, d])


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
        n = rows[min(4 * t + 3, R - 1)] + 1
        ncol[t] = min(Tp, (n + 15) // 16 * 16)
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
                    kT[d, j] = kb[h, j, d]
            _mm_nt(qb[h], kT, S, Rp, ncol, dh)
            for i in range(R):
                n = rows[i] + 1
                if softmax:
                    # row max: 16 running maxima (vectorised), then the tail
                    n16 = n - n % 16
                    mx = S[i, 0]
                    if n16 > 0:
                        for q in range(16):
                            pm[q] = S[i, q]
                        for j0 in range(16, n16, 16):
                            for q in range(16):
                                v = S[i, j0 + q]
                                pm[q] = v if v > pm[q] else pm[q]
                        for q in range(16):
                            mx = max(mx, pm[q])
                    for j in range(n16, n):
                        mx = max(mx, S[i, j])
                    tot = 0.0
                    if single:
                        for j in range(n):
                            e = _exp32(S[i, j] - mx)
                            S[i, j] = e
                            tot += e
                    else:
                        for j in range(n):
                            e = _exp(S[i, j] - mx)
                            S[i, j] = e
                            tot += e
                    inv = 1.0 / tot
                    for j in range(n):
                        S[i, j] *= inv
                for j in range(n, ncol[i // 4]):
                    S[i, j] = 0.0
                for j in range(n):
                    A[b, h, i, j] = S[i, j]
                for j in range(n, T):
                    A[b, h, i, j] = 0.0
            _mm_nn(S, vb[h], zb, Rp, ncol, dh)
            m_h = head_mask[h]
            for i in range(R):
                for d in range(dh):
                    z[b * R + i, h * dh + d] = zb[i, d] * m_h


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
            m_h = head_mask[h]
            for i in range(R):
                for d in range(dh):
                    dzb[h, i, d] *= m_h
                n = rows[i] + 1
                for j in range(n):
                    P[i, j] = A[b, h, i, j]
                for j in range(n, ncol[i // 4]):
                    P[i, j] = 0.0
            for d in range(dh):
                for j in range(T):
                    vT[d, j] = vb[h, j, d]
            for j in range(Tp):
                for d in range(dh):
                    dkb[h, j, d] = 0.0
                    dvb[h, j, d] = 0.0
            _mm_nt(dzb[h], vT, G, Rp, ncol, dh)          # dA = dz v^T
            _mm_tn_acc(P, dzb[h], dvb[h], Rp, ncol, dh)   # dv = A^T dz
            for i in range(R):                            # dS = A (dA - rowsum(A dA)) or dA (linear)
                n = rows[i] + 1
                if softmax:
                    t = 0.0
                    for j in range(n):
                        t += P[i, j] * G[i, j]
                    for j in range(n):
                        G[i, j] = P[i, j] * (G[i, j] - t)
                for j in range(n, ncol[i // 4]):
                    G[i, j] = 0.0
            _mm_nn(G, kb[h], dqb[h], Rp, ncol, dh)        # d(scaled q) = dS k
            _mm_tn_acc(G, qb[h], dkb[h], Rp, ncol, dh)    # dk = dS^T (scaled q)
        _store_heads(dqb, dq, b * R, dqc0, rows, R, cos, sin, scale)
        _store_heads(dkb, dk, b * T, dkc0, keys, T, cos, sin, 1.0)
        _store_heads(dvb, dv, b * T, dvc0, keys, T, cos[:0], sin[:0], 1.0)


# ----------------------------------------------------------------------------- loss, elementwise
@njit(cache=True, inline="always", fastmath=_FM)
def _row_softmax(z, r, e):
    """Max mx of row r of z and tot = sum_j exp(z[r, j] - mx), both float64; e[j] = exp(z[r, j] - mx)."""
    V = z.shape[1]
    mx = float(z[r, 0])
    for j in range(1, V):
        mx = max(mx, float(z[r, j]))
    tot = 0.0
    for j in range(V):
        ej = _exp(float(z[r, j]) - mx)
        e[j] = ej
        tot += ej
    return mx, tot


@njit(**_OPT)
def _cross_entropy(c, lo, hi, logits, targets, dlogits, part):
    M, V = logits.shape
    e = np.empty(V)
    for r in range(lo, hi):
        mx, tot = _row_softmax(logits, r, e)
        t = targets[r]
        part[c] += mx + math.log(tot) - float(logits[r, t])
        scale = 1.0 / (tot * M)
        for j in range(V):
            dlogits[r, j] = e[j] * scale
        dlogits[r, t] = e[t] * scale - 1.0 / M


@njit(**_OPT)
def _target_logprobs(c, lo, hi, logits, targets, out):
    e = np.empty(logits.shape[1])
    for r in range(lo, hi):
        mx, tot = _row_softmax(logits, r, e)
        out[r] = float(logits[r, targets[r]]) - mx - math.log(tot)


@njit(**_OPT)
def _relu_bias(c, lo, hi, x, b):
    F = x.shape[1]
    if b.shape[0] > 0:
        for n in range(lo, hi):
            for f in range(F):
                x[n, f] = max(x[n, f] + b[f], 0.0)
    else:
        for n in range(lo, hi):
            for f in range(F):
                x[n, f] = max(x[n, f], 0.0)


@njit(**_OPT)
def _relu_bwd(c, lo, hi, g, act, part):
    F = g.shape[1]
    bias = part.shape[1] > 0
    for n in range(lo, hi):
        for f in range(F):
            if act[n, f] <= 0.0:
                g[n, f] = 0.0
        if bias:
            for f in range(F):
                part[c, f] += g[n, f]


@njit(**_OPT)
def _column_sums(c, lo, hi, x, part):
    D = x.shape[1]
    for n in range(lo, hi):
        for d in range(D):
            part[c, d] += x[n, d]


@njit(**_OPT)
def _embedding_bwd(c, lo, hi, tokens, d_out, acc):
    """Columns [lo, hi) of the table gradient (rows never collide across chunks)."""
    N = d_out.shape[0]
    for n in range(N):
        t = tokens[n]
        for d in range(lo, hi):
            acc[t, d] += d_out[n, d]


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


def cross_entropy_fwd_bwd(logits, targets, dlogits) -> float:
    """Row-wise log-softmax in float64 of logits (M, V) against int targets (M,): returns the mean
    cross-entropy and writes dlogits (M, V) (may be logits itself) = (softmax - onehot) / M."""
    part = np.zeros(_parallel.n_chunks(logits.shape[0], logits.size))
    _parallel.run(_cross_entropy, logits.shape[0], logits.size, logits, targets, dlogits, part)
    return float(part.sum()) / logits.shape[0]


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
