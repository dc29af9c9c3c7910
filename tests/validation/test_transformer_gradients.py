"""Finite-difference gradient checks (float64) of every layer and of the whole transformer."""

import itertools

import numpy as np
import pytest

from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.nn.attention import attention_backward, attention_forward
from grokphase.validation.nn.layers import (layernorm_backward, layernorm_forward, mlp_backward,
                                            mlp_forward, rope_tables)


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


def _reference_attention(x, Ws, H, kind, rope_base=None, rows=None, head_mask=None):
    """Attention written out head by head with explicit 2x2 rotations (independent of the kernels)."""
    B, T, D = x.shape
    dh = D // H
    rows = np.arange(T) if rows is None else np.asarray(rows)
    W_Q, W_K, W_V, W_O = Ws
    out = np.zeros((B, len(rows), D))
    for b in range(B):
        z = np.zeros((len(rows), D))
        for h in range(H):
            sl = slice(h * dh, (h + 1) * dh)
            q, k, v = x[b] @ W_Q[:, sl], x[b] @ W_K[:, sl], x[b] @ W_V[:, sl]
            if rope_base is not None:
                half = dh // 2
                for t in range(T):
                    for i in range(half):
                        th = t * rope_base ** (-2.0 * i / dh)
                        c, s_ = np.cos(th), np.sin(th)
                        for a in (q, k):
                            a[t, i], a[t, i + half] = c * a[t, i] - s_ * a[t, i + half], s_ * a[t, i] + c * a[t, i + half]
            for r, t in enumerate(rows):
                s = q[t] @ k[: t + 1].T / np.sqrt(dh)
                a = np.exp(s - s.max()) / np.exp(s - s.max()).sum() if kind == "softmax" else s
                z[r, sl] = (1.0 if head_mask is None else head_mask[h]) * (a @ v[: t + 1])
        out[b] = z @ W_O
    return out


@pytest.mark.parametrize("kind", ["softmax", "linear"])
@pytest.mark.parametrize("rope", [False, True])
@pytest.mark.parametrize("T", [5, 21])
def test_attention_matches_an_explicit_reference(rng, kind, rope, T):
    """The fused kernel (RoPE, causal scores, softmax, A V, heads merged, a subset of query rows and a
    head mask) against attention written out head by head; RoPE as explicit 2x2 rotations.  T = 5
    and 21 cover the short and the vector-padded tile layouts, 3 and all 21 rows the tail tiles."""
    B, D, H = 2, 8, 2
    x = rng.standard_normal((B, T, D))
    Ws = [rng.standard_normal((D, D)) * 0.5 for _ in range(4)]
    tabs = rope_tables(T, D // H, np.float64) if rope else None
    for rows, hm in ((None, None), (np.array([1, 3, T - 1]), np.array([0.3, -1.2]))):
        out, cache = attention_forward(x, *Ws, H, kind, tabs, None, rows, hm)
        ref = _reference_attention(x, Ws, H, kind, 10000.0 if rope else None, rows, hm)
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
        A = cache[0]
        r = np.arange(T) if rows is None else rows
        assert np.all(A[..., np.arange(T)[None, :] > r[:, None]] == 0.0)       # causal
        if kind == "softmax":
            np.testing.assert_allclose(A.sum(axis=-1), 1.0, rtol=1e-13)


@pytest.mark.parametrize("kind,rope,pos_only", [("softmax", False, False), ("linear", False, False),
                                                ("softmax", True, False), ("linear", True, True),
                                                ("softmax", False, True)])
@pytest.mark.parametrize("T", [5, 18])
def test_attention_gradients(rng, kind, rope, pos_only, T):
    B, D, H = 2, 8, 2
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


def test_whole_model_gradient_with_a_head_mask(rng):
    """Gradients of the head-masked model (a head at 0, one at a fractional weight)."""
    cfg = TransformerConfig(vocab_size=7, d_model=8, n_layers=2, n_heads=2, d_mlp=12, max_len=6, dtype="float64",
                            seed=6, layernorm=True, rope=True, pos_embed=False, tie_embeddings=True)
    model = Transformer(cfg)
    tokens = rng.integers(0, 7, size=(3, 6))
    targets = rng.integers(0, 7, size=(3, 6))
    hm = np.array([[0.0, 1.0], [0.7, 1.3]])
    loss, grads = model.loss_and_grad(tokens, targets, head_mask=hm)

    def f():
        return model.loss_and_grad(tokens, targets, head_mask=hm)[0]

    for name, arr in model.params.items():
        assert fd_check(f, arr, grads[name], rng, n=6) < 1e-5, name
