"""One-loop (1/N) shift of the softmax equal-mass point, ``docs/attention_copy.md`` §7.

Laplace on the Gram-space posterior (§2.2) with n = 2L + 2 vectors (q_1..q_L, k_1..k_L, u, v):

    F(Omega) = 1/2 Tr(Lam^{-1} Omega) - 1/2 log det Omega + (beta/2) l(S(Omega), g(Omega)),
    log Z_b = -N F(Omega_b) - (n+1)/2 log det Omega_b - 1/2 log det H_b + const,

with H_b the Hessian of F over the n(n+1)/2 independent Gram entries at the basin minimum Omega_b.
delta = -(n+1)/2 [log det Omega]_uniform^copy - 1/2 [log det H]_uniform^copy at beta_c, and the
equal-mass point moves to beta_c(N) = beta_c + a1/N + O(N^-2).  Equal masses need
-N (beta - beta_c)(L/2) deps + delta = 0 (dF/dbeta = l/2 = L eps/2), so with deps = eps_copy -
eps_uniform (< 0) a1 = +2 delta / (L deps).  The opposite sign, a1 = -2 delta / (L deps),
holds for deps = eps_uniform - eps_copy; we use copy minus uniform for both differences.

Numerics: each basin minimum is found by BFGS over the upper-triangular entries of Omega from the
closed-form ansatz point of §3 (G_Q = s_q^2 U diag(t) U^T, G_K = s_k^2 V diag(t) V^T,
|u|^2/N = s_u^2 t_g, cross blocks zero), with the exact gradient; H by central differences of that
gradient (symmetrised); the loss l and its gradient are those of ``numerics.copy_loss``.  Priors: s_q = s_k = sqrt(s_qk), s_u = s_v = sqrt(s_uv).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize

from grokphase import attention
from grokphase.numerics.copy_loss import SOFTMAX, attention_backward, attention_weights, copy_loss, identity_statistic
from grokphase.numerics.errors import ConvergenceError
from grokphase.validation.copy_attention import shift_matrix


class GramFreeEnergy:
    """F(Omega) of the module docstring for softmax attention, as a function of the n(n+1)/2
    upper-triangular entries (diagonal included)."""

    def __init__(self, L: int, beta: float, s_qk: float, s_uv: float):
        self.L, self.beta = L, beta
        self.n = n = 2 * L + 2
        sq, su = math.sqrt(s_qk), math.sqrt(s_uv)
        self.lam_inv = 1.0 / np.array([sq**2] * L + [sq**2] * L + [su**2, su**2])
        self.iu = np.triu_indices(n)
        self.Pi = shift_matrix(L)

    def omega(self, w):
        O = np.zeros((self.n, self.n))
        O[self.iu] = w
        return O + np.triu(O, 1).T

    def value_grad(self, w):
        L = self.L
        O = self.omega(w)
        sign, logdet = np.linalg.slogdet(O)
        if sign <= 0:
            return np.inf, np.zeros_like(w)
        S, g = O[:L, L:2 * L], O[2 * L, 2 * L + 1]
        A = attention_weights(SOFTMAX, np.ascontiguousarray(S)[None])
        loss, dA, dg = copy_loss(A, np.array([g]), identity_statistic(L))
        dS = attention_backward(SOFTMAX, A, dA)[0]
        F = 0.5 * np.sum(self.lam_inv * np.diag(O)) - 0.5 * logdet + 0.5 * self.beta * loss[0]
        G = 0.5 * np.diag(self.lam_inv) - 0.5 * np.linalg.inv(O)          # dF/dOmega as a symmetric matrix
        G[:L, L:2 * L] += 0.25 * self.beta * dS
        G[L:2 * L, :L] += 0.25 * self.beta * dS.T
        G[2 * L, 2 * L + 1] += 0.25 * self.beta * dg[0]
        G[2 * L + 1, 2 * L] += 0.25 * self.beta * dg[0]
        # derivative w.r.t. an independent off-diagonal entry counts both symmetric positions
        grad = np.where(self.iu[0] == self.iu[1], 1.0, 2.0) * G[self.iu]
        return F, grad

    def ansatz(self, kappa: float, g: float, s_qk: float, s_uv: float):
        """Upper-triangular entries of the closed-form basin point for the copy ansatz (§3)."""
        L = self.L
        S = kappa * (self.Pi - np.ones((L, L)) / L)
        U, sig, Vt = np.linalg.svd(S)
        t = (1 + np.sqrt(1 + 4 * sig**2 / s_qk**2)) / 2
        sq, su = math.sqrt(s_qk), math.sqrt(s_uv)
        tg = (1 + math.sqrt(1 + 4 * g**2 / s_uv**2)) / 2
        O = np.zeros((self.n, self.n))
        O[:L, :L] = sq**2 * (U * t) @ U.T
        O[L:2 * L, L:2 * L] = sq**2 * (Vt.T * t) @ Vt
        O[:L, L:2 * L] = S
        O[L:2 * L, :L] = S.T
        O[2 * L, 2 * L] = O[2 * L + 1, 2 * L + 1] = su**2 * tg
        O[2 * L, 2 * L + 1] = O[2 * L + 1, 2 * L] = g
        return O[self.iu]


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


def one_loop_shift(L: int = 8, s_qk: float = 0.25, s_uv: float = 9.0) -> dict:
    """delta and a1 of §7 at the large-N beta_c (softmax).  Checks: both basin minima reproduce
    the reduced free energies (F - F(Lam) = f), and their Hessians are positive definite."""
    t = attention.transition(L=L, kind="softmax", s_qk=s_qk, s_uv=s_uv)
    if t.order != "first":
        raise ValueError(f"L, s_qk, s_uv: no first-order transition here (order {t.order!r})")
    Fg = GramFreeEnergy(L, t.beta_c, s_qk, s_uv)
    out = {}
    F0 = Fg.value_grad(Fg.ansatz(0.0, 0.0, s_qk, s_uv))[0] - 0.5 * t.beta_c * L  # f = F - F(Lam) convention
    for name, st in (("uniform", t.uniform), ("copy", t.copy)):
        b = basin(Fg, Fg.ansatz(st.kappa, st.g, s_qk, s_uv))
        b["F_minus_reduced"] = b["F"] - F0 - st.free_energy
        out[name] = {k: float(v) for k, v in b.items() if k != "w"}
    n = Fg.n
    delta = (-(n + 1) / 2 * (out["copy"]["logdet_omega"] - out["uniform"]["logdet_omega"])
             - 0.5 * (out["copy"]["logdet_H"] - out["uniform"]["logdet_H"]))
    deps = t.copy.eps - t.uniform.eps
    return {"beta_c": t.beta_c, "delta": delta, "deps": deps, "a1": 2 * delta / (L * deps), **out}
