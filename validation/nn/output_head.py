"""The output head of a training step: unembedding, loss and their backward, fused over blocks of rows.

For the M selected rows h (M, D) of the final residual stream and the unembedding W_U (D, V):

    logits = h W_U,   loss = mean over rows,   G = d loss / d logits,   dh = G W_U^T,   dW_U = h^T G.

Computed unfused, the (M, V) logits are written by one product, read and overwritten by the loss,
and read again by the two backward products: for the LM benchmark (M = 4096, V = 2500, float32)
that is 41 MB streamed through memory four times, and the loss alone (memory bound) took 34 ms per
step.  Here each thread takes chunks of rows and walks them in blocks of ``block_rows(V)`` rows: a
block's logits, written into a per-chunk scratch that stays in cache, go through the
loss (which overwrites them with G) and straight into the two products that read them; dW_U is
accumulated per chunk and the chunks' partials are summed at the end.  The full logits never exist.

Losses (``loss``): 'ce' - cross-entropy, log-softmax in float64 (``_kernels.cross_entropy_rows``);
'mse' - squared error against the one-hot target averaged over the M V entries
(``torch.nn.functional.mse_loss(logits, one_hot)``, as ``nn.loss.mse_one_hot``), in float64.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K
from . import _parallel

LOSSES = ("ce", "mse")

BLOCK_BYTES = 1 << 22
"""Bytes of one block of logits: 4 MiB, an eighth of the 32 MiB L3 cache per thread here (larger
blocks measured 5-10% faster, within the run-to-run noise, but their scratch grows with V).  Measured
with ``python benchmarks/bench_output_head.py --threads 2`` (the LM benchmark's head: M 4096, D 128,
V 2500, float32; ``benchmarks/results/bench_output_head.json``; both routes with the same loss
kernel, whose float32 exponentials took it from 56 to 16 ms on one thread): unfused 103 ms; fused with blocks
of 512 KiB 91 ms, 1-4 MiB 85-87 ms, 8-16 MiB 79-82 ms (1.13-1.30x; the run-to-run noise is ~10%)."""


def block_rows(V: int, itemsize: int) -> int:
    """Rows per block of logits for V outputs: BLOCK_BYTES worth, at least 16 and at most 4096."""
    return int(min(4096, max(16, BLOCK_BYTES // (V * itemsize))))


def _mse_rows(z, targets, inv_m: float) -> float:
    """Squared error of the rows of z (m, V) against one-hot targets, summed over rows and
    averaged over V (float64); z <- its gradient 2 (z - onehot) inv_m / V."""
    d = z.astype(np.float64)
    d[np.arange(z.shape[0]), targets] -= 1.0
    total = float(np.einsum("ij,ij->", d, d)) / z.shape[1]
    z[...] = d * (2.0 * inv_m / z.shape[1])
    return total


def _chunk(c, lo, hi, h, W_U, targets, inv_m, loss, scratch, dh, dW_parts, dW_block, losses):
    """Rows [lo, hi) of the head, in blocks of scratch.shape[1] rows: dW_parts[c] (D, V)
    accumulates h^T G (through dW_block[c]: a gemm with beta = 1 from scipy would hold the GIL),
    losses[c] the summed loss."""
    z_all, acc, tmp = scratch[c], dW_parts[c], dW_block[c]
    nb = z_all.shape[0]
    total = 0.0
    for b0 in range(lo, hi, nb):
        b1 = min(b0 + nb, hi)
        z = z_all[:b1 - b0]
        hb = h[b0:b1]
        np.matmul(hb, W_U, out=z)
        if loss == "ce":
            total += K.cross_entropy_rows(z, targets[b0:b1], inv_m, z)
        else:
            total += _mse_rows(z, targets[b0:b1], inv_m)
        np.matmul(z, W_U.T, out=dh[b0:b1])
        np.matmul(hb.T, z, out=tmp)
        acc += tmp
    losses[c] = total


@_parallel.blas_single
def unembed_loss_backward(h: np.ndarray, W_U: np.ndarray, targets: np.ndarray, loss: str = "ce",
                          dh: np.ndarray | None = None):
    """Mean loss of the logits h W_U over the M rows of h, and its gradients.

    Parameters
    ----------
    h : ndarray, shape (M, D), C-contiguous
        Final residual-stream rows (after the last LayerNorm), float32 or float64.
    W_U : ndarray, shape (D, V)
        Unembedding (any layout; the transposed embedding when tied), dtype of h.
    targets : ndarray of int64, shape (M,)
        Classes in [0, V).
    loss : {'ce', 'mse'}
    dh : ndarray, shape (M, D), optional
        Output array for d loss / d h (new when None).

    Returns
    -------
    (float, ndarray (M, D), ndarray (D, V))
        The mean loss, d loss / d h and d loss / d W_U (dtype of h).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if h.ndim != 2 or h.shape[0] < 1 or not h.flags.c_contiguous:
        raise ValueError(f"h must be a C-contiguous (M, D) array with M >= 1 rows, got shape {h.shape}")
    M, D = h.shape
    if W_U.ndim != 2 or W_U.shape[0] != D or W_U.dtype != h.dtype:
        raise ValueError(f"W_U must be a (D = {D}, V) array of h's dtype {h.dtype}, got shape {W_U.shape} and "
                         f"dtype {W_U.dtype}")
    V = W_U.shape[1]
    if targets.shape != (M,) or targets.dtype != np.int64 or targets.min() < 0 or targets.max() >= V:
        raise ValueError(f"targets must be int64 of shape (M,) = ({M},) with classes in [0, V = {V}), got dtype "
                         f"{targets.dtype}, shape {targets.shape}, range [{targets.min()}, {targets.max()}]")
    if dh is None:
        dh = np.empty((M, D), h.dtype)
    work = 3 * M * D * V
    k = _parallel.n_chunks(M, work, per_thread=2)
    rows = block_rows(V, h.dtype.itemsize)
    scratch = np.empty((k, min(rows, -(-M // k)), V), h.dtype)   # a block is at most a chunk
    dW_parts, dW_block = np.zeros((k, D, V), h.dtype), np.empty((k, D, V), h.dtype)
    losses = np.zeros(k)
    _parallel.run(_chunk, M, work, h, W_U, targets, 1.0 / M, loss, scratch, dh, dW_parts, dW_block, losses,
                  per_thread=2)
    dW = dW_parts[0] if k == 1 else dW_parts.sum(axis=0)
    return float(losses.sum()) / M, dh, dW
