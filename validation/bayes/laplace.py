"""Last-layer Laplace approximation (``docs/icl_grokking.md`` §3).

Gaussian N(W_MAP, H^-1) over the output projection W (D, K) of a softmax classifier with fixed
features phi (n, D), H = generalised Gauss-Newton of the summed cross-entropy + prior precision:

    full:  H = sum_n (phi_n phi_n^T) kron (diag p_n - p_n p_n^T) + lam I,
    kfac:  H = A kron G + lam I,  A = sum_n phi_n phi_n^T,  G = (1/n) sum_n (diag p_n - p_n p_n^T).

For the last layer of a softmax the full GGN is the exact Hessian of the cross-entropy (tested); KFAC
equals it when all p_n agree (tested) and costs O(D^3 + K^3) instead of O((D K)^3), which is what
makes the mod-97 model (D K = 12,416) affordable.

Prior precision lam: a number (the paper's choice: the weight decay), or ``"evidence"``: the
maximiser of the Laplace log evidence over an isotropic prior with the MAP held fixed,
    log Z(lam) = log p(y | W) - lam |W|^2 / 2 + (P/2) log lam - (1/2) sum_i log(h_i + lam),
with h_i the eigenvalues of the GGN (KFAC: a_i g_j).  Its stationarity condition is MacKay's
lam |W|^2 = gamma(lam) = sum_i h_i / (h_i + lam); lam |W|^2 - gamma is increasing in lam, so the root
is unique and found by Brent's method in log lam (``evidence_prior_precision``).  Why offer it: a
network that fits its training set with probabilities ~1 has GGN ~ 0, and a fixed small prior
precision (weight decay 1 or 1e-3) then makes the posterior the prior, with EU near log K whatever
the network does (seen on the mod-p runs); the evidence sets lam from the weights' own scale.  The vectorisation is row-major over W (index
d * K + k).  KFAC samples use the eigenbases of A and G, in which H is diagonal (a_i g_j + lam).

Transformers (``fit_transformer_laplace``): the Laplace layer is the output projection as used at the
scored positions (``Transformer.output_weight``: E^T with tied embeddings, the unembedding
otherwise); everything before it, the input embedding included, is held at its trained value, so the
features are the final-LayerNorm residual stream computed once.  With tied embeddings this treats the
output use of E as a separate (untied) matrix: the GGN equals the Hessian of the untied twin's loss
w.r.t. its unembedding (tested by finite differences).  Prior precision = the weight decay (spec).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.linalg import solve_triangular

from grokphase import _checks as chk
from grokphase.numerics.copy_loss import softmax


def ggn(features: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Generalised Gauss-Newton of sum_n CE(phi_n W, y_n) w.r.t. vec(W): shape (D K, D K)."""
    p = softmax(features @ W)                                   # (n, K)
    D, K = W.shape
    Y = (features[:, :, None] * p[:, None, :]).reshape(len(p), D * K)     # phi_nd p_nk
    H = -(Y.T @ Y)                                                       # - sum phi phi^T p p^T
    Z = (features.T @ Y).reshape(D, D, K)                                # sum phi_nd phi_ne p_nk
    H4 = H.reshape(D, K, D, K)
    for k in range(K):
        H4[:, k, :, k] += Z[:, :, k]                                     # + sum phi phi^T diag(p)
    return H


