"""Finite-difference gradient checks (float64) of every layer and of the whole transformer."""

import itertools

import numpy as np
import pytest

from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.nn.attention import attention_backward, attention_forward
from grokphase.validation.nn.layers import (layernorm_backward, layernorm_forward, mlp_backward,
                                            mlp_forward, rope_backward, rope_forward, rope_tables)


def fd_check(f, x, grad, rng, n=12, h=1e-5):
    """Central differences of scalar f along n random coordinates of x vs grad; max relative error.

    The error is relative to |num| + |grad| plus 1e-3 of the largest |grad| of the tensor: FD
    rounding is ~1e-16 |f| / h ~ 1e-10 absolute, which would dominate tiny entries."""
    worst = 0.0
    flat = x.reshape(-1)
    floor = 1e-3 * float(np.max(np.abs(grad))) + 1e-12
    for idx in rng.choice(flat.size, size=min(n, flat.size), replace=False):
        old = flat[idx]
        flat[idx] = old + h
        fp = f()
        flat[idx] = old - h
        fm = f()
        flat[idx] = old
        num = (fp - fm) / (2 * h)
        ana = grad.reshape(-1)[idx]
        worst = max(worst, abs(num - ana) / (abs(num) + abs(ana) + floor))
    return worst


def test_layernorm_and_mlp_gradients(rng):
    x = rng.standard_normal((2, 3, 6))
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    G = rng.standard_normal((2, 3, 6))
    out, cache = layernorm_forward(x, w, b)
    dx, dw, db = layernorm_backward(G, cache)
    f = lambda: float((layernorm_forward(x, w, b)[0] * G).sum())  # noqa: E731
    assert max(fd_check(f, x, dx, rng), fd_check(f, w, dw, rng), fd_check(f, b, db, rng)) < 1e-7
    W1, b1, W2, b2 = rng.standard_normal((6, 5)), rng.standard_normal(5), rng.standard_normal((5, 6)), rng.standard_normal(6)
    out, cache = mlp_forward(x, W1, b1, W2, b2)
    grads = mlp_backward(G, cache)
    f = lambda: float((mlp_forward(x, W1, b1, W2, b2)[0] * G).sum())  # noqa: E731
    for arr, g in zip((x, W1, b1, W2, b2), grads):
        assert fd_check(f, arr, g, rng) < 1e-7


def test_rope_backward_is_the_transpose(rng):
    cos, sin = rope_tables(5, 8, np.float64)
    x, G = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 5, 8))
    # <G, R x> = <R^T G, x>, and R is orthogonal (norm preserving)
    assert np.sum(G * rope_forward(x, cos, sin)) == pytest.approx(np.sum(rope_backward(G, cos, sin) * x), rel=1e-12)
    np.testing.assert_allclose(np.linalg.norm(rope_forward(x, cos, sin), axis=-1), np.linalg.norm(x, axis=-1))


@pytest.mark.parametrize("kind,rope,pos_only", [("softmax", False, False), ("linear", False, False),
                                                ("softmax", True, False), ("linear", True, True),
                                                ("softmax", False, True)])
