"""Exact reduced posterior of linear attention with the keys integrated out
(``docs/attention_copy.md`` §2.4).

With whitened data (C = P I), beta = alpha / sigma^2, eigenvalues lam_i of G_Q = Q Q^T / N,
rho = |u|^2 / N and the value gain g, the exact (L + 2)-dimensional posterior is

    log p = sum_i [ (N-L-1)/2 log lam_i - N lam_i/(2 s_q^2) - (L/2) log(1 + x_i) - beta N/(2 (1 + x_i)) ]
            + sum_{i<j} log|lam_i - lam_j| + (N-3)/2 log rho - N rho/(2 s_u^2) - N g^2/(2 s_v^2 rho),
    x_i = beta s_k^2 g^2 lam_i,

(``grokphase.theory.attention_copy.linear_reduced_terms``: the mode and value terms and their
derivatives are lambdified from there; only the Vandermonde term is assembled here), and
E[w | lam, g] = (1/L) sum_i x_i / (1 + x_i) for w = g c (rotation invariance; the same holds for
g kappa_hat, since the off-copy scores average to zero), which is what we record
(Rao-Blackwellised).  Sampled by batched HMC in unconstrained coordinates a = log lam, r = log rho
(Jacobian terms a_i and r added).  Cost O(L^2) per evaluation: N up to 10^4 and more is cheap.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache

import numpy as np
import sympy as sp

from grokphase import _checks as chk
from grokphase.numerics.copy_loss import KIND_CODES, attention_backward, copy_loss, identity_statistic
from grokphase.theory import attention_copy as T
from grokphase.validation.copy_attention import attention, data_terms, kappa_hat_weights
from grokphase.validation.samplers import HMCResult, hmc_tuple
from grokphase.validation.samplers.hmc import model_attrs


@lru_cache(maxsize=1)
def _terms():
    """NumPy functions of ``theory.attention_copy.linear_reduced_terms`` and their derivatives:
    mode -> (mode, d/dlam, d/dg), value -> (value, d/drho, d/dg), w_mode."""
    t = T.linear_reduced_terms()
    lam, rho, g, N, beta, L, s_q, s_k, s_u, s_v = t["symbols"]
    mode, value = t["mode"], t["value"]
    return dict(
        mode=sp.lambdify((lam, g, N, beta, L, s_q, s_k), [mode, sp.diff(mode, lam), sp.diff(mode, g)], "numpy"),
        value=sp.lambdify((rho, g, N, s_u, s_v), [value, sp.diff(value, rho), sp.diff(value, g)], "numpy"),
        w_mode=sp.lambdify((lam, g, beta, s_k), t["w_mode"], "numpy"))


def neg_log_posterior(z, *, N, L, beta, s_q, s_k, s_u, s_v):
    """-log p of the module docstring in the sampler's coordinates, with its gradient.

    Parameters
    ----------
    z : tuple of ndarray
        (a (n, L), r (n,), g (n,)): a = log lam, r = log rho (Jacobian terms a_i and r included).
    N, L : int
    beta, s_q, s_k, s_u, s_v : float

    Returns
    -------
    U : ndarray, shape (n,)
    grads : tuple of ndarray
        (dU/da (n, L), dU/dr (n,), dU/dg (n,)).
    """
    a, r, g = z
    lam, rho = np.exp(a), np.exp(r)
    f = _terms()
    m, dm_dlam, dm_dg = f["mode"](lam, g[:, None], N, beta, L, s_q, s_k)
    v, dv_drho, dv_dg = f["value"](rho, g, N, s_u, s_v)
    diff = lam[:, :, None] - lam[:, None, :]
    iu = np.triu_indices(L, 1)
    with np.errstate(divide="ignore"):
        vander = np.log(np.abs(diff[:, iu[0], iu[1]])).sum(axis=1)
    logp = m.sum(axis=1) + vander + v + a.sum(axis=1) + r
    off = np.where(np.eye(L, dtype=bool), np.inf, diff)
    da = (dm_dlam + (1.0 / off).sum(axis=2)) * lam + 1.0
    dr = dv_drho * rho + 1.0
    dg = dm_dg.sum(axis=1) + dv_dg
    return -logp, (-da, -dr, -dg)


def w_given(z, *, beta, s_k) -> np.ndarray:
    """E[w | lam, g] = (1/L) sum_i x_i / (1 + x_i), per chain (``w_mode`` of the theory)."""
    a, r, g = z
    return _terms()["w_mode"](np.exp(a), g[:, None], beta, s_k).mean(axis=1)


def posterior_mode(*, N, L, beta, s_q, s_k, s_u, s_v, g0) -> tuple[np.ndarray, float, float]:
    """(a (L,), r, g): the mode of the reduced posterior in the sampler's coordinates, by L-BFGS
    from a start that exists for every N > L + 1 (falls back to that start if the search fails).

    Start: lam_i at the midpoints of L equal slices of the Marchenko-Pastur support
    s_q^2 [(1 - sqrt(L/N))^2, (1 + sqrt(L/N))^2] of Q Q^T / N under the prior (positive and
    distinct for N > L), rho = s_u^2, g = g0."""
    from scipy.optimize import minimize

    kw = dict(N=N, L=L, beta=beta, s_q=s_q, s_k=s_k, s_u=s_u, s_v=s_v)
    c = math.sqrt(L / N)
    lo, hi = (1 - c) ** 2, (1 + c) ** 2
    start = np.concatenate([np.log(s_q**2 * (lo + (hi - lo) * (np.arange(L) + 0.5) / L)),
                            [math.log(s_u**2), float(g0)]])

    def f(x):
        with np.errstate(all="ignore"):
            U, (da, dr, dg) = neg_log_posterior((x[None, :L], x[None, L], x[None, L + 1]), **kw)
        grad = np.concatenate([da[0], dr, dg])
        if not (np.isfinite(U[0]) and np.all(np.isfinite(grad))):
            return np.inf, np.zeros_like(x)
        return float(U[0]), grad

    res = minimize(f, start, jac=True, method="L-BFGS-B")
    x = res.x if np.isfinite(res.fun) and res.fun <= f(start)[0] else start
    return x[:L], float(x[L]), float(x[L + 1])


def linear_reduced_hmc(beta, *, N, L=8, s_qk=0.25, s_uv=9.0, n_chains=8, n_iter=2000, seed=0,
                       g0=None) -> HMCResult:
    """HMC on the exact reduced posterior of linear attention (keys integrated out, whitened data).

    Priors s_q = s_k = sqrt(s_qk), s_u = s_v = sqrt(s_uv); N > L + 1 (the posterior is proper
    there).  Chains start at the posterior mode (``posterior_mode``, searched from g0: the large-N
    copy branch at beta if it exists, else 1) with 1% jitter.  The posterior records ``w`` = E[w | lam, g]
    (``w_given``, Rao-Blackwellised), whose mean is the posterior mean of w = g c and, by the
    rotation invariance of the keys-integrated posterior (the off-copy scores average to zero), also
    that of g kappa_hat."""
    beta = chk.nonnegative("beta", beta)
    L = chk.integer("L", L, 2, note="sequence length")
    N = chk.integer("N", N, L + 2, note="width; the keys-integrated posterior is proper for N > L + 1")
    s_qk, s_uv = chk.positive("s_qk", s_qk), chk.positive("s_uv", s_uv)
    n_chains, n_iter = chk.integer("n_chains", n_chains, 2), chk.integer("n_iter", n_iter, 20)
    s_q = s_k = math.sqrt(s_qk)
    s_u = s_v = math.sqrt(s_uv)
    rng = np.random.default_rng(chk.seed("seed", seed))
    if g0 is None:
        from grokphase import attention

        r = attention.solve(beta, L=L, kind="linear", s_qk=s_qk, s_uv=s_uv, init="copy") if beta > 0 else None
        g0 = r.g if r is not None and r.g > 0 else 1.0
    kw = dict(N=N, L=L, beta=beta, s_q=s_q, s_k=s_k, s_u=s_u, s_v=s_v)
    a0, r0, gm = posterior_mode(**kw, g0=chk.positive("g0", g0))
    z0 = (a0[None, :] + 0.01 * rng.standard_normal((n_chains, L)),
          np.full(n_chains, r0) + 0.01 * rng.standard_normal(n_chains),
          np.full(n_chains, gm) * (1 + 0.01 * rng.standard_normal(n_chains)))
    # diagonal preconditioning: HMC on y = z / scale with scale ~ the prior widths (curvature N/2 in
    # log lam and log rho, N / s_uv^2 in g), so one step size fits every direction
    scale = (math.sqrt(2.0 / N), math.sqrt(2.0 / N), s_uv / math.sqrt(N))

    def to_z(y):
        return tuple(yi * si for yi, si in zip(y, scale))

    def U_grad(y):
        U, G = neg_log_posterior(to_z(y), **kw)
        return U, tuple(gi * si for gi, si in zip(G, scale))

    y0 = tuple(zi / si for zi, si in zip(z0, scale))
    res = hmc_tuple(U_grad, y0, lambda y: {"w": w_given(to_z(y), beta=beta, s_k=s_k)}, rng, n_iter=n_iter,
                    step0=0.1)
    res.posterior.attrs.update(L=int(L), N=int(N), kind="linear", beta=float(beta), s_qk=float(s_qk),
                               s_uv=float(s_uv), keys="integrated out")
    res.posterior["w"].attrs["long_name"] = "E[w | lam, g], w = g c (Rao-Blackwellised)"
    return dataclasses.replace(res, final=to_z(res.final))


# --------------------------------------------------------------------------- value path out (§2.3)

def value_integrated_neg_log_posterior(model, z, C):
    """-log p(Q, K, rho | D) with the value gain integrated out (§2.3), any kind.

    z = (Q (n, L, N), K (n, L, N), r (n,)) with r = log rho (Jacobian included):
    log p = prior(Q, K) + (N/2) r - N rho/(2 s_u^2) - 1/2 log(1 + tau^2 q/sigma^2)
            + tau^2 b^2 / (2 sigma^2 (sigma^2 + tau^2 q)),   tau^2 = s_v^2 rho / N,
    b = Tr(A C Pi^T), q = Tr(A C A^T) (constant -Tr C/(2 sigma^2) dropped).  Returns (U, grads)."""
    Q, K, r = z
    N, s2 = model.N, model.sigma2
    s_q, s_k, s_u, s_v = model.scales
    S, A = attention(model, Q, K)
    b, q, db_dA, dq_dA = data_terms(A, C)
    rho = np.exp(r)
    tau2 = s_v**2 * rho / N
    D = s2 + tau2 * q
    logZ = -0.5 * np.log1p(tau2 * q / s2) + tau2 * b**2 / (2 * s2 * D)
    U = (np.einsum("cln,cln->c", Q, Q) / (2 * s_q**2) + np.einsum("cln,cln->c", K, K) / (2 * s_k**2)
         - N / 2 * r + N * rho / (2 * s_u**2) - logZ)
    dZ_db = tau2 * b / (s2 * D)
    dZ_dq = -tau2 / (2 * D) - tau2**2 * b**2 / (2 * s2 * D**2)
    dZ_dtau2 = -q / (2 * D) + b**2 / (2 * D**2)
    dA = -(dZ_db[:, None, None] * db_dA + dZ_dq[:, None, None] * dq_dA)    # dU/dA
    dS = attention_backward(KIND_CODES[model.kind], A, dA)
    dQ = dS @ K / N + Q / s_q**2
    dK = dS.swapaxes(-1, -2) @ Q / N + K / s_k**2
    dr = -N / 2 + N * rho / (2 * s_u**2) - dZ_dtau2 * tau2
    return U, (dQ, dK, dr)


def value_integrated_observables(model, z, C) -> dict:
    """c, kappa_hat from A; g, eps, w = g c and g_kappa_hat = g kappa_hat as conditional expectations
    over the Gaussian g | (Q, K, rho) (mean V b / sigma^2, variance V = (1/tau^2 + q/sigma^2)^-1):
    Rao-Blackwellised."""
    Q, K, r = z
    N, L, s2 = model.N, model.L, model.sigma2
    S, A = attention(model, Q, K)
    b, q = data_terms(A, C)[:2]
    tau2 = model.scales[3] ** 2 * np.exp(r) / N
    V = 1.0 / (1.0 / tau2 + q / s2)
    gm = V * b / s2
    rows = np.arange(L)
    c = A[:, rows, (rows - 1) % L].mean(axis=-1)
    kh = np.einsum("cij,ij->c", S, kappa_hat_weights(L)) / L
    loss, _, _ = copy_loss(A, gm, identity_statistic(L))                # eps = E[loss | Q, K, rho] / L
    rr = (A * A).sum(axis=-1).mean(axis=-1)
    return {"c": c, "kappa_hat": kh, "g": gm, "eps": loss / L + V * rr, "w": gm * c,
            "g_kappa_hat": gm * kh}


def value_integrated_hmc(model, z0, C, rng, n_iter=2000) -> HMCResult:
    """HMC in whitened coordinates (Q/s_q, K/s_k, r sqrt(N/2)) over z = (Q, K, r = log rho); the
    posterior holds ``value_integrated_observables`` and ``final`` is in z."""
    s_q, s_k = model.scales[0], model.scales[1]
    sr = math.sqrt(2.0 / model.N)
    scale = (s_q, s_k, sr)

    def to_z(y):
        return tuple(yi * si for yi, si in zip(y, scale))

    def U_grad(y):
        U, G = value_integrated_neg_log_posterior(model, to_z(y), C)
        return U, tuple(gi * si for gi, si in zip(G, scale))

    y0 = tuple(zi / si for zi, si in zip(z0, scale))
    res = hmc_tuple(U_grad, y0, lambda y: value_integrated_observables(model, to_z(y), C), rng, n_iter=n_iter)
    res.posterior.attrs.update(model_attrs(model), value_path="integrated out")
    return dataclasses.replace(res, final=to_z(res.final))
