"""The finite-N one-hot attention copy model of ``docs/attention_onehot.md`` §1-§2, batched over chains.

Parameters theta = (Q, K, O, U): query and key vectors Q, K (n, L, N), output and value vectors
O, U (n, V, N) (``U`` is the value matrix called V in the docs; ``V`` here is the vocabulary
size).  Scores S = Q K^T / N, attention A = rowsoftmax(S) (the package's one softmax and its
backward pass, ``grokphase.numerics.copy_loss``) or A = S, value path W = O U^T / N
(V x V), output f_l = W sum_m A_lm x_m, target y_l = x_{l-1} (cyclic).  The data enter only
through the pair-count tensor C[n, m] = sum_mu x_n^mu x_m^mu^T, shape (L, L, V, V) (§2):

    -log p(theta | D) = |Q|^2/(2 s_q^2) + |K|^2/(2 s_k^2) + |O|^2/(2 s_o^2) + |U|^2/(2 s_v^2)
                        + [sum_l tr C_ll - 2 <A, Pi T1> + <A^T A, T2>] / (2 sigma^2),
    T1[n, m] = <W, C_nm>,   T2[m, m'] = <W^T W, C_mm'>                               (§2),

with gradient dE/dA = (A T2 - Pi T1)/sigma^2 and dE/dW = (W G2 - G1)/sigma^2, G1 = sum_nm
(Pi^T A)_nm C_nm, G2 = sum_mm' (A^T A)_mm' C_mm' (both V x V), O(L^2 V^2 + (L + V)^2 N) per chain.
"Whitened" data: C_nm = P E[x_n x_m^T] = P (delta_nm I / V + (1 - delta_nm) J / V^2).

Observables per sample: c = mean_l A_{l,l-1}; kappa_hat (the logit gap of
``copy_attention.observables``); a_hat = mean_l sum_m S_lm (the mean-channel score a of §4);
g = (tr W - 1'W1/V)/(V - 1) and m = 1'W1/V (the coefficients of I - J/V and J/V, §4);
eps = l(A, W)/L, the one-hot population loss per position of §3; w = g c; w_c = g kappa_hat,
w_a = g a_hat, w_m = a_hat m (the sign-invariant order parameters of linear attention, §6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grokphase import _checks as chk
from grokphase.numerics.copy_loss import KIND_CODES, attention_backward
from grokphase.validation.copy_attention import PosteriorModel, attention, kappa_hat_weights, shift_matrix


@dataclass(frozen=True)
class OneHotModel(PosteriorModel):
    """Sizes and priors of the finite-N one-hot model.

    Parameters
    ----------
    L : int
        Sequence length (>= 2).
    V : int
        Vocabulary size (>= 2).
    N : int
        Width (>= 1).
    kind : {'softmax', 'linear'}
    s_q, s_k, s_o, s_v : float
        Prior scales of Q, K, O, U (> 0); only s_qk = s_q s_k and s_uv = s_o s_v enter at large N.
    sigma2 : float
        Noise variance (> 0).
    """

    L: int
    V: int
    N: int
    kind: str = "softmax"
    s_q: float = 0.5
    s_k: float = 0.5
    s_o: float = 3.0
    s_v: float = 3.0
    sigma2: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "L", chk.integer("L", self.L, 2, note="sequence length"))
        object.__setattr__(self, "V", chk.integer("V", self.V, 2, note="vocabulary size"))
        object.__setattr__(self, "N", chk.integer("N", self.N, 1, note="width"))
        chk.choice("kind", self.kind, ("softmax", "linear"))
        for name in ("s_q", "s_k", "s_o", "s_v", "sigma2"):
            object.__setattr__(self, name, chk.positive(name, getattr(self, name)))

    @classmethod
    def from_products(cls, L, V, N, kind="softmax", s_qk=0.25, s_uv=9.0, sigma2=1.0) -> "OneHotModel":
        """Equal factor scales: s_q = s_k = sqrt(s_qk), s_o = s_v = sqrt(s_uv)."""
        s_qk, s_uv = chk.positive("s_qk", s_qk), chk.positive("s_uv", s_uv)
        return cls(L=L, V=V, N=N, kind=kind, s_q=math.sqrt(s_qk), s_k=math.sqrt(s_qk), s_o=math.sqrt(s_uv),
                   s_v=math.sqrt(s_uv), sigma2=sigma2)

    @property
    def scales(self) -> tuple[float, float, float, float]:
        return self.s_q, self.s_k, self.s_o, self.s_v


# --------------------------------------------------------------------------- data: the count tensor

def pair_moment(L: int, V: int) -> np.ndarray:
    """E[x_n x_m^T] for i.i.d. uniform one-hot tokens, shape (L, L, V, V): I/V on the diagonal
    blocks (n = m), J/V^2 off them (§3)."""
    same = np.eye(V) / V
    other = np.full((V, V), 1.0 / V**2)
    d = np.eye(L, dtype=bool)[:, :, None, None]
    return np.where(d, same, other)


def sample_tokens(L: int, V: int, P: int, rng: np.random.Generator) -> np.ndarray:
    """P sequences of i.i.d. uniform tokens s_l in {0..V-1}, shape (P, L), integer."""
    return rng.integers(0, V, size=(P, L))


def count_tensor(L: int, V: int, P: int, rng: np.random.Generator | None = None, tokens=None) -> np.ndarray:
    """The pair-count tensor C[n, m] = sum_mu x_n^mu x_m^mu^T, shape (L, L, V, V).

    Parameters
    ----------
    L, V, P : int
        Sequence length, vocabulary size, number of sequences (>= 0).
    rng : numpy.random.Generator, optional
        None (and ``tokens`` None): whitened data C = P E[x x^T] (:func:`pair_moment`);
        otherwise P random sequences (:func:`sample_tokens`).
    tokens : ndarray of int, shape (P, L), optional
        Explicit token ids (then ``P`` and ``rng`` are ignored).

    Returns
    -------
    ndarray, shape (L, L, V, V)
    """
    if tokens is None:
        P = chk.integer("P", P, 0, note="number of sequences")
        if rng is None:
            return P * pair_moment(L, V)
        tokens = sample_tokens(L, V, P, rng)
    X = np.eye(V)[np.asarray(tokens)]                                # (P, L, V) one-hot
    return np.einsum("pni,pmj->nmij", X, X)


# --------------------------------------------------------------------------- posterior

def value_path(model: OneHotModel, O, U) -> np.ndarray:
    """W = O U^T / N, shape (n, V, V), for O, U (n, V, N)."""
    return O @ U.swapaxes(-1, -2) / model.N


def _batched(C: np.ndarray) -> np.ndarray:
    """C (L, L, V, V) -> (1, L, L, V, V); a batched (n, L, L, V, V) is returned as is."""
    return C[None] if C.ndim == 4 else C


def data_term(A: np.ndarray, W: np.ndarray, C: np.ndarray, with_grad: bool = True):
    """The data sum D = sum_l tr C_ll - 2 <A, Pi T1> + <A^T A, T2> of §2 (the squared error summed
    over sequences and positions) and its gradients dD/dA = 2 (A T2 - Pi T1), dD/dW = 2 (W G2 - G1).

    Parameters
    ----------
    A : ndarray, shape (n, L, L)
        Attention weights.
    W : ndarray, shape (n, V, V)
        Value path.
    C : ndarray, shape (L, L, V, V) or (n, L, L, V, V)
        Pair-count tensor (C = :func:`pair_moment` gives the population loss per sequence l(A, W)).
    with_grad : bool
        False: the gradients are not computed (returned as None).

    Returns
    -------
    D : ndarray, shape (n,)
    dD_dA : ndarray, shape (n, L, L), or None
    dD_dW : ndarray, shape (n, V, V), or None
    """
    Cb = _batched(C)
    Pi = shift_matrix(A.shape[-1])
    M = W.swapaxes(-1, -2) @ W
    T1 = np.einsum("...nmij,...ij->...nm", Cb, W)
    T2 = np.einsum("...nmij,...ij->...nm", Cb, M)
    PiT1 = Pi @ T1
    AT2 = A @ T2
    trC = np.einsum("...nnii->...", Cb)
    D = trC - 2 * np.einsum("cij,cij->c", A, PiT1) + np.einsum("cij,cij->c", AT2, A)
    if not with_grad:
        return D, None, None
    G1 = np.einsum("...nmij,...nm->...ij", Cb, Pi.T @ A)
    G2 = np.einsum("...nmij,...nm->...ij", Cb, A.swapaxes(-1, -2) @ A)
    return D, 2 * (AT2 - PiT1), 2 * (W @ G2 - G1)


def neg_log_posterior(model: OneHotModel, theta, C, with_grad: bool = True):
    """-log p of the module docstring (§2) for batched theta = (Q, K, O, U).

    Parameters
    ----------
    model : OneHotModel
    theta : tuple of ndarray
        Q, K (n, L, N); O, U (n, V, N).
    C : ndarray, shape (L, L, V, V) or (n, L, L, V, V)
        Pair-count tensor (:func:`count_tensor`), one for all chains or one per chain.
    with_grad : bool

    Returns
    -------
    U : ndarray, shape (n,)
    grads : tuple of ndarray shaped like theta, or None
    """
    Q, K, O, U = theta
    s_q, s_k, s_o, s_v = model.scales
    N = model.N
    S, A = attention(model, Q, K)
    W = value_path(model, O, U)
    data, dD_dA, dD_dW = data_term(A, W, C, with_grad)
    prior = (_sq(Q) / (2 * s_q**2) + _sq(K) / (2 * s_k**2) + _sq(O) / (2 * s_o**2) + _sq(U) / (2 * s_v**2))
    E = prior + data / (2 * model.sigma2)
    if not with_grad:
        return E, None
    dS = attention_backward(KIND_CODES[model.kind], A, dD_dA / (2 * model.sigma2))
    dW = dD_dW / (2 * model.sigma2)
    dQ = dS @ K / N + Q / s_q**2
    dK = dS.swapaxes(-1, -2) @ Q / N + K / s_k**2
    dO = dW @ U / N + O / s_o**2
    dU = dW.swapaxes(-1, -2) @ O / N + U / s_v**2
    return E, (dQ, dK, dO, dU)


def _sq(a: np.ndarray) -> np.ndarray:
    """Per-chain squared norm of a (n, ...)."""
    a2 = a.reshape(a.shape[0], -1)
    return np.einsum("ci,ci->c", a2, a2)


def explicit_data_loss(model: OneHotModel, theta, tokens) -> np.ndarray:
    """sum_mu sum_l |y_l - f_l|^2 from the sequences themselves (no count tensor), shape (n,);
    an independent route to the data term of :func:`neg_log_posterior` (times 2 sigma^2).

    tokens : int array (P, L)."""
    Q, K, O, U = theta
    X = np.eye(model.V)[np.asarray(tokens)]                          # (P, L, V)
    _, A = attention(model, Q, K)
    W = value_path(model, O, U)
    F = np.einsum("cij,clm,pmj->cpli", W, A, X)                      # (n, P, L, V)
    Y = np.roll(X, 1, axis=1)                                          # y_l = x_{l-1}
    return ((F - Y[None]) ** 2).sum(axis=(1, 2, 3))


# --------------------------------------------------------------------------- observables and starts

#: CF long names of the per-sample observables (module docstring).
OBSERVABLE_NAMES = {
    "c": "copy weight c = mean_l A_{l,l-1}",
    "kappa_hat": "copy logit gap kappa_hat = mean_l [S_{l,l-1} - mean_{m != l-1} S_lm]",
    "a_hat": "mean-channel score a_hat = mean_l sum_m S_lm",
    "g": "copy gain g = (tr W - 1'W1/V)/(V - 1)",
    "m": "mean gain m = 1'W1/V",
    "eps": "one-hot population MSE per position eps = l(A, W)/L",
    "w": "output copy amplitude w = g c",
    "w_c": "copy order parameter w_c = g kappa_hat",
    "w_a": "order parameter w_a = g a_hat",
    "w_m": "mean-channel order parameter w_m = a_hat m",
}


def population_loss(A: np.ndarray, W: np.ndarray) -> np.ndarray:
    """The one-hot population loss per sequence l(A, W) of §3, shape (n,), for A (n, L, L), W (n, V, V)."""
    L, V = A.shape[-1], W.shape[-1]
    rows = np.arange(L)
    prev = (rows - 1) % L
    a = A.sum(axis=-1)
    r = (A * A).sum(axis=-1)
    trW = np.trace(W, axis1=-2, axis2=-1)
    oWo = W.sum(axis=(-2, -1))
    W1 = W.sum(axis=-1)
    fro, w1 = (W * W).sum(axis=(-2, -1)), (W1 * W1).sum(axis=-1)
    per = (1 - 2 * A[:, rows, prev] * (trW / V - oWo / V**2)[:, None] - 2 * a * (oWo / V**2)[:, None]
           + r * (fro / V - w1 / V**2)[:, None] + a**2 * (w1 / V**2)[:, None])
    return per.sum(axis=-1)


def observables(model: OneHotModel, theta) -> dict:
    """Per-chain observables of the module docstring, each shape (n,)."""
    Q, K, O, U = theta
    L, V = model.L, model.V
    S, A = attention(model, Q, K)
    W = value_path(model, O, U)
    rows = np.arange(L)
    prev = (rows - 1) % L
    c = A[:, rows, prev].mean(axis=-1)
    kh = np.einsum("cij,ij->c", S, kappa_hat_weights(L)) / L
    a_hat = S.sum(axis=(-2, -1)) / L
    oWo = W.sum(axis=(-2, -1))
    m = oWo / V
    g = (np.trace(W, axis1=-2, axis2=-1) - m) / (V - 1)
    return {"c": c, "kappa_hat": kh, "a_hat": a_hat, "g": g, "m": m, "eps": population_loss(A, W) / L,
            "w": g * c, "w_c": g * kh, "w_a": g * a_hat, "w_m": a_hat * m}


def prior_draw(model: OneHotModel, n: int, rng: np.random.Generator):
    """n draws of theta = (Q, K, O, U) from the prior."""
    s_q, s_k, s_o, s_v = model.scales
    L, V, N = model.L, model.V, model.N
    return (s_q * rng.standard_normal((n, L, N)), s_k * rng.standard_normal((n, L, N)),
            s_o * rng.standard_normal((n, V, N)), s_v * rng.standard_normal((n, V, N)))


def _shift_product(X, Y, target, N):
    """X + D with (X + D) Y^T / N = target exactly: D = (target - X Y^T/N) (Y Y^T/N)^{-1} Y."""
    G = Y @ Y.swapaxes(-1, -2) / N
    R = target - X @ Y.swapaxes(-1, -2) / N
    return X + np.linalg.solve(G, R.swapaxes(-1, -2)).swapaxes(-1, -2) @ Y


def ansatz_start(model: OneHotModel, n: int, rng: np.random.Generator, kappa0: float, g0: float,
                 m0: float = 1.0, a0: float = 0.0):
    """Prior draws moved onto the ansatz of §4: Q shifted so that S = kappa0 (Pi - J/L) + a0 J/L
    exactly, O shifted so that W = g0 (I - J/V) + m0 J/V exactly (needs N >= max(L, V)).
    kappa0 = g0 = 0 with m0 = 1 is near the uniform branch; the large-N copy state is the copy start."""
    if model.N < max(model.L, model.V):
        raise ValueError(f"N must be >= max(L, V) = {max(model.L, model.V)} for an exact ansatz start, got {model.N}")
    Q, K, O, U = prior_draw(model, n, rng)
    L, V = model.L, model.V
    S0 = kappa0 * (shift_matrix(L) - np.ones((L, L)) / L) + a0 * np.ones((L, L)) / L
    W0 = g0 * (np.eye(V) - np.ones((V, V)) / V) + m0 * np.ones((V, V)) / V
    return _shift_product(Q, K, S0, model.N), K, _shift_product(O, U, W0, model.N), U
