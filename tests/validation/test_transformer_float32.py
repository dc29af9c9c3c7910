"""float32 end to end: no float64 array in a float32 model's step, and float32 training follows
float64 training within float32 rounding."""

import numpy as np
import pytest

from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.optim import AdamW

CONFIGS = {
    "pre-ln rope tied": dict(layernorm=True, rope=True, pos_embed=False, tie_embeddings=True, mlp_bias=False),
    "nanda": dict(n_out=5),
    "position-only linear dropout": dict(position_only=True, attention="linear", dropout=0.2),
}


def _arrays(obj, seen=None):
    """Every ndarray reachable from obj through tuples, lists and dicts."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in _arrays(o, seen)]
    return []


@pytest.mark.parametrize("name", list(CONFIGS))
def test_float32_step_makes_no_float64_arrays(rng, name):
    cfg = TransformerConfig(vocab_size=9, d_model=8, n_layers=2, n_heads=2, d_mlp=12, max_len=5, seed=1,
                            **CONFIGS[name])
    model = Transformer(cfg)
    tokens = rng.integers(0, 9, size=(4, 5))
    targets = rng.integers(0, cfg.outputs, size=(4, 5))
    mask = np.zeros((4, 5), bool)
    mask[:, [1, 4]] = True                          # the last block computes two rows only
    drop = np.random.default_rng(0) if cfg.dropout else None
    loss, grads = model.loss_and_grad(tokens, targets, mask, rng=drop)
    state = model._forward(model._tokens(tokens), drop, None, model._ws, lambda i: model._ws.scope(f"{i}."))
    run = model.run_with_hooks(tokens, resid=True, attention=True)
    found = _arrays([grads, model._ws.arrays(), state, run.logits, run.resid, run.attention, model.features(tokens)])
    floats = [a for a in found if a.dtype.kind == "f"]
    assert len(floats) > 20
    assert {a.dtype for a in floats} == {np.dtype(np.float32)}
    assert isinstance(loss, float) and np.isfinite(loss)


def test_float32_training_follows_float64_within_rounding():
    """60 AdamW steps from the same weights on the same batches: the float32 loss curve stays
    within float32 noise of the float64 one (and is not the float64 computation itself)."""
    c64 = TransformerConfig(vocab_size=11, d_model=16, n_layers=2, n_heads=2, d_mlp=32, max_len=8, layernorm=True,
                            rope=True, pos_embed=False, tie_embeddings=True, dtype="float64", seed=3)
    m64 = Transformer(c64)
    m32 = Transformer(TransformerConfig(**{**c64.__dict__, "dtype": "float32"}),
                      params={k: v.astype(np.float32) for k, v in m64.params.items()})
    o64, o32 = (AdamW(m.params, lr=3e-3, weight_decay=0.1) for m in (m64, m32))
    rng = np.random.default_rng(7)
    curves = {32: [], 64: []}
    for _ in range(60):
        tok = rng.integers(0, 11, size=(16, 8))
        tg = np.roll(tok, 1, axis=1)                 # predict the previous token: learnable
        for bits, m, o in ((64, m64, o64), (32, m32, o32)):
            loss, g = m.loss_and_grad(tok, tg)
            o.step(m.params, g)
            curves[bits].append(loss)
    l32, l64 = np.array(curves[32]), np.array(curves[64])
    assert l64[-1] < 0.6 * l64[0]                    # it trains
    rel = np.abs(l32 - l64) / l64
    assert rel.max() < 1e-4
    assert rel.max() > 1e-9                          # float32 arithmetic really happened
    assert all(v.dtype == np.float32 for v in m32.params.values())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_gradients_have_no_subnormals(dtype):
    """A confident model's softmax gradient would be subnormal (exp(-90) / M in float32): both
    cross-entropies write 0 there (subnormal GEMM operands cost many-fold on x86), and every normal
    entry is unchanged."""
    from grokphase.validation.nn import _kernels as K
    from grokphase.validation.nn.loss import cross_entropy

    rng = np.random.default_rng(0)
    z = rng.standard_normal((64, 97)).astype(dtype)
    targets = rng.integers(0, 97, 64)
    z[np.arange(64), targets] += 90.0 if dtype == np.float32 else 712.0    # p(wrong) / 64 below the normal range
    tiny = np.finfo(dtype).tiny
    z64 = z.astype(np.float64)
    ref = np.exp(z64 - z64.max(1, keepdims=True))
    ref /= ref.sum(1, keepdims=True)
    ref[np.arange(64), targets] -= 1.0
    ref /= 64
    assert np.any((ref != 0) & (np.abs(ref) < tiny))           # the case exists: these would be subnormal
    normal = np.abs(ref) >= 2 * tiny
    for grad in (cross_entropy(z, targets)[1], _ce_rows(K, z, targets)):
        assert grad.dtype == dtype
        assert not np.any((grad != 0) & (np.abs(grad) < tiny))
        np.testing.assert_allclose(grad[normal], ref[normal], rtol=1e-5 if dtype == np.float32 else 1e-12)


def _ce_rows(K, z, targets):
    out = np.empty_like(z)
    K.cross_entropy_rows(z.copy(), targets, 1.0 / len(z), out)
    return out
