"""The finite-N copy-task network of ``docs/attention_copy.md`` §1-§2.1, batched over chains.

Parameters theta = (Q, K, u, v), Q, K (L, N), u, v (N,); scores S = Q K^T / N, attention A =
rowsoftmax(S) or A = S, value gain g = u.v / N, output f = g A x, target y = Pi x (cyclic previous
token).  With the data statistic C = sum_mu x^mu x^mu^T (L x L; whitened: C = P I),

    -log p(theta | D) = |Q|^2/(2 s_q^2) + |K|^2/(2 s_k^2) + |u|^2/(2 s_u^2) + |v|^2/(2 s_v^2)
                        + [Tr C - 2 g b(A) + g^2 q(A)] / (2 sigma^2),
    b(A) = Tr(A C Pi^T),  q(A) = Tr(A C A^T)                                    (§2.1),

and its gradient, O(L^2 N) per evaluation (no loop over sequences); the attention map, the loss
and its gradient are those of ``grokphase.numerics.copy_loss``.  All arrays carry a leading
chain axis: Q, K (n, L, N); u, v (n, N); per-chain beta-like scalars allowed through ``P`` (n,).
The energy uses dE/dA = (g/sigma^2)(g A C - Pi C) and dE/dg = (g q - b)/sigma^2.

Observables per sample (§8): c = mean_l A_{l,l-1}; kappa_hat = mean_l [S_{l,l-1} -
mean_{m != l-1} S_lm]; g; eps = 1 - 2 g c + g^2 mean_l sum_m A_lm^2 (whitened population MSE per
position); self weight mean_l A_ll; w = g c, the output's weight on the previous token (the same
observable as ``grokphase.attention.solve(...).w``); g_kappa_hat = g kappa_hat (the
sign-invariant copy amplitude of linear attention built from the logit gap; at large N it tends to
g kappa, which for linear attention equals w).  One name, one observable: ``w`` always means g c
in this package.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from grokphase import _checks as chk
from grokphase.numerics.copy_loss import (KIND_CODES, attention_backward, attention_weights, copy_loss,
                                          copy_statistics, identity_statistic)


class PosteriorModel:
    """Base of the finite-N models (:class:`CopyModel`, ``onehot_attention.OneHotModel``): the
    samplers reach the posterior of the module that defines the model's class, its functions
    ``neg_log_posterior(model, theta, C, with_grad)`` and ``observables(model, theta)`` and its
    ``OBSERVABLE_NAMES``, through these methods, so that they need not know the variant."""

    def _module(self):
        return sys.modules[type(self).__module__]

    def neg_log_posterior(self, theta, C, with_grad: bool = True):
        """-log p(theta | D) and its gradient (the module's ``neg_log_posterior``)."""
        return self._module().neg_log_posterior(self, theta, C, with_grad)

    def observables(self, theta) -> dict:
        """Per-chain observables (the module's ``observables``)."""
        return self._module().observables(self, theta)

    @property
    def observable_names(self) -> dict:
        """CF long names of :meth:`observables` (the module's ``OBSERVABLE_NAMES``)."""
        return self._module().OBSERVABLE_NAMES


@dataclass(frozen=True)
class CopyModel(PosteriorModel):
    """Sizes and priors.  kind 'softmax' or 'linear'; s_q, s_k, s_u, s_v prior scales; sigma2 noise."""

    L: int
    N: int
    kind: str = "softmax"
    s_q: float = 0.5
    s_k: float = 0.5
    s_u: float = 3.0
    s_v: float = 3.0
    sigma2: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "L", chk.integer("L", self.L, 2, note="sequence length"))
        object.__setattr__(self, "N", chk.integer("N", self.N, 1, note="width"))
        chk.choice("kind", self.kind, ("softmax", "linear"))
        for name in ("s_q", "s_k", "s_u", "s_v", "sigma2"):
            object.__setattr__(self, name, chk.positive(name, getattr(self, name)))

    @property
    def scales(self) -> tuple[float, float, float, float]:
        return self.s_q, self.s_k, self.s_u, self.s_v


def shift_matrix(L: int) -> np.ndarray:
    """Pi with Pi[l, l-1] = 1 (cyclic)."""
    return np.roll(np.eye(L), -1, axis=1)


