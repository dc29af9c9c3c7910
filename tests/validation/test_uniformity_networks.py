"""The networks of the uniformity experiments: finite-difference gradient checks in float64 (CNN by
im2col, embedding MLP, quadratic network), independent forward references, known answers."""

import numpy as np
import pytest

from grokphase.numerics.uniformity import quadratic_fourier_network, quadratic_logits_closed
from grokphase.validation.nn.cnn import (CNNConfig, SmallCNN, avgpool2_backward, avgpool2_forward, col2im,
                                         conv2d_backward, conv2d_forward, im2col)
from grokphase.validation.nn.loss import mse_one_hot
from grokphase.validation.nn.mlp import EmbedMLP, MLPConfig
from grokphase.validation.nn.quadratic import QuadraticConfig, QuadraticNet
from grokphase.validation.tasks import modular_dataset


def fd_max_error(loss, params: dict, grads: dict, rng, n=10, h=1e-5) -> float:
    """Largest relative error of central differences of ``loss()`` against ``grads`` over n random
    coordinates of every parameter (relative to |num| + |ana| + 1e-4 max |grad| of the tensor: FD
    rounding, ~1e-16 |loss| / h, would otherwise dominate tiny entries)."""
    worst = 0.0
    for k, x in params.items():
        flat, g = x.reshape(-1), grads[k].reshape(-1)
        floor = 1e-4 * float(np.abs(g).max()) + 1e-14
        for i in rng.choice(flat.size, size=min(n, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + h
            fp = loss()
            flat[i] = old - h
            fm = loss()
            flat[i] = old
            num = (fp - fm) / (2 * h)
            worst = max(worst, abs(num - g[i]) / (abs(num) + abs(g[i]) + floor))
    return worst


def conv_reference(x, Wk, b, pad):
    """Direct 6-loop cross-correlation (the definition), independent of im2col."""
    B, C, H, W = x.shape
    F, _, k, _ = Wk.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = H + 2 * pad - k + 1, W + 2 * pad - k + 1
    out = np.zeros((B, F, Ho, Wo))
    for bb in range(B):
        for ff in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    out[bb, ff, i, j] = np.sum(xp[bb, :, i:i + k, j:j + k] * Wk[ff]) + b[ff]
    return out


def test_conv_forward_matches_the_definition(rng):
    x = rng.standard_normal((2, 3, 6, 5))
    Wk, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    for pad in (0, 1):
        np.testing.assert_allclose(conv2d_forward(x, Wk, b, pad)[0], conv_reference(x, Wk, b, pad), rtol=1e-12, atol=1e-12)


def test_col2im_is_the_adjoint_of_im2col(rng):
    x = rng.standard_normal((2, 3, 7, 6))
    cols, _ = im2col(x, 3, 1)
    G = rng.standard_normal(cols.shape)
    assert np.vdot(G, cols) == pytest.approx(np.vdot(col2im(G, x.shape, 3, 1), x), rel=1e-12)


def test_conv_and_pool_backward_against_finite_differences(rng):
    x = rng.standard_normal((2, 2, 6, 6))
    Wk, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    G = rng.standard_normal((2, 3, 3, 3))
    params = {"x": x, "W": Wk, "b": b}

    def loss():
        y, _ = conv2d_forward(params["x"], params["W"], params["b"], 1)
        return float((avgpool2_forward(y)[0] * G).sum())

    y, cache = conv2d_forward(x, Wk, b, 1)
    _, shape = avgpool2_forward(y)
    dx, dW, db = conv2d_backward(avgpool2_backward(G, shape), cache)
    assert fd_max_error(loss, params, {"x": dx, "W": dW, "b": db}, rng, n=20) < 1e-7


def test_small_cnn_gradient_check(rng):
    cfg = CNNConfig(n_out=7, image_size=8, channels=(3, 4), hidden=6, dtype="float64", seed=1)
    net = SmallCNN(cfg)
    imgs = rng.random((5, 1, 8, 8))
    y = rng.integers(0, 7, 5)
    loss, grads = net.loss_and_grad(imgs, y)
    assert set(grads) == set(net.params)
    assert fd_max_error(lambda: net.loss_and_grad(imgs, y)[0], net.params, grads, rng) < 1e-6


def test_small_cnn_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="image_size"):
        CNNConfig(n_out=3, image_size=10, channels=(2, 2))
    net = SmallCNN(CNNConfig(n_out=3, image_size=8, channels=(2,), hidden=4))
    with pytest.raises(ValueError, match="images must have shape"):
        net.logits(np.zeros((1, 1, 6, 6)))


@pytest.mark.parametrize("loss,one_hot", [("ce", False), ("mse", False), ("ce", True), ("mse", True)])
def test_embed_mlp_gradient_check(rng, loss, one_hot):
    cfg = MLPConfig(vocab_size=9, n_out=5, n_inputs=3, d_embed=4, hidden=(6, 5), loss=loss, one_hot=one_hot,
                    dtype="float64", seed=2)
    net = EmbedMLP(cfg)
    tok = rng.integers(0, 9, (7, 3))
    y = rng.integers(0, 5, 7)
    L, grads = net.loss_and_grad(tok, y)
    assert set(grads) == set(net.params) and ("embed" in net.params) == (not one_hot)
    assert fd_max_error(lambda: net.loss_and_grad(tok, y)[0], net.params, grads, rng) < 1e-6


def test_embed_mlp_one_hot_first_layer_reads_the_weight_rows(rng):
    cfg = MLPConfig(vocab_size=6, n_out=4, n_inputs=2, hidden=(5,), one_hot=True, dtype="float64")
    net = EmbedMLP(cfg)
    tok = np.array([[1, 4], [0, 5]])
    W, b = net.params["dense.0.W"], net.params["dense.0.b"]
    expect = np.maximum(W[tok[:, 0]] + W[6 + tok[:, 1]] + b, 0)
    np.testing.assert_allclose(net.first_hidden(tok), expect, rtol=1e-14)


def test_mse_one_hot_matches_its_definition(rng):
    z = rng.standard_normal((4, 3))
    y = np.array([0, 2, 1, 2])
    loss, d, correct = mse_one_hot(z, y)
    assert loss == pytest.approx(np.mean((z - np.eye(3)[y]) ** 2), rel=1e-14)
    np.testing.assert_allclose(d, 2 * (z - np.eye(3)[y]) / 12, rtol=1e-14)
    assert list(correct) == list(z.argmax(1) == y)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_quadratic_net_gradient_check(rng, loss):
    net = QuadraticNet(QuadraticConfig(p=7, width=6, offset=2, loss=loss, seed=3))
    tok = np.stack([rng.integers(0, 7, 9), rng.integers(0, 7, 9) + 2], axis=1)
    y = rng.integers(0, 7, 9)
    L, grads = net.loss_and_grad(tok, y)
    assert fd_max_error(lambda: net.loss_and_grad(tok, y)[0], net.params, grads, rng) < 1e-6


def test_quadratic_net_with_the_analytic_weights_solves_addition():
    p, freqs, amps = 13, [1, 4, 5], [1.0, 0.8, 0.6]
    w = quadratic_fourier_network(p, freqs, amps, m=3)
    net = QuadraticNet(QuadraticConfig(p=p, width=w["U"].shape[1]),
                       params={"embed": w["U"], "embed_b": w["V"], "unembed": w["W"]})
    ds = modular_dataset(p, "add", 0.5)
    z = net.logits(ds.tokens)
    np.testing.assert_allclose(z, quadratic_logits_closed(p, freqs, amps).reshape(p * p, p), atol=1e-12)
    assert np.array_equal(z.argmax(1), ds.labels)
