"""The finite-N one-hot posterior (docs/attention_onehot.md §2): count tensor, energy, gradient,
HMC posterior means against the large-N solver (small N here; larger N in the slow tests)."""

import numpy as np
import pytest

from grokphase import attention
from grokphase.validation import onehot_attention as oh
from grokphase.validation.samplers import hmc


def _theta(model, n, rng, scale=1.0):
    return tuple(scale * t for t in oh.prior_draw(model, n, rng))


@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_count_tensor_energy_equals_the_explicit_data_sum(kind):
    rng = np.random.default_rng(1)
    model = oh.OneHotModel.from_products(L=5, V=3, N=7, kind=kind, sigma2=0.7)
    tokens = oh.sample_tokens(5, 3, 11, rng)
    C = oh.count_tensor(5, 3, 0, tokens=tokens)
    theta = _theta(model, 3, rng, 0.5)
    E, _ = oh.neg_log_posterior(model, theta, C, with_grad=False)
    zero = oh.neg_log_posterior(model, theta, np.zeros_like(C), with_grad=False)[0]
    explicit = oh.explicit_data_loss(model, theta, tokens) / (2 * model.sigma2)
    np.testing.assert_allclose(E - zero, explicit, rtol=1e-11)


def test_count_tensor_of_random_data_converges_to_the_whitened_one():
    rng = np.random.default_rng(2)
    C = oh.count_tensor(4, 3, 40000, rng)
    np.testing.assert_allclose(C / 40000, oh.pair_moment(4, 3), atol=0.01)
    assert np.allclose(C.sum(axis=(2, 3)), 40000)      # one token per position


def test_whitened_data_term_is_the_population_loss_of_section_3():
    """At P = 1 the whitened data term is E_x sum_l |y_l - f_l|^2 = l(A, W), the closed form of §3."""
    rng = np.random.default_rng(3)
    for kind in ("softmax", "linear"):
        model = oh.OneHotModel.from_products(L=6, V=4, N=9, kind=kind, sigma2=1.0)
        theta = _theta(model, 4, rng, 0.7)
        C = oh.count_tensor(6, 4, 1)
        E = oh.neg_log_posterior(model, theta, C, with_grad=False)[0]
        E0 = oh.neg_log_posterior(model, theta, 0 * C, with_grad=False)[0]
        _, A = oh.attention(model, theta[0], theta[1])
        W = oh.value_path(model, theta[2], theta[3])
        np.testing.assert_allclose(2 * (E - E0), oh.population_loss(A, W), rtol=1e-11)


@pytest.mark.parametrize("kind", ["softmax", "linear"])
@pytest.mark.parametrize("whitened", [True, False])
def test_gradient_matches_finite_differences(kind, whitened):
    rng = np.random.default_rng(4)
    model = oh.OneHotModel.from_products(L=4, V=3, N=5, kind=kind, sigma2=0.8)
    C = oh.count_tensor(4, 3, 13, None if whitened else rng)
    C = np.stack([C, 2 * C])                       # batched: one tensor per chain
    theta = _theta(model, 2, rng, 0.6)
    _, grads = oh.neg_log_posterior(model, theta, C)
    h = 1e-6
    for i, t in enumerate(theta):
        for idx in [(0,) + tuple(rng.integers(0, s) for s in t.shape[1:]) for _ in range(3)] + [(1, 0, 0)]:
            tp = [x.copy() for x in theta]
            tm = [x.copy() for x in theta]
            tp[i][idx] += h
            tm[i][idx] -= h
            fd = (oh.neg_log_posterior(model, tp, C, False)[0] - oh.neg_log_posterior(model, tm, C, False)[0]) / (2 * h)
            assert grads[i][idx] == pytest.approx(fd[idx[0]], rel=1e-6, abs=1e-7)


def test_ansatz_start_is_exact_and_observables_read_it_back():
    rng = np.random.default_rng(5)
    model = oh.OneHotModel.from_products(L=8, V=4, N=16, kind="linear")
    th = oh.ansatz_start(model, 2, rng, kappa0=0.7, g0=1.3, m0=0.9, a0=0.4)
    o = oh.observables(model, th)
    np.testing.assert_allclose([o["kappa_hat"], o["a_hat"], o["g"], o["m"]],
                               np.array([[0.7] * 2, [0.4] * 2, [1.3] * 2, [0.9] * 2]), rtol=1e-10)
    with pytest.raises(ValueError, match="N"):
        oh.ansatz_start(oh.OneHotModel.from_products(L=8, V=4, N=4), 1, rng, 0.1, 0.1)


def test_model_validates_its_parameters():
    with pytest.raises(ValueError, match="V"):
        oh.OneHotModel(L=4, V=1, N=3)
    with pytest.raises(ValueError, match="kind"):
        oh.OneHotModel(L=4, V=3, N=3, kind="relu")


@pytest.mark.parametrize("whitened", [True, False])
def test_hmc_means_approach_the_large_n_softmax_solver(whitened):
    """L = 4, V = 3, beta = 30, away from any transition (one stable state): HMC means at N = 48 within
    ~1/N-sized corrections of the large-N saddle point (measured, whitened: |dc| 2e-4, |dg| 2e-3,
    deps 3e-3); random one-hot data (P = 1440 sequences) add a quenched shift (|dg| up to 0.016)."""
    L, V, beta = 4, 3, 30.0
    st = attention.solve(beta, L=L, s_qk=0.25, s_uv=9.0, tokens="onehot", V=V, init="copy")
    model = oh.OneHotModel.from_products(L=L, V=V, N=48)
    rng = np.random.default_rng(6 if whitened else 7)
    C = oh.count_tensor(L, V, int(round(beta * model.N)), None if whitened else rng)
    res = hmc(model, oh.ansatz_start(model, 4, rng, st.kappa, st.g, st.m), C, rng, n_iter=400, progress=False)
    tol_g = 0.01 if whitened else 0.03
    for name, ref, tol in (("c", st.c, 0.01), ("g", st.g, tol_g), ("m", st.m, 0.005), ("eps", st.eps, 0.01)):
        e = res.estimate(name)
        assert e.rhat < 1.15
        assert abs(e.mean - ref) < tol, (name, e.mean, ref)
