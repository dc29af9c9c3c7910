"""The attention map and the copy-task loss with their gradients: the one implementation in the package.

Model: ``docs/attention_copy.md`` §1-§3.  For scores S (L x L), attention A = rowsoftmax(S)
(``SOFTMAX``) or A = S (``LINEAR``), value gain g and the data statistic C = sum_mu x^mu x^mu^T
(L x L, symmetric; whitened data: C = P I, and C = I gives the per-sequence population loss of §3), the
copy-task loss of the cyclic copy task y_l = x_{l-1} is (§2.1)

    l(A, g; C) = Tr C - 2 g b(A) + g^2 q(A),   b(A) = Tr(A C Pi^T),   q(A) = Tr(A C A^T),

with Pi the cyclic shift (Pi[l, l-1] = 1) and gradients

    db/dA = Pi C,   dq/dA = 2 A C,   dl/dA = 2 g^2 A C - 2 g Pi C,   dl/dg = 2 g q - 2 b.

For C = I, l = sum_l [1 - 2 g A_{l,l-1} + g^2 sum_m A_lm^2] (§3).  The gradient with respect to the
scores is the vector-Jacobian product of the row softmax, dl/dS_lm = A_lm (G_lm - sum_k A_lk G_lk)
for G = dl/dA (identity for linear attention): :func:`attention_backward`.

Every array carries a leading batch (chain) axis: S, A (n, L, M); C (m, L, L) with m = 1 (one
statistic for all chains) or m = n; g (n,).  The kernels are Numba-compiled (``cache=True``) and
are called both from the Numba minimiser ``numerics.attention_full`` (n = 1) and from the NumPy
finite-N posteriors of ``grokphase.validation`` (n chains).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from grokphase.numerics.attention_saddle import KIND_CODES, LINEAR, SOFTMAX

__all__ = ["KIND_CODES", "SOFTMAX", "LINEAR", "attention_weights", "softmax", "attention_backward", "copy_statistics",
           "copy_loss", "identity_statistic"]


@njit(cache=True)
def attention_weights(kind, S):
    """Attention weights A for scores S.

    Parameters
    ----------
    kind : int
        ``SOFTMAX`` (row softmax, shifted by the row maximum; an entry -inf gets weight 0, as for a
        causal mask) or ``LINEAR`` (A = S, a copy).
    S : ndarray, shape (n, L, M)

    Returns
    -------
    ndarray, shape (n, L, M)
    """
    A = np.empty_like(S)
    n, L, M = S.shape
    if M == 0:
        return A
    for c in range(n):
        for i in range(L):
            if kind != SOFTMAX:
                for j in range(M):
                    A[c, i, j] = S[c, i, j]
                continue
            mx = S[c, i, 0]
            for j in range(1, M):
                if S[c, i, j] > mx:
                    mx = S[c, i, j]
            z = 0.0
            for j in range(M):
                A[c, i, j] = math.exp(S[c, i, j] - mx)
                z += A[c, i, j]
            for j in range(M):
                A[c, i, j] /= z
    return A


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of an array of any shape (:func:`attention_weights`, ``SOFTMAX``).

    Parameters
    ----------
    z : ndarray, shape (..., K)
        Logits (float64; -inf gets probability 0).

    Returns
    -------
    ndarray, shape (..., K)
    """
    z = np.asarray(z, dtype=np.float64)
    K = z.shape[-1]
    return attention_weights(SOFTMAX, z.reshape(1, z.size // K if K else 0, K)).reshape(z.shape)


@njit(cache=True)
def attention_backward(kind, A, dA):
    """dX/dS from dX/dA through :func:`attention_weights` (module docstring).

    Parameters
    ----------
    kind : int
        ``SOFTMAX`` or ``LINEAR``.
    A : ndarray, shape (n, L, M)
        The attention weights at S.
    dA : ndarray, shape (n, L, M)
        Gradient of a scalar X with respect to A.

    Returns
    -------
    ndarray, shape (n, L, M)
        dX/dS: A_lm (dA_lm - sum_k A_lk dA_lk) for softmax, dA for linear attention.
    """
    dS = np.empty_like(dA)
    n, L, M = A.shape
    for c in range(n):
        for i in range(L):
            m = 0.0
            if kind == SOFTMAX:
                for j in range(M):
                    m += A[c, i, j] * dA[c, i, j]
                for j in range(M):
                    dS[c, i, j] = A[c, i, j] * (dA[c, i, j] - m)
            else:
                for j in range(M):
                    dS[c, i, j] = dA[c, i, j]
    return dS


@njit(cache=True)
def copy_statistics(A, C):
    """b(A), q(A) of the module docstring and their gradients.

    Parameters
    ----------
    A : ndarray, shape (n, L, L)
    C : ndarray, shape (m, L, L), m = 1 or n
        Symmetric data statistic (one for all chains, or one per chain).

    Returns
    -------
    b, q : ndarray, shape (n,)
        Tr(A C Pi^T) and Tr(A C A^T).
    db_dA, dq_dA : ndarray, shape (n, L, L)
        Pi C and 2 A C.
    """
    n, L, _ = A.shape
    b = np.zeros(n)
    q = np.zeros(n)
    db = np.empty_like(A)
    dq = np.empty_like(A)
    for c in range(n):
        Cc = C[c if C.shape[0] > 1 else 0]
        for i in range(L):
            t = (i - 1) % L
            for j in range(L):
                ac = 0.0
                for k in range(L):
                    ac += A[c, i, k] * Cc[k, j]
                db[c, i, j] = Cc[t, j]
                dq[c, i, j] = 2.0 * ac
                q[c] += ac * A[c, i, j]
                if j == t:
                    b[c] += ac
    return b, q, db, dq


@njit(cache=True)
def copy_loss(A, g, C):
    """The copy-task loss l(A, g; C) of the module docstring and its gradients.

    Parameters
    ----------
    A : ndarray, shape (n, L, L)
        Attention weights.
    g : ndarray, shape (n,)
        Value gains.
    C : ndarray, shape (m, L, L), m = 1 or n
        Data statistic.

    Returns
    -------
    loss : ndarray, shape (n,)
    dl_dA : ndarray, shape (n, L, L)
    dl_dg : ndarray, shape (n,)
    """
    b, q, db, dq = copy_statistics(A, C)
    n, L, _ = A.shape
    loss = np.empty(n)
    dg = np.empty(n)
    dA = np.empty_like(A)
    for c in range(n):
        Cc = C[c if C.shape[0] > 1 else 0]
        tr = 0.0
        for i in range(L):
            tr += Cc[i, i]
        gc = g[c]
        loss[c] = tr - 2.0 * gc * b[c] + gc * gc * q[c]
        dg[c] = 2.0 * gc * q[c] - 2.0 * b[c]
        for i in range(L):
            for j in range(L):
                dA[c, i, j] = gc * gc * dq[c, i, j] - 2.0 * gc * db[c, i, j]
    return loss, dA, dg


@njit(cache=True)
def identity_statistic(L):
    """C = I with a batch axis, shape (1, L, L): the statistic of the population loss per sequence (§3)."""
    return np.eye(L).reshape(1, L, L)
