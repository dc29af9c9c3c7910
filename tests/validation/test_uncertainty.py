"""Uncertainty decomposition against closed forms."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grokphase.validation import uncertainty_decomposition


def test_agreeing_samples_have_zero_eu():
    p = np.tile(np.array([0.2, 0.5, 0.3]), (7, 4, 1))
    tu, au, eu = uncertainty_decomposition(p)
    assert tu.shape == (4,) and np.allclose(eu, 0.0, atol=1e-15)
    assert tu[0] == pytest.approx(-(0.2 * math.log(0.2) + 0.5 * math.log(0.5) + 0.3 * math.log(0.3)))


def test_confident_disagreeing_samples_give_eu_log_k():
    """Each of K samples puts all mass on a different class: AU = 0 (safe at p = 0), TU = EU = log K."""
    K = 5
    tu, au, eu = uncertainty_decomposition(np.eye(K)[:, None, :])
    assert au[0] == 0.0 and tu[0] == pytest.approx(math.log(K)) and eu[0] == pytest.approx(math.log(K))


@given(st.integers(2, 6), st.integers(2, 5), st.integers(0, 10_000))
def test_bounds(S, K, seed):
    p = np.random.default_rng(seed).dirichlet(np.ones(K) * 0.3, size=(S, 3))
    tu, au, eu = uncertainty_decomposition(p)
    assert np.all(eu >= 0) and np.all(tu <= math.log(K) + 1e-12) and np.allclose(tu, au + eu)


def test_invalid_input():
    with pytest.raises(ValueError, match="probs"):
        uncertainty_decomposition(np.array([[0.5, 0.6]]))


def test_last_layer_laplace_on_softmax_regression(rng):
    """For the last layer of a softmax the GGN is the exact Hessian of the cross-entropy: compare with
    finite differences at the MAP (found by Newton), and the Laplace samples' covariance with H^-1."""
    from grokphase.validation.bayes import last_layer_laplace
    from grokphase.numerics.copy_loss import softmax

    n, D, K, lam = 40, 2, 3, 0.5
    X = rng.standard_normal((n, D))
    y = rng.integers(0, K, n)
    Y = np.eye(K)[y]

    def nlp(w):
        Z = X @ w.reshape(D, K)
        return float(-(Y * (Z - np.log(np.exp(Z).sum(1, keepdims=True)))).sum() + 0.5 * lam * (w**2).sum())

    def grad(w):
        return (X.T @ (softmax(X @ w.reshape(D, K)) - Y)).ravel() + lam * w

    w = np.zeros(D * K)
    for _ in range(50):  # Newton to the MAP
        H = last_layer_laplace(X, w.reshape(D, K), lam).precision
        w = w - np.linalg.solve(H, grad(w))
    assert np.max(np.abs(grad(w))) < 1e-10
    post = last_layer_laplace(X, w.reshape(D, K), lam)
    h = 1e-4
    fd = np.array([[(nlp(w + h * (ei + ej)) - nlp(w + h * (ei - ej)) - nlp(w - h * (ei - ej)) + nlp(w - h * (ei + ej)))
                    / (4 * h * h) for ej in np.eye(D * K)] for ei in np.eye(D * K)])
    np.testing.assert_allclose(post.precision, fd, atol=1e-5)
    draws = post.sample(rng, 20000).reshape(20000, -1)
    cov = np.linalg.inv(post.precision)
    # sample covariance error ~ sqrt(2/S) relative on the diagonal
    np.testing.assert_allclose(np.cov(draws.T), cov, atol=5 * np.sqrt(2 / 20000) * np.max(np.diag(cov)))
    probs = post.predictive_samples(X[:5], rng, 64)
    tu, au, eu = uncertainty_decomposition(probs)
    assert np.all(eu > 0) and np.all(eu < tu)