def test_attention_gradients(rng, kind, rope, pos_only):
    B, T, D, H = 2, 5, 8, 2
    x = rng.standard_normal((B, T, D))
    Ws = [rng.standard_normal((D, D)) * 0.5 for _ in range(4)]
    P = rng.standard_normal((T, D)) if pos_only else None
    tabs = rope_tables(T, D // H, np.float64) if rope else None
    G = rng.standard_normal((B, T, D))

    def f():
        return float((attention_forward(x, *Ws, H, kind, tabs, P)[0] * G).sum())

    out, cache = attention_forward(x, *Ws, H, kind, tabs, P)
    dx, grads, dP = attention_backward(G, cache)
    assert fd_check(f, x, dx, rng) < 1e-7
    for W, name in zip(Ws, ("W_Q", "W_K", "W_V", "W_O")):
        assert fd_check(f, W, grads[name], rng) < 1e-7
    if pos_only:
        assert fd_check(f, P, dP, rng) < 1e-7


CONFIGS = [dict(attention=a, rope=r, layernorm=ln, tie_embeddings=t)
           for a, r, ln, t in itertools.product(("softmax", "linear"), (False, True), (False, True), (False, True))]


@pytest.mark.parametrize("opts", CONFIGS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_whole_model_gradient(rng, opts):
    cfg = TransformerConfig(vocab_size=7, d_model=8, n_layers=2, n_heads=2, d_mlp=12, max_len=6,
                            dtype="float64", seed=1, pos_embed=not opts["rope"], **opts)
    model = Transformer(cfg)
    tokens = rng.integers(0, 7, size=(3, 6))
    targets = rng.integers(0, 7, size=(3, 6))
    mask = rng.random((3, 6)) < 0.5
    mask[0, -1] = True
    loss, grads = model.loss_and_grad(tokens, targets, mask)
    assert set(grads) == set(model.params)

    def f():
        return model.loss_and_grad(tokens, targets, mask)[0]

    for name, arr in model.params.items():
        assert fd_check(f, arr, grads[name], rng, n=6) < 1e-5, name  # FD error ~1e-7 at h = 1e-5


def test_position_only_and_dropout_model_gradient(rng):
    cfg = TransformerConfig(vocab_size=5, d_model=8, n_layers=1, n_heads=2, d_mlp=8, max_len=5,
                            dtype="float64", seed=2, position_only=True, attention="linear", dropout=0.3)
    model = Transformer(cfg)
    tokens = rng.integers(0, 5, size=(4, 5))
    targets = np.roll(tokens, 1, axis=1)
    mask = np.ones((4, 5), bool)
    mask[:, 0] = False
    # same dropout masks in every evaluation: a fresh generator with a fixed seed each time
    loss, grads = model.loss_and_grad(tokens, targets, mask, rng=np.random.default_rng(9))

    def f():
        return model.loss_and_grad(tokens, targets, mask, rng=np.random.default_rng(9))[0]

    for name, arr in model.params.items():
        assert fd_check(f, arr, grads[name], rng, n=6) < 1e-5, name  # FD error ~1e-7 at h = 1e-5


@pytest.mark.parametrize("opts", [dict(attention="softmax"), dict(attention="linear", rope=True, pos_embed=False),
                                  dict(layernorm=True, tie_embeddings=True, rope=True, pos_embed=False),
                                  dict(position_only=True, attention="linear")])
def test_gradient_with_loss_on_a_subset_of_positions(rng, opts):
    """The last block computes only the rows that carry a loss (as the modular and ICL tasks use):
    gradients stay exact and the loss equals the one from full logits."""
    cfg = TransformerConfig(vocab_size=7, d_model=8, n_layers=2, n_heads=2, d_mlp=12, max_len=6,
                            dtype="float64", seed=3, **opts)
    model = Transformer(cfg)
    tokens = rng.integers(0, 7, size=(3, 6))
    targets = rng.integers(0, 7, size=(3, 6))
    mask = np.zeros((3, 6), bool)
    mask[:, [1, 4]] = True
    mask[2, 1] = False
    loss, grads = model.loss_and_grad(tokens, targets, mask)
    logits = model.logits(tokens)[mask]
    z = logits - logits.max(axis=1, keepdims=True)
    ref = -np.mean(z[np.arange(len(z)), targets[mask]] - np.log(np.exp(z).sum(axis=1)))
    assert loss == pytest.approx(ref, rel=1e-12)

    def f():
        return model.loss_and_grad(tokens, targets, mask)[0]

    for name, arr in model.params.items():
        assert fd_check(f, arr, grads[name], rng, n=6) < 1e-5, name


def test_bad_inputs_raise_named_errors():
    model = Transformer(TransformerConfig(vocab_size=5, d_model=8, n_heads=2, d_mlp=8, max_len=4))
    tok = np.zeros((2, 4), int)
    with pytest.raises(ValueError, match="tokens"):
        model.loss_and_grad(tok + 5, tok, None)
    with pytest.raises(ValueError, match="mask"):
        model.loss_and_grad(tok, tok, np.zeros((2, 4), bool))
    with pytest.raises(ValueError, match="targets and mask"):
        model.loss_and_grad(tok, tok[:, :3], None)
    with pytest.raises(ValueError, match="max_len"):
        model.logits(np.zeros((1, 5), int))
