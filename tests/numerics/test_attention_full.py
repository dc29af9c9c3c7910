"""Full (L^2 + 1)-variable attention free energy vs independent references (spec attention_copy §3, §5.5).

References: central finite differences of F; a direct Gram-space minimisation (§2.2) for the rate;
the generated reduced free energies of §4 minimised with scipy for the copy ansatz.
"""

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from grokphase.numerics._attention_kernels import (linear_f, linear_grad, linear_hess, softmax_f,
                                                   softmax_grad, softmax_hess)
from grokphase.numerics.attention_full import (full_free_energy, full_gradient, full_hessian_fd,
                                               minimize_full)

L_REF, S_QK, S_UV = 8, 0.25, 9.0
BETAS_SOFTMAX = [12.2, 12.35, 12.9682, 14.2, 14.35]


def _pi(L):
    """Cyclic shift, Pi[l, l-1] = 1."""
    P = np.zeros((L, L))
    P[np.arange(L), (np.arange(L) - 1) % L] = 1.0
    return P


def _rate(S, g, s_qk, s_uv):
    """sum_i h(sigma_i(S); s_qk) + h(g; s_uv): F at beta = 0."""
    return full_free_energy(S, g, 0.0, kind="softmax", s_qk=s_qk, s_uv=s_uv)


# ----------------------------------------------------------------------------- a. gradient

@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_gradient_matches_central_differences(kind, rng):
    L = 5
    worst = 0.0
    cases = [(rng.normal(size=(L, L)), rng.uniform(-2, 2)) for _ in range(3)]
    cases.append((1.3 * (_pi(L) - np.ones((L, L)) / L), 1.7))  # a zero and a degenerate singular value
    for S, g in cases:
        beta = 7.3
        kw = dict(kind=kind, s_qk=0.6, s_uv=2.0)
        dS, dg = full_gradient(S, g, beta, **kw)
        h = 1e-5
        num = np.empty((L, L))
        for i in range(L):
            for j in range(L):
                Sp, Sm = S.copy(), S.copy()
                Sp[i, j] += h
                Sm[i, j] -= h
                num[i, j] = (full_free_energy(Sp, g, beta, **kw)
                             - full_free_energy(Sm, g, beta, **kw)) / (2 * h)
        num_g = (full_free_energy(S, g + h, beta, **kw) - full_free_energy(S, g - h, beta, **kw)) / (2 * h)
        scale = max(1.0, np.max(np.abs(dS)), abs(dg))
        worst = max(worst, np.max(np.abs(num - dS)) / scale, abs(num_g - dg) / scale)
    assert worst < 1e-8, worst  # measured 1.5e-10 (FD truncation)


@pytest.mark.parametrize("kind,reduced", [("softmax", softmax_f), ("linear", linear_f)])
def test_ansatz_reduces_to_generated_free_energy(kind, reduced):
    L = L_REF
    for kappa, g, beta in [(1.15, 1.89, 12.97), (-0.4, 0.7, 3.0), (0.0, 0.0, 5.0)]:
        S = kappa * (_pi(L) - np.ones((L, L)) / L) if kind == "softmax" else kappa * _pi(L)
        full = full_free_energy(S, g, beta, kind=kind, s_qk=S_QK, s_uv=S_UV)
        assert full == pytest.approx(reduced(kappa, g, beta, float(L), S_QK, S_UV), rel=1e-13, abs=1e-13)


# ----------------------------------------------------------------------------- b. Gram space