def data_statistic(L: int, P: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """C = X^T X for P sequences: whitened (rng None) C = P I exactly, else X iid N(0, 1)."""
    if rng is None:
        return P * np.eye(L)
    X = rng.standard_normal((P, L))
    return X.T @ X


def attention(model, Q, K):
    """(S, A) for batched Q, K (n, L, N): S = Q K^T / N and A = rowsoftmax(S) or A = S
    (:func:`grokphase.numerics.copy_loss.attention_weights`); any model with ``kind`` and ``N``."""
    S = Q @ K.swapaxes(-1, -2) / model.N
    return S, attention_weights(KIND_CODES[model.kind], S)


def _statistic(C: np.ndarray) -> np.ndarray:
    """C (L, L) -> (1, L, L); a batched (n, L, L) is returned as is."""
    return C[None] if C.ndim == 2 else C


def data_terms(A: np.ndarray, C: np.ndarray):
    """(b, q, db/dA, dq/dA) with b = Tr(A C Pi^T), q = Tr(A C A^T) per chain; A (n, L, L), C (L, L)
    or (n, L, L) (:func:`grokphase.numerics.copy_loss.copy_statistics`)."""
    return copy_statistics(A, _statistic(C))


def neg_log_posterior(model: CopyModel, theta, C, with_grad: bool = True):
    """theta = (Q, K, u, v) batched; C (L, L) or (n, L, L).  Returns (U (n,), grads tuple or None)."""
    Q, K, u, v = theta
    s_q, s_k, s_u, s_v = model.scales
    N = model.N
    S, A = attention(model, Q, K)
    g = np.einsum("cn,cn->c", u, v) / N
    loss, dl_dA, dl_dg = copy_loss(A, g, _statistic(C))
    energy = loss / (2 * model.sigma2)
    prior = (np.einsum("cln,cln->c", Q, Q) / (2 * s_q**2) + np.einsum("cln,cln->c", K, K) / (2 * s_k**2)
             + np.einsum("cn,cn->c", u, u) / (2 * s_u**2) + np.einsum("cn,cn->c", v, v) / (2 * s_v**2))
    U = prior + energy
    if not with_grad:
        return U, None
    dS = attention_backward(KIND_CODES[model.kind], A, dl_dA / (2 * model.sigma2))
    dQ = dS @ K / N + Q / s_q**2
    dK = dS.swapaxes(-1, -2) @ Q / N + K / s_k**2
    dg = dl_dg / (2 * model.sigma2)
    du = dg[:, None] * v / N + u / s_u**2
    dv = dg[:, None] * u / N + v / s_v**2
    return U, (dQ, dK, du, dv)


#: CF long names of the per-sample observables (module docstring).
OBSERVABLE_NAMES = {
    "c": "copy weight c = mean_l A_{l,l-1}",
    "g": "value gain g = u.v / N",
    "eps": "per-position population MSE eps (whitened data)",
    "kappa_hat": "copy logit gap kappa_hat = mean_l [S_{l,l-1} - mean_{m != l-1} S_lm]",
    "self_weight": "self weight mean_l A_ll",
    "w": "output copy amplitude w = g c",
    "g_kappa_hat": "logit-gap copy amplitude g kappa_hat",
    "loss": "data loss per sequence l = L eps",
}


def observables(model: CopyModel, theta) -> dict:
    """Per-chain observables of the module docstring, each shape (n,)."""
    Q, K, u, v = theta
    L = model.L
    S, A = attention(model, Q, K)
    rows = np.arange(L)
    prev = (rows - 1) % L
    g = np.einsum("cn,cn->c", u, v) / model.N
    c = A[:, rows, prev].mean(axis=-1)
    S_copy = S[:, rows, prev]
    S_rest = (S.sum(axis=-1) - S_copy) / (L - 1)
    kappa_hat = (S_copy - S_rest).mean(axis=-1)
    eps = copy_loss(A, g, identity_statistic(L))[0] / L
    return {"c": c, "g": g, "eps": eps, "kappa_hat": kappa_hat,
            "self_weight": A[:, rows, rows].mean(axis=-1), "w": g * c, "g_kappa_hat": g * kappa_hat}


def prior_draw(model: CopyModel, n: int, rng: np.random.Generator):
    s_q, s_k, s_u, s_v = model.scales
    L, N = model.L, model.N
    return (s_q * rng.standard_normal((n, L, N)), s_k * rng.standard_normal((n, L, N)),
            s_u * rng.standard_normal((n, N)), s_v * rng.standard_normal((n, N)))


def copy_start(model: CopyModel, n: int, rng: np.random.Generator, kappa0: float, g0: float):
    """The copy start of §8: a prior draw with
    Q_l += kappa0 (K_{l-1} - Kbar) / (((K_{l-1} - Kbar).K_{l-1})/N)
    and v += g0 u / (|u|^2/N), so that kappa_hat ~ kappa0 and g ~ g0."""
    Q, K, u, v = prior_draw(model, n, rng)
    N = model.N
    Kc = K - K.mean(axis=1, keepdims=True)
    prev = np.roll(np.arange(model.L), 1)          # row l uses key l-1
    Kp, Kcp = K[:, prev], Kc[:, prev]
    denom = np.einsum("cln,cln->cl", Kcp, Kp) / N
    Q = Q + kappa0 * Kcp / denom[..., None]
    v = v + g0 * u / (np.einsum("cn,cn->c", u, u)[:, None] / N)
    return Q, K, u, v


def kappa_hat_weights(L: int) -> np.ndarray:
    """W with kappa_hat = (1/L) sum_lm W_lm S_lm: W = Pi - (J - Pi)/(L - 1)."""
    Pi = shift_matrix(L)
    return Pi - (np.ones((L, L)) - Pi) / (L - 1)


def umbrella_bias(model: CopyModel, theta, kappa0: np.ndarray, k_b: float):
    """Harmonic bias (N k_b / 2)(kappa_hat - kappa0)^2 per chain (kappa0 (n,)) and its gradient."""
    Q, K, u, v = theta
    N, L = model.N, model.L
    W = kappa_hat_weights(L)
    S = Q @ K.swapaxes(-1, -2) / N
    kh = np.einsum("cij,ij->c", S, W) / L
    d = N * k_b * (kh - kappa0)
    U = 0.5 * N * k_b * (kh - kappa0) ** 2
    dS = d[:, None, None] * W / L
    return U, (dS @ K / N, dS.swapaxes(-1, -2) @ Q / N, np.zeros_like(u), np.zeros_like(v))
