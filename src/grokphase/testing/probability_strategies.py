"""Hypothesis strategies for uncertainty inputs: stacks of categorical distributions.

Shape (S, *batch, K): S posterior samples of distributions over K classes, as taken by
``grokphase.validation.uncertainty_decomposition``.  The awkward cases are the point: exact zeros
outside a given support (0 log 0), exactly tied largest probabilities, and rows within 1e-15 of
one-hot (where TU, AU and EU are differences of tiny entropies).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from grokphase.testing._fields import field, log_uniform

__all__ = ["probability_tensors", "STYLES"]

STYLES = ("dense", "ties", "near_one_hot", "one_hot")


@st.composite
def probability_tensors(draw, samples=None, batch_shape=None, classes=None, support=None, style=None,
                        epsilon=None, seed=None):
    """float64 arrays (S, *batch, K), non-negative, each row summing to 1 (to rounding).

    ============ ================================================ ==================================
    field        meaning                                          default
    ============ ================================================ ==================================
    samples      S                                                integers in [1, 6]
    batch_shape  tuple of batch dimensions                        up to 2 dims of size 1..3
    classes      K                                                integers in [2, 8]
    support      classes with non-zero mass in each row (the      integers in [1, K] ([2, K] for
                 others are exactly 0; random positions per row)  'ties'; 1 for 'one_hot')
    style        'dense': masses in [1e-3, 1] / sum on the        any of the four
                 support; 'ties': the largest mass is shared
                 exactly by t >= 2 classes (t in [2, support]);
                 'near_one_hot': 1 - epsilon on one class,
                 epsilon spread over the rest of the support;
                 'one_hot': exact 0/1 rows
    epsilon      off-peak mass of 'near_one_hot'                  log-uniform in [1e-15, 1e-3]
    seed         generator of masses and positions                integers in [0, 2^32)
    ============ ================================================ ==================================
    """
    S = draw(field(samples, st.integers(1, 6)))
    batch = tuple(draw(field(batch_shape, st.lists(st.integers(1, 3), max_size=2).map(tuple))))
    K = draw(field(classes, st.integers(2, 8)))
    kind = draw(field(style, st.sampled_from(STYLES)))
    if kind not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {kind!r}")
    lowest = {"ties": 2, "one_hot": 1}.get(kind, 1)
    m = draw(field(support, st.just(1) if kind == "one_hot" else st.integers(lowest, K)))
    if not (lowest <= m <= K) or (kind == "one_hot" and m != 1):
        raise ValueError(f"support must be in [{lowest}, {K}] for style {kind!r} (exactly 1 for 'one_hot'), got {m}")
    eps = draw(field(epsilon, log_uniform(1e-15, 1e-3)))
    rng = np.random.default_rng(draw(field(seed, st.integers(0, 2**32 - 1))))
    n = S * int(np.prod(batch, dtype=np.int64))
    if kind == "dense":                                    # w: masses on the support, largest first
        w = rng.uniform(1e-3, 1.0, (n, m))
        w /= w.sum(axis=1, keepdims=True)
    elif kind == "ties":
        t = rng.integers(2, m + 1, size=n)
        w = np.where(np.arange(m) < t[:, None], 1.0, rng.uniform(1e-3, 0.9, (n, m)))
        w /= w.sum(axis=1, keepdims=True)                  # equal masses stay exactly equal
    elif kind == "near_one_hot" and m > 1:
        rest = rng.uniform(0.1, 1.0, (n, m - 1))
        rest *= eps / rest.sum(axis=1, keepdims=True)
        w = np.concatenate([1.0 - rest.sum(axis=1, keepdims=True), rest], axis=1)
    else:                                                  # one-hot (or near-one-hot with support 1)
        w = np.ones((n, 1))
    cols = rng.permuted(np.tile(np.arange(K), (n, 1)), axis=1)[:, :m]
    p = np.zeros((n, K))
    np.put_along_axis(p, cols, w, axis=1)
    return p.reshape((S, *batch, K))