def _gram_min(S, g, s_q, s_k, s_u, s_v):
    """min over PD Omega (n = 2L + 2) of 1/2 Tr(Lam^-1 Omega) - 1/2 log det Omega, with the (q, k)
    block = S and Omega_uv = g.  Omega = R R^T, R lower triangular with log-diagonal parameters; the
    entries R[k_j, q_i] and R[v, u] are solved from the constraints, all others are free."""
    L = S.shape[0]
    n = 2 * L + 2
    lam = np.array([s_q**2] * L + [s_k**2] * L + [s_u**2, s_v**2])
    u, v = 2 * L, 2 * L + 1
    fixed = {(L + j, i) for i in range(L) for j in range(L)} | {(v, u)}
    free = [(a, b) for a in range(n) for b in range(a) if (a, b) not in fixed]

    def build(p):
        R = np.diag(np.exp(p[:n]))
        for (a, b), val in zip(free, p[n:]):
            R[a, b] = val
        for i in range(L):  # Omega[k_j, q_i] = sum_{m <= i} R[k_j, m] R[q_i, m], solved in increasing i
            for j in range(L):
                R[L + j, i] = (S[i, j] - R[L + j, :i] @ R[i, :i]) / R[i, i]
        R[v, u] = (g - R[v, :u] @ R[u, :u]) / R[u, u]
        return R

    def obj(p):
        R = build(p)
        return 0.5 * np.sum(R**2 / lam[:, None]) - np.sum(p[:n])

    p0 = np.concatenate([0.5 * np.log(lam), np.zeros(len(free))])
    best = None
    for _ in range(2):  # a restart from the first end point (BFGS may stop on precision loss)
        res = minimize(obj, p0 if best is None else best.x, method="BFGS", jac="3-point",
                       options=dict(gtol=1e-9, maxiter=5000))
        best = res if best is None or res.fun < best.fun else best
    R = build(best.x)
    Om = R @ R.T
    assert np.allclose(Om[:L, L:2 * L], S, atol=1e-12) and abs(Om[u, v] - g) < 1e-12
    return best.fun


@pytest.mark.parametrize("L", [2, 3])
def test_rate_equals_gram_space_minimum(L, rng):
    s_q, s_k, s_u, s_v = 0.5, 0.8, 2.0, 1.5  # only s_qk = 0.4 and s_uv = 3 may matter
    zero = _gram_min(np.zeros((L, L)), 0.0, s_q, s_k, s_u, s_v)
    worst = 0.0
    for _ in range(2):
        S = rng.normal(scale=0.5, size=(L, L))
        g = rng.uniform(-3, 3)
        gram = _gram_min(S, g, s_q, s_k, s_u, s_v) - zero
        worst = max(worst, abs(gram - _rate(S, g, s_q * s_k, s_u * s_v)))
    assert worst < 1e-6, worst


# ----------------------------------------------------------------------------- c. §5.5 ansatz check

def _reduced_minima(f, grad, hess, beta, starts):
    """Distinct local minima (kappa, g, f) of the generated reduced free energy: scipy BFGS, then
    three Newton steps with the generated Hessian (BFGS alone stops at |grad| ~ 1e-8 on precision
    loss, which would limit kappa to ~1e-8)."""
    args = (beta, float(L_REF), S_QK, S_UV)

    def hmat(x):
        a, b, c = hess(x[0], x[1], *args)
        return np.array([[a, b], [b, c]])

    out = []
    for x0 in starts:
        fun = lambda x: f(x[0], x[1], *args)  # noqa: E731
        jac = lambda x: np.array(grad(x[0], x[1], *args))  # noqa: E731
        res = minimize(fun, np.array(x0), jac=jac, method="BFGS", options=dict(gtol=1e-9))
        x = res.x
        for _ in range(3):
            x = x - np.linalg.solve(hmat(x), jac(x))
        assert np.all(np.linalg.eigvalsh(hmat(x)) > 0)
        gnorm = np.max(np.abs(jac(x)))
        assert gnorm < 1e-12, (beta, x0, gnorm)
        if not any(abs(x[0] - k) < 1e-6 and abs(x[1] - gg) < 1e-6 for k, gg, _ in out):
            out.append((x[0], x[1], fun(x)))
    return out


def test_softmax_full_minima_are_copy_ansatz_branches():
    L = L_REF
    P, J = _pi(L), np.ones((L, L))
    rng = np.random.default_rng(5505)
    worst_f = worst_k = worst_spread = worst_mean = 0.0
    for beta in BETAS_SOFTMAX:
        branches = _reduced_minima(softmax_f, softmax_grad, softmax_hess, beta, [(0.1, 1.2), (1.2, 1.9)])
        starts = [(np.zeros((L, L)), 1.0), (1.15 * (P - J / L), 1.89)]
        starts += [(rng.normal(size=(L, L)), rng.uniform(0.0, 2.0)) for _ in range(6)]
        found = set()
        for S0, g0 in starts:
            r = minimize_full(beta, L=L, kind="softmax", s_qk=S_QK, s_uv=S_UV, S0=S0, g0=g0)
            assert r.converged, (beta, r.residual)
            assert r.min_hessian_eig > 0.0
            worst_spread = max(worst_spread, r.row_spread)
            df = [abs(r.free_energy - fb) for _, _, fb in branches]
            b = int(np.argmin(df))
            found.add(b)
            worst_f = max(worst_f, df[b])
            kappa, g_red, _ = branches[b]
            worst_mean = max(worst_mean, np.max(np.abs(r.S.mean(axis=1))))  # optimal gauge (§4)
            Sc = r.S - r.S.mean(axis=1, keepdims=True)
            worst_k = max(worst_k, np.max(np.abs(Sc - kappa * (P - J / L))), abs(r.g - g_red))
        # the uniform and copy starts reach both branches where both exist
        assert len(found) == len(branches), (beta, found, branches)
    assert worst_spread < 1e-6, worst_spread
    assert worst_f < 1e-6, worst_f
    assert worst_k < 1e-5, worst_k
    assert worst_mean < 1e-8, worst_mean