def test_swag_moments_follow_their_definitions(rng):
    from grokphase.validation.bayes import SWAG

    snaps = [{"a": rng.standard_normal((2, 3)).astype(np.float32), "b": rng.standard_normal(2)} for _ in range(12)]
    X = np.array([np.concatenate([s["a"].astype(np.float64).ravel(), s["b"]]) for s in snaps])
    sw = SWAG(rank=5)
    running = []
    for i, s in enumerate(snaps):
        sw.collect(s)
        running.append(X[i] - X[: i + 1].mean(axis=0))
    np.testing.assert_allclose(sw.mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sw.diag_var, X.var(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sw.deviations, np.array(running[-5:]).T, rtol=1e-10, atol=1e-12)
    draws = np.array([np.concatenate([d["a"].astype(np.float64).ravel(), d["b"]])
                      for d in (sw.sample(rng) for _ in range(40000))])
    D = sw.deviations
    cov = np.diag(sw.diag_var) / 2 + D @ D.T / (2 * 4)
    np.testing.assert_allclose(draws.mean(axis=0), sw.mean, atol=5 * np.sqrt(np.diag(cov).max() / 40000))
    np.testing.assert_allclose(np.cov(draws.T), cov, atol=6 * np.sqrt(2 / 40000) * np.diag(cov).max())
    assert sw.sample(rng)["a"].dtype == np.float32


def test_kfac_equals_full_ggn_when_predictions_agree(rng):
    """W = 0: every p_n is uniform, so sum_n phi phi^T kron C_n = A kron G exactly; elsewhere the two
    differ (the check can fail)."""
    from grokphase.validation.bayes.laplace import ggn, last_layer_laplace

    X = rng.standard_normal((30, 4))
    W0 = np.zeros((4, 3))
    kfac = last_layer_laplace(X, W0, 0.7, structure="kfac")
    np.testing.assert_allclose(kfac.precision, ggn(X, W0) + 0.7 * np.eye(12), atol=1e-12)
    W1 = rng.standard_normal((4, 3))
    assert not np.allclose(last_layer_laplace(X, W1, 0.7, "kfac").precision, ggn(X, W1) + 0.7 * np.eye(12), atol=1e-3)
    draws = last_layer_laplace(X, W1, 0.7, "kfac").sample(rng, 40000).reshape(40000, -1)
    cov = np.linalg.inv(last_layer_laplace(X, W1, 0.7, "kfac").precision)
    np.testing.assert_allclose(np.cov(draws.T), cov, atol=5 * np.sqrt(2 / 40000) * np.max(np.diag(cov)))
    with pytest.raises(ValueError, match="structure"):
        last_layer_laplace(X, W1, 0.7, "diag")


@pytest.mark.parametrize("tied", [True, False])
def test_transformer_laplace_is_the_hessian_of_the_untied_output_layer(rng, tied):
    """Tied embeddings: the Laplace layer is the output use of E, the input embedding held fixed.
    Check: features @ output_weight are the model's logits at the scored positions, and the GGN is
    the finite-difference Hessian (times M, the loss is a mean) of the untied twin's loss w.r.t. its
    unembedding, whose input embedding stays at E."""
    from grokphase.validation.bayes.laplace import fit_transformer_laplace
    from grokphase.validation.nn import Transformer, TransformerConfig

    cfg = TransformerConfig(vocab_size=5, d_model=8, n_layers=1, n_heads=2, d_mlp=16, max_len=6, rope=True,
                            layernorm=True, pos_embed=False, tie_embeddings=tied, dtype="float64", seed=3)
    model = Transformer(cfg)
    tokens = rng.integers(0, 5, (6, 6))
    mask = np.zeros(tokens.shape, bool)
    mask[:, 1::3] = True
    targets = rng.integers(0, 5, tokens.shape)
    post = fit_transformer_laplace(model, tokens, mask, prior_precision=0.3)
    np.testing.assert_allclose(model.features(tokens)[mask] @ post.mean, model.logits(tokens)[mask], atol=1e-12)
    twin = Transformer(cfg.__class__(**{**cfg.__dict__, "tie_embeddings": False}),
                       params={**model.params, "unembed": model.output_weight.copy()})
    M, D, K, h = int(mask.sum()), 8, 5, 1e-5
    W = twin.params["unembed"]
    fd = np.empty((D * K, D * K))
    for j in range(D * K):
        W.flat[j] += h
        gp = twin.loss_and_grad(tokens, targets, mask)[1]["unembed"].ravel()
        W.flat[j] -= 2 * h
        gm = twin.loss_and_grad(tokens, targets, mask)[1]["unembed"].ravel()
        W.flat[j] += h
        fd[:, j] = M * (gp - gm) / (2 * h)
    np.testing.assert_allclose(post.precision - 0.3 * np.eye(D * K), fd, atol=1e-7)


def test_evidence_prior_precision_is_the_evidence_maximum(rng):
    """MacKay's condition lam |W|^2 = sum h/(h + lam) is the stationary point of the Laplace log
    evidence -lam |W|^2/2 + (P/2) log lam - (1/2) sum log(h + lam): check by finite differences and
    that it is a maximum; the posteriors carry it."""
    from grokphase.validation.bayes.laplace import evidence_prior_precision, last_layer_laplace

    h = rng.gamma(0.5, 3.0, 60)
    W = rng.standard_normal((6, 10)) * 0.4

    def log_z(lam):
        return -lam * (W**2).sum() / 2 + 60 / 2 * np.log(lam) - 0.5 * np.log(h + lam).sum()

    lam = evidence_prior_precision(h, W)
    d = 1e-6 * lam
    assert abs(log_z(lam + d) - log_z(lam - d)) / (2 * d) < 1e-6 * 60 / lam
    assert log_z(lam) > max(log_z(lam * 1.5), log_z(lam / 1.5))
    X = rng.standard_normal((50, 6))
    for structure in ("full", "kfac"):
        post = last_layer_laplace(X, W, "evidence", structure)
        assert post.prior_precision > 0 and np.isfinite(post.prior_precision)
    with pytest.raises(ValueError, match="prior_precision"):
        last_layer_laplace(X, W, "marglik")


def test_ensemble_and_mc_dropout_known_cases(rng):
    """Identical members: EU = 0 (to rounding); two members whose predictions differ: EU equals the
    mutual information computed by hand; dropout 0.3: passes differ (EU > 0) and at dropout 0 the
    call is refused."""
    from grokphase.validation.bayes.sampling import ensemble_probs, mc_dropout_probs
    from grokphase.validation.nn import Transformer, TransformerConfig

    cfg = TransformerConfig(vocab_size=7, d_model=16, n_heads=2, d_mlp=32, max_len=4, dtype="float64", seed=0)
    tok = rng.integers(0, 7, (5, 4))
    pos = np.full(5, 3)
    a, b = Transformer(cfg), Transformer(cfg.__class__(**{**cfg.__dict__, "seed": 1}))
    assert np.all(uncertainty_decomposition(ensemble_probs([a, a, a], tok, pos))[2] < 1e-14)
    P = ensemble_probs([a, b], tok, pos)
    m = P.mean(0)
    mi = (-(m * np.log(m)).sum(-1)) - 0.5 * sum(-(p * np.log(p)).sum(-1) for p in P)
    np.testing.assert_allclose(uncertainty_decomposition(P)[2], mi, rtol=1e-12)
    drop = Transformer(cfg.__class__(**{**cfg.__dict__, "dropout": 0.3}))
    probs = mc_dropout_probs(drop, tok, pos, np.random.default_rng(0), 8)
    assert probs.shape == (8, 5, 7) and np.all(uncertainty_decomposition(probs)[2] > 0)
    np.testing.assert_array_equal(probs, mc_dropout_probs(drop, tok, pos, np.random.default_rng(0), 8))
    with pytest.raises(ValueError, match="dropout"):
        mc_dropout_probs(a, tok, pos, rng, 4)
