"""One-loop (1/N) shift of the softmax equal-mass point, ``docs/attention_copy.md`` §7 (Gaussian
tokens) and ``docs/attention_onehot.md`` §8 (one-hot tokens, vocabulary V).

Laplace on the Gram-space posterior (§2.2) with n = 2L + 2 n_v vectors (q_1..q_L, k_1..k_L and the
n_v output and n_v value vectors; n_v = 1 for Gaussian tokens, where the value path is the scalar
gain g = u.v/N, and n_v = V for one-hot tokens, where it is the V x V matrix W = O U^T / N):

    F(Omega) = 1/2 Tr(Lam^{-1} Omega) - 1/2 log det Omega + (beta/2) l(S(Omega), W(Omega)),
    log Z_b = -N F(Omega_b) - (n+1)/2 log det Omega_b - 1/2 log det H_b + const,

with H_b the Hessian of F over the n(n+1)/2 independent Gram entries at the basin minimum Omega_b.
With whitened data the posterior depends on the width-N vectors only through Omega (the data term
is N beta l / 2 exactly), so this is the Laplace expansion of the exact Wishart integral.
delta = -(n+1)/2 [log det Omega]_uniform^copy - 1/2 [log det H]_uniform^copy at beta_c, and the
equal-mass point moves to beta_c(N) = beta_c + a1/N + O(N^-2).  Equal masses need
-N (beta - beta_c)(L/2) deps + delta = 0 (dF/dbeta = l/2 = L eps/2), so with deps = eps_copy -
eps_uniform (< 0) a1 = +2 delta / (L deps).  The opposite sign, a1 = -2 delta / (L deps),
holds for deps = eps_uniform - eps_copy; we use copy minus uniform for both differences.

Numerics: each basin minimum is found by BFGS over the upper-triangular entries of Omega from the
closed-form point of the large-N state (S = kappa (Pi - J/L); W = g for Gaussian tokens,
W = g (I - J/V) + m J/V for one-hot tokens; the factor blocks s U diag(t) U^T and s V diag(t) V^T
from the SVD U diag(sigma) V^T of S (s = s_qk) or W (s = s_uv), t = (1 + sqrt(1 + 4 sigma^2/s^2))/2,
the cross block S or W, all other blocks zero), with the exact gradient; H by
central differences of that gradient (symmetrised).  The losses and their gradients are those of
``numerics.copy_loss`` (Gaussian tokens, C = I) and ``validation.onehot_attention.data_term``
(one-hot tokens, C = the pair moment).  Priors: s_q = s_k = sqrt(s_qk), s_u = s_v = sqrt(s_uv).
"""

from __future__ import annotations


import numpy as np
from scipy.optimize import minimize

from grokphase import attention
from grokphase.numerics.copy_loss import SOFTMAX, attention_backward, attention_weights, copy_loss, identity_statistic
from grokphase.numerics.errors import ConvergenceError
from grokphase.validation.copy_attention import shift_matrix
from grokphase.validation.onehot_attention import data_term, pair_moment
from grokphase.validation.umbrella import softmax_variant