@pytest.mark.parametrize("beta", [2 * 0.157135, 0.5])
def test_linear_full_minimum_is_kappa_pi(beta):
    L = L_REF
    P = _pi(L)
    (kappa, g_red, f_red), = _reduced_minima(linear_f, linear_grad, linear_hess, beta, [(1.0, 1.0)])
    assert kappa > 0.0 and g_red > 0.0
    r = minimize_full(beta, L=L, kind="linear", s_qk=S_QK, s_uv=S_UV, S0=P, g0=1.0)
    assert r.converged and r.min_hessian_eig > 0.0
    assert np.max(np.abs(r.S - kappa * P)) < 1e-8
    assert abs(r.g - g_red) < 1e-8
    assert abs(r.free_energy - f_red) < 1e-10
    assert r.eps == pytest.approx((1 - g_red * kappa) ** 2, abs=1e-12)


def test_linear_below_beta_c_minimum_is_origin():
    L = L_REF
    beta = 0.1
    for S0, g0 in [(_pi(L), 1.0), (np.random.default_rng(1).normal(size=(L, L)), 1.5)]:
        r = minimize_full(beta, L=L, kind="linear", s_qk=S_QK, s_uv=S_UV, S0=S0, g0=g0)
        assert r.converged
        assert np.max(np.abs(r.S)) < 1e-10 and abs(r.g) < 1e-10
        assert r.free_energy == pytest.approx(beta * L / 2, abs=1e-12)
        # closed-form Hessian at the origin: 1/s_qk^2 on S, 1/s_uv^2 on g, -beta between g and
        # the L copy entries; its smallest eigenvalue comes from the 2x2 block on (copy mode, g)
        a, b = 1 / S_QK**2, 1 / S_UV**2
        exact = 0.5 * (a + b - math.sqrt((a - b) ** 2 + 4 * beta**2 * L))
        assert abs(r.min_hessian_eig - exact) < 1e-8
        H = full_hessian_fd(np.zeros((L, L)), 0.0, beta, kind="linear", s_qk=S_QK, s_uv=S_UV)
        H_exact = np.diag([a] * L * L + [b])
        idx = [l * L + (l - 1) % L for l in range(L)]
        H_exact[idx, -1] = H_exact[-1, idx] = -beta
        assert np.max(np.abs(H - H_exact)) < 1e-8


# ----------------------------------------------------------------------------- d. honesty, validation

def test_max_iter_2_is_not_converged():
    L = L_REF
    rng = np.random.default_rng(2)
    r = minimize_full(12.9682, L=L, kind="softmax", s_qk=S_QK, s_uv=S_UV,
                      S0=rng.normal(size=(L, L)), g0=0.5, max_iter=2)
    assert r.iterations <= 2
    assert not r.converged
    assert r.residual >= 1e-9


@pytest.mark.parametrize("kwargs,name", [
    (dict(L=1), "L"), (dict(L=2.5), "L"), (dict(kind="relu"), "kind"), (dict(s_qk=0.0), "s_qk"),
    (dict(s_uv=-1.0), "s_uv"), (dict(beta=-0.1), "beta"), (dict(S0=np.zeros((3, 4))), "S0"),
])
def test_invalid_parameters_raise(kwargs, name):
    args = dict(beta=1.0, L=3, kind="softmax", s_qk=0.25, s_uv=9.0, S0=np.zeros((3, 3)), g0=1.0)
    args.update(kwargs)
    if "L" in kwargs and "S0" not in kwargs and isinstance(kwargs["L"], int):
        args["S0"] = np.zeros((kwargs["L"], kwargs["L"]))
    beta = args.pop("beta")
    with pytest.raises(ValueError, match=name):
        minimize_full(beta, **args)
