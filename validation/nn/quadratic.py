"""The two-layer quadratic network for modular arithmetic (Gromov 2023, arXiv 2301.02679).

Model: ``docs/uniformity_med.md`` (§7 (item 3)).  For a pair (a, b) with first-operand table
U (p, N), second-operand table V (p, N) and output weights W (N, p):

    h = (U[a] + V[b])^2    (elementwise),   z = h W    (p logits)

Its analytic Fourier solution (``grokphase.numerics.uniformity.quadratic_fourier_network``) has
z_c = sum_k (m^2 A_k^3 / 2) cos(w_k (a + b - c)) exactly.  Parameter names: ``embed`` (= U, so that
the progress measures read it as the token embedding), ``embed_b`` (= V), ``unembed`` (= W).
Tokens are ``ModularDataset`` rows [a, b + d, ...]; ``offset`` d is subtracted from the second id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layers import embedding_backward
from .loss import cross_entropy, mse_one_hot


@dataclass(frozen=True)
class QuadraticConfig:
    """p residues, ``width`` N hidden units, ``init_std`` of the normal initialisation (default
    1/sqrt(N)), ``loss`` 'ce' or 'mse' (one-hot targets)."""

    p: int
    width: int = 512
    offset: int = 0
    init_std: float | None = None
    loss: str = "ce"
    dtype: str = "float64"
    seed: int = 0
    dropout: float = 0.0   # the training loop asks for it; this model has none

    def __post_init__(self):
        for name in ("p", "width"):
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and v >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if self.loss not in ("ce", "mse"):
            raise ValueError(f"loss must be 'ce' or 'mse', got {self.loss!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.dropout != 0.0:
            raise ValueError(f"dropout must be 0 (the quadratic network has none), got {self.dropout}")


class QuadraticNet:
    """``QuadraticNet(config, params=None)``: ``logits(tokens)`` (B, p), ``loss_and_grad``."""

    def __init__(self, config: QuadraticConfig, params: dict | None = None):
        self.config = config
        if params is None:
            rng = np.random.default_rng(config.seed)
            std = 1.0 / np.sqrt(config.width) if config.init_std is None else config.init_std
            dt = np.dtype(config.dtype)
            p, N = config.p, config.width
            params = {"embed": (rng.standard_normal((p, N)) * std).astype(dt),
                      "embed_b": (rng.standard_normal((p, N)) * std).astype(dt),
                      "unembed": (rng.standard_normal((N, p)) * std).astype(dt)}
        self.params = params

    def _ids(self, tokens):
        tokens = np.asarray(tokens)
        a, b = tokens[:, 0], tokens[:, 1] - self.config.offset
        p = self.config.p
        if a.min() < 0 or a.max() >= p or b.min() < 0 or b.max() >= p:
            raise ValueError(f"tokens must hold a in [0, p) and b + offset with b in [0, p), p = {p}")
        return a, b

    def logits(self, tokens: np.ndarray) -> np.ndarray:
        a, b = self._ids(tokens)
        P = self.params
        return ((P["embed"][a] + P["embed_b"][b]) ** 2) @ P["unembed"]

    def loss_and_grad(self, tokens, targets, mask=None, *, rng=None):
        """Mean loss over the batch and its gradient; targets (B,) classes (``mask`` unused)."""
        a, b = self._ids(tokens)
        P = self.params
        s = P["embed"][a] + P["embed_b"][b]
        h = s * s
        z = h @ P["unembed"]
        if self.config.loss == "ce":
            loss, dz, _, _ = cross_entropy(z, np.asarray(targets))
        else:
            loss, dz, _ = mse_one_hot(z, np.asarray(targets))
        ds = 2.0 * s * (dz @ P["unembed"].T)
        p = self.config.p
        return loss, {"embed": embedding_backward(ds, (a, p)), "embed_b": embedding_backward(ds, (b, p)),
                      "unembed": h.T @ dz}