class GramFreeEnergy:
    """F(Omega) of the module docstring for softmax attention, as a function of the n(n+1)/2
    upper-triangular entries (diagonal included); V None: Gaussian tokens, else one-hot tokens
    with vocabulary size V."""

    def __init__(self, L: int, beta: float, s_qk: float, s_uv: float, V: int | None = None):
        self.L, self.beta, self.V, self.s_qk, self.s_uv = L, beta, V, s_qk, s_uv
        self.nv = nv = 1 if V is None else V
        self.n = n = 2 * L + 2 * nv
        self.lam_inv = 1.0 / np.array([s_qk] * (2 * L) + [s_uv] * (2 * nv))
        self.iu = np.triu_indices(n)
        self.Pi = shift_matrix(L)
        self._C = identity_statistic(L) if V is None else pair_moment(L, V)

    def omega(self, w):
        O = np.zeros((self.n, self.n))
        O[self.iu] = w
        return O + np.triu(O, 1).T

    def loss(self, S, W):
        """Population loss per sequence l(A(S), W) and its gradients with respect to S (L, L) and W (n_v, n_v)."""
        A = attention_weights(SOFTMAX, np.ascontiguousarray(S)[None])
        if self.V is None:
            loss, dA, dg = copy_loss(A, np.array([W[0, 0]]), self._C)
            dW = dg.reshape(1, 1)
        else:
            loss, dA, dW = data_term(A, np.ascontiguousarray(W)[None], self._C)
            dW = dW[0]
        return loss[0], attention_backward(SOFTMAX, A, dA)[0], dW

    def value_grad(self, w):
        L, nv = self.L, self.nv
        O = self.omega(w)
        sign, logdet = np.linalg.slogdet(O)
        if sign <= 0:
            return np.inf, np.zeros_like(w)
        v = slice(2 * L, 2 * L + nv), slice(2 * L + nv, 2 * L + 2 * nv)
        loss, dS, dW = self.loss(O[:L, L:2 * L], O[v])
        F = 0.5 * np.sum(self.lam_inv * np.diag(O)) - 0.5 * logdet + 0.5 * self.beta * loss
        G = 0.5 * np.diag(self.lam_inv) - 0.5 * np.linalg.inv(O)          # dF/dOmega as a symmetric matrix
        G[:L, L:2 * L] += 0.25 * self.beta * dS
        G[L:2 * L, :L] += 0.25 * self.beta * dS.T
        G[v] += 0.25 * self.beta * dW
        G[v[::-1]] += 0.25 * self.beta * dW.T
        # derivative w.r.t. an independent off-diagonal entry counts both symmetric positions
        grad = np.where(self.iu[0] == self.iu[1], 1.0, 2.0) * G[self.iu]
        return F, grad

    def ansatz(self, S, W):
        """Upper-triangular entries of the closed-form Gram point (module docstring) with score
        block S (L, L) and value block W (n_v, n_v)."""
        L = self.L
        O = np.zeros((self.n, self.n))
        for lo, M, s in ((0, np.asarray(S, float), self.s_qk), (2 * L, np.atleast_2d(W).astype(float), self.s_uv)):
            k = M.shape[0]
            U, sig, Vt = np.linalg.svd(M)
            t = (1 + np.sqrt(1 + 4 * sig**2 / s**2)) / 2
            a, b = slice(lo, lo + k), slice(lo + k, lo + 2 * k)
            O[a, a] = s * (U * t) @ U.T
            O[b, b] = s * (Vt.T * t) @ Vt
            O[a, b] = M
            O[b, a] = M.T
        return O[self.iu]

    def state_point(self, kappa: float, g: float, m: float | None = None):
        """:meth:`ansatz` at a large-N copy-form state: S = kappa (Pi - J/L), W = g (Gaussian
        tokens) or g (I - J/V) + m J/V (one-hot tokens)."""
        L = self.L
        S = kappa * (self.Pi - np.ones((L, L)) / L)
        if self.V is None:
            return self.ansatz(S, [[g]])
        J = np.ones((self.V, self.V)) / self.V
        return self.ansatz(S, g * (np.eye(self.V) - J) + m * J)


def basin(Fg: GramFreeEnergy, w0):
    res = minimize(Fg.value_grad, w0, jac=True, method="BFGS", options={"gtol": 1e-11, "maxiter": 5000})
    w = res.x
    if np.max(np.abs(res.jac)) > 1e-8:  # BFGS reports 'precision loss' at ~1e-12; that is fine
        raise ConvergenceError(f"basin minimum not found: |grad F| = {np.max(np.abs(res.jac)):.3g} ({res.message})")
    m = w.size
    H = np.empty((m, m))
    h = 1e-6
    for j in range(m):
        e = np.zeros(m)
        e[j] = h
        H[:, j] = (Fg.value_grad(w + e)[1] - Fg.value_grad(w - e)[1]) / (2 * h)
    H = 0.5 * (H + H.T)
    return {"w": w, "F": res.fun, "grad_norm": float(np.max(np.abs(res.jac))), "logdet_omega": np.linalg.slogdet(Fg.omega(w))[1],
            "logdet_H": np.linalg.slogdet(H)[1], "min_eig_H": float(np.linalg.eigvalsh(H)[0])}


def one_loop_shift(L: int = 8, s_qk: float = 0.25, s_uv: float = 9.0, V: int | None = None) -> dict:
    """delta and a1 of the module docstring at the large-N beta_c (softmax; V None: Gaussian
    tokens, else one-hot tokens with vocabulary V).  Checks: both basin minima reproduce the
    reduced free energies (F - F(Lam) = f), and their Hessians are positive definite."""
    t = attention.transition(L=L, kind=softmax_variant(V), s_qk=s_qk, s_uv=s_uv)
    if t.order != "first":
        raise ValueError(f"L, s_qk, s_uv: no first-order transition here (order {t.order!r})")
    Fg = GramFreeEnergy(L, t.beta_c, s_qk, s_uv, V)
    out = {}
    F0 = Fg.value_grad(Fg.state_point(0.0, 0.0, 0.0))[0] - 0.5 * t.beta_c * L  # f = F - F(Lam) convention
    for name, st in (("uniform", t.uniform), ("copy", t.copy)):
        b = basin(Fg, Fg.state_point(st.kappa, st.g, getattr(st, "m", None)))
        b["F_minus_reduced"] = b["F"] - F0 - st.free_energy
        out[name] = {k: float(v) for k, v in b.items() if k != "w"}
    n = Fg.n
    delta = (-(n + 1) / 2 * (out["copy"]["logdet_omega"] - out["uniform"]["logdet_omega"])
             - 0.5 * (out["copy"]["logdet_H"] - out["uniform"]["logdet_H"]))
    deps = t.copy.eps - t.uniform.eps
    return {"beta_c": t.beta_c, "delta": delta, "deps": deps, "a1": 2 * delta / (L * deps), **out}