def kfac_factors(features: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A (D, D), G (K, K)) with GGN ~ A kron G (module docstring)."""
    p = softmax(features @ W)
    G = np.diag(p.mean(axis=0)) - p.T @ p / len(p)
    return features.T @ features, G


class _Predictive:
    mean: np.ndarray

    def predictive_samples(self, features: np.ndarray, rng: np.random.Generator, S: int) -> np.ndarray:
        """Monte Carlo class probabilities, shape (S, n, K), for features (n, D)."""
        return softmax(np.matmul(features, self.sample(rng, S)))         # BLAS, not einsum's loops


def evidence_prior_precision(curvatures: np.ndarray, W_map: np.ndarray) -> float:
    """The isotropic prior precision maximising the Laplace evidence (module docstring), given
    the GGN eigenvalues (P,) and the MAP weights."""
    h = np.maximum(chk.array("curvatures", curvatures).ravel(), 0.0)
    w2 = float(np.sum(chk.array("W_map", W_map) ** 2))
    if w2 == 0 or not np.any(h > 0):
        raise ValueError(f"W_map: the evidence prior precision needs nonzero weights and a nonzero GGN; got "
                         f"|W_map|^2 = {w2:g}, largest curvature {h.max():g}")
    from scipy.optimize import brentq

    def f(log_lam):
        lam = math.exp(log_lam)
        return lam * w2 - float(np.sum(h / (h + lam)))

    lo, hi = -60.0, 60.0
    return math.exp(brentq(f, lo, hi, xtol=1e-12))


@dataclass(frozen=True)
class LastLayerLaplace(_Predictive):
    """mean (D, K) = W_MAP; precision (D K, D K); draws via the Cholesky factor of the precision."""

    mean: np.ndarray
    precision: np.ndarray
    prior_precision: float

    @cached_property
    def _cholesky(self) -> np.ndarray:
        return np.linalg.cholesky(self.precision)

    def sample(self, rng: np.random.Generator, S: int) -> np.ndarray:
        """S weight samples, shape (S, D, K) (the Cholesky factor of the precision is computed once)."""
        z = rng.standard_normal((S, self.mean.size))
        eps = solve_triangular(self._cholesky, z.T, lower=True, trans="T").T   # covariance (L L^T)^-1
        return self.mean[None] + eps.reshape((S,) + self.mean.shape)


@dataclass(frozen=True)
class KFACLaplace(_Predictive):
    """mean (D, K); A = U_A diag(a) U_A^T, G = U_G diag(g) U_G^T; precision A kron G + lam I."""

    mean: np.ndarray
    a: np.ndarray
    U_A: np.ndarray
    g: np.ndarray
    U_G: np.ndarray
    prior_precision: float

    @property
    def precision(self) -> np.ndarray:
        """Dense (D K, D K) precision (for tests and small layers)."""
        A = (self.U_A * self.a) @ self.U_A.T
        G = (self.U_G * self.g) @ self.U_G.T
        return np.kron(A, G) + self.prior_precision * np.eye(self.mean.size)

    def sample(self, rng: np.random.Generator, S: int) -> np.ndarray:
        """S weight samples, shape (S, D, K)."""
        scale = 1.0 / np.sqrt(np.outer(self.a, self.g) + self.prior_precision)   # (D, K)
        z = rng.standard_normal((S,) + self.mean.shape) * scale
        return self.mean[None] + self.U_A @ z @ self.U_G.T


def last_layer_laplace(features: np.ndarray, W_map: np.ndarray, prior_precision: float | str,
                       structure: str = "full") -> LastLayerLaplace | KFACLaplace:
    """Laplace posterior at W_map (D, K) for features (n, D) held fixed (e.g. the final residual
    stream at the answer position); prior precision a number > 0 (e.g. the weight decay) or
    'evidence'; structure 'full' or 'kfac'."""
    if not (isinstance(prior_precision, str) and prior_precision == "evidence"):
        prior_precision = chk.positive("prior_precision", prior_precision, note="or 'evidence'")
    chk.choice("structure", structure, ("full", "kfac"))
    features = chk.array("features", features, ndim=2)
    W_map = chk.array("W_map", W_map, ndim=2)
    if W_map.shape[0] != features.shape[1]:
        raise ValueError(f"W_map must have shape (D, K) with D = features.shape[1] = {features.shape[1]}; "
                         f"got {W_map.shape}")
    if structure == "full":
        G = ggn(features, W_map)
        lam = (evidence_prior_precision(np.linalg.eigvalsh(G), W_map) if prior_precision == "evidence"
               else float(prior_precision))
        return LastLayerLaplace(mean=W_map, precision=G + lam * np.eye(W_map.size), prior_precision=lam)
    if structure == "kfac":
        A, G = kfac_factors(features, W_map)
        a, U_A = np.linalg.eigh(A)
        g, U_G = np.linalg.eigh(G)
        a, g = np.maximum(a, 0.0), np.maximum(g, 0.0)
        lam = (evidence_prior_precision(np.outer(a, g), W_map) if prior_precision == "evidence"
               else float(prior_precision))
        return KFACLaplace(mean=W_map, a=a, U_A=U_A, g=g, U_G=U_G, prior_precision=lam)
    raise ValueError(f"structure must be 'full' or 'kfac', got {structure!r}")


def fit_transformer_laplace(model, tokens: np.ndarray, mask: np.ndarray, prior_precision: float | str,
                            structure: str = "full") -> LastLayerLaplace | KFACLaplace:
    """Last-layer Laplace of a trained ``Transformer`` from its training sequences tokens (B, T)
    at the scored positions mask (B, T) (module docstring for what is held fixed)."""
    tokens = np.asarray(tokens)
    mask = chk.array("mask", mask, dtype=bool, shape=tokens.shape)
    if not mask.any():
        raise ValueError(f"mask must select at least one scored position; got all False (shape {mask.shape})")
    feats = model.features(tokens)[mask]
    return last_layer_laplace(feats, model.output_weight, prior_precision, structure)
