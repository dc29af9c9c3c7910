"""Last-layer Laplace approximation (spec ``shared/theory/icl_grokking.md`` §3).

Gaussian N(W_MAP, H^-1) over the output projection W (D, K) of a softmax classifier with fixed
features phi (n, D): H = generalised Gauss-Newton of the summed cross-entropy + prior precision,
    H = sum_n (phi_n phi_n^T) kron (diag p_n - p_n p_n^T) + lam I,
which for the last layer of a softmax is the exact Hessian of the cross-entropy (tested).  The
vectorisation is row-major over W (index d * K + k).  Dense: fine for D K up to a few thousand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def ggn(features: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Generalised Gauss-Newton of sum_n CE(phi_n W, y_n) w.r.t. vec(W): shape (D K, D K)."""
    p = _softmax(features @ W)                                   # (n, K)
    cov = np.einsum("nk,kl->nkl", p, np.eye(p.shape[1])) - np.einsum("nk,nl->nkl", p, p)
    H = np.einsum("nd,ne,nkl->dkel", features, features, cov)
    D, K = W.shape
    return H.reshape(D * K, D * K)


@dataclass(frozen=True)
class LastLayerLaplace:
    """mean (D, K) = W_MAP; precision (D K, D K); draws via the Cholesky factor of the precision."""

    mean: np.ndarray
    precision: np.ndarray

    def sample(self, rng: np.random.Generator, S: int) -> np.ndarray:
        """S weight samples, shape (S, D, K)."""
        Lc = np.linalg.cholesky(self.precision)
        z = rng.standard_normal((S, self.mean.size))
        eps = np.linalg.solve(Lc.T, z.T).T                      # covariance (L L^T)^-1
        return self.mean[None] + eps.reshape((S,) + self.mean.shape)

    def predictive_samples(self, features: np.ndarray, rng: np.random.Generator, S: int) -> np.ndarray:
        """Monte Carlo class probabilities, shape (S, n, K)."""
        return _softmax(np.einsum("nd,sdk->snk", features, self.sample(rng, S)))


def last_layer_laplace(features: np.ndarray, W_map: np.ndarray, prior_precision: float) -> LastLayerLaplace:
    """Laplace posterior at W_map (features (n, D) fixed, e.g. the final residual stream at the
    answer position; W_map (D, K)); prior precision = weight decay."""
    if prior_precision <= 0:
        raise ValueError(f"prior_precision must be > 0, got {prior_precision}")
    H = ggn(features, W_map) + prior_precision * np.eye(W_map.size)
    return LastLayerLaplace(mean=np.asarray(W_map, float), precision=H)
