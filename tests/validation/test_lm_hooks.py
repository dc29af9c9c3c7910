"""The NumPy transformer as a causal LM: residual-stream and attention hooks, head masks, and the
batched per-token log-probabilities a minimal-pair scorer takes."""

import numpy as np
import pytest

from grokphase.validation.nn import Transformer, TransformerConfig

LM = TransformerConfig(vocab_size=13, d_model=8, n_layers=2, n_heads=2, d_mlp=16, max_len=7, layernorm=True,
                       rope=True, pos_embed=False, tie_embeddings=True, mlp_bias=False, dtype="float64", seed=5)


def _ln(x, w, b):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * w + b


def _rope(a, base=10000.0):
    """Rotate pairs (i, i + dh/2) of a (T, dh) by t * base^(-2i/dh), written out pair by pair."""
    T, dh = a.shape
    half = dh // 2
    out = a.copy()
    for t in range(T):
        for i in range(half):
            th = t * base ** (-2.0 * i / dh)
            out[t, i] = np.cos(th) * a[t, i] - np.sin(th) * a[t, i + half]
            out[t, i + half] = np.sin(th) * a[t, i] + np.cos(th) * a[t, i + half]
    return out


def _manual_forward(model, tokens, head_mask=None):
    """Residual stream entering each block (+ after the last), attention patterns and logits,
    one sequence and one head at a time with plain NumPy (independent of the model's kernels)."""
    c, p = model.config, model.params
    H, dh = c.n_heads, c.d_model // c.n_heads
    B, T = tokens.shape
    resid, pats, logits = [], [], []
    for b in range(B):
        x = p["embed"][tokens[b]].copy()
        rs, ps = [x.copy()], []
        for i in range(c.n_layers):
            g = f"blocks.{i}."
            h = _ln(x, p[g + "ln1.w"], p[g + "ln1.b"])
            z = np.zeros((T, c.d_model))
            pl = np.zeros((H, T, T))
            for hd in range(H):
                sl = slice(hd * dh, (hd + 1) * dh)
                q, k, v = _rope(h @ p[g + "attn.W_Q"][:, sl]), _rope(h @ p[g + "attn.W_K"][:, sl]), h @ p[g + "attn.W_V"][:, sl]
                for t in range(T):
                    s = q[t] @ k[: t + 1].T / np.sqrt(dh)
                    pl[hd, t, : t + 1] = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
                z[:, sl] = (1.0 if head_mask is None else head_mask[i, hd]) * pl[hd] @ v
            x = x + z @ p[g + "attn.W_O"]
            x = x + np.maximum(_ln(x, p[g + "ln2.w"], p[g + "ln2.b"]) @ p[g + "mlp.W_in"], 0) @ p[g + "mlp.W_out"]
            rs.append(x.copy())
            ps.append(pl)
        resid.append(rs)
        pats.append(ps)
        logits.append(_ln(x, p["ln_final.w"], p["ln_final.b"]) @ p["embed"].T)
    return (np.array(resid).transpose(1, 0, 2, 3), np.array(pats).transpose(1, 0, 2, 3, 4), np.array(logits))


def test_hooks_return_what_a_manual_forward_computes(rng):
    model = Transformer(LM)
    tokens = rng.integers(0, 13, size=(3, 7))
    resid, pats, logits = _manual_forward(model, tokens)
    run = model.run_with_hooks(tokens, resid=True, attention=True)
    np.testing.assert_allclose(run.logits, logits, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(run.resid, resid, rtol=1e-11, atol=1e-12)          # (L + 1, B, T, D)
    np.testing.assert_allclose(run.attention, pats, rtol=1e-11, atol=1e-13)       # (L, B, H, T, T)
    shared = model.run_with_hooks(tokens, resid=True, positions=[0, 4, 6])
    np.testing.assert_allclose(shared.resid, resid[:, :, [0, 4, 6]], rtol=1e-11, atol=1e-12)
    assert shared.attention is None
    per_seq = np.array([[1, 2], [6, 0], [3, 3]])
    own = model.run_with_hooks(tokens, resid=True, positions=per_seq)
    want = np.stack([resid[:, b, per_seq[b]] for b in range(3)], axis=1)
    np.testing.assert_allclose(own.resid, want, rtol=1e-11, atol=1e-12)
    plain = model.run_with_hooks(tokens)
    assert plain.resid is None and plain.attention is None
    np.testing.assert_array_equal(plain.logits, model.logits(tokens))


def test_attention_rows_sum_to_one_and_are_causal(rng):
    model = Transformer(LM)
    A = model.run_with_hooks(rng.integers(0, 13, size=(4, 6)), attention=True).attention
    assert A.shape == (2, 4, 2, 6, 6)
    np.testing.assert_allclose(A.sum(axis=-1), 1.0, rtol=1e-13)
    assert np.all(A[..., np.triu_indices(6, 1)[0], np.triu_indices(6, 1)[1]] == 0.0)
    assert np.all(A[..., 0, 0] == 1.0)                       # the first query sees only itself


def test_head_mask_ones_is_the_plain_model_and_zero_is_a_zeroed_output_projection(rng):
    model = Transformer(LM)
    tokens = rng.integers(0, 13, size=(3, 7))
    targets = rng.integers(0, 13, size=(3, 7))
    ones = np.ones((2, 2))
    np.testing.assert_array_equal(model.logits(tokens, head_mask=ones), model.logits(tokens))
    l0, g0 = model.loss_and_grad(tokens, targets)
    l1, g1 = model.loss_and_grad(tokens, targets, head_mask=ones)
    assert l0 == l1 and all(np.array_equal(g0[k], g1[k]) for k in g0)

    hm = np.array([[1.0, 0.0], [0.0, 1.0]])                 # ablate head 1 of block 0, head 0 of block 1
    zeroed = {k: v.copy() for k, v in model.params.items()}
    zeroed["blocks.0.attn.W_O"][4:8] = 0.0
    zeroed["blocks.1.attn.W_O"][0:4] = 0.0
    twin = Transformer(LM, params=zeroed)
    np.testing.assert_allclose(model.logits(tokens, head_mask=hm), twin.logits(tokens), rtol=1e-12, atol=1e-13)
    _, pats, logits = _manual_forward(model, tokens, hm)
    np.testing.assert_allclose(model.logits(tokens, head_mask=hm), logits, rtol=1e-11, atol=1e-12)
    lm, gm = model.loss_and_grad(tokens, targets, head_mask=hm)
    lt, gt = twin.loss_and_grad(tokens, targets)
    assert lm == pytest.approx(lt, rel=1e-13)
    for k in gm:
        if k.endswith("W_O"):   # the masked rows get no gradient in the masked model, some in the twin
            off, on = (slice(4, 8), slice(0, 4)) if k.startswith("blocks.0") else (slice(0, 4), slice(4, 8))
            np.testing.assert_allclose(gm[k][on], gt[k][on], rtol=1e-10, atol=1e-13)
            assert np.all(gm[k][off] == 0.0) and np.any(gt[k][off] != 0.0)
        else:
            np.testing.assert_allclose(gm[k], gt[k], rtol=1e-10, atol=1e-13, err_msg=k)


def test_sequence_logprobs_match_one_sequence_at_a_time(rng):
    model = Transformer(LM)
    seqs = [rng.integers(0, 13, size=n) for n in (8, 3, 1, 5, 8, 2, 6, 4)]
    got = model.sequence_logprobs(seqs, batch_size=3)
    assert [g.shape for g in got] == [(len(s) - 1,) for s in seqs]
    for s, g in zip(seqs, got):
        if len(s) < 2:
            continue
        z = model.logits(s[None, :-1])[0]
        lp = z - z.max(-1, keepdims=True)
        lp -= np.log(np.exp(lp).sum(-1, keepdims=True))
        np.testing.assert_allclose(g, lp[np.arange(len(s) - 1), s[1:]], rtol=1e-12, atol=1e-12)
        assert g.dtype == np.float64 and np.all(g < 0)
    hm = np.array([[1.0, 0.0], [1.0, 1.0]])
    masked = model.sequence_logprobs(seqs, head_mask=hm)
    z = model.logits(seqs[0][None, :-1], head_mask=hm)[0]
    ref = z[np.arange(7), seqs[0][1:]] - np.log(np.exp(z).sum(-1))
    np.testing.assert_allclose(masked[0], ref, rtol=1e-12)


def test_lm_bad_inputs_raise_named_errors(rng):
    model = Transformer(LM)
    with pytest.raises(ValueError, match="sequence 1"):
        model.sequence_logprobs([[1, 2], []])
    with pytest.raises(ValueError, match="sequence 0"):
        model.sequence_logprobs([np.zeros(9, int)])                      # longer than max_len + 1
    with pytest.raises(ValueError, match="outside"):
        model.sequence_logprobs([[1, 13]])
    with pytest.raises(ValueError, match="batch_size"):
        model.sequence_logprobs([[1, 2]], batch_size=0)
    with pytest.raises(ValueError, match="head_mask"):
        model.logits(np.zeros((1, 3), int), head_mask=np.ones(2))
    with pytest.raises(ValueError, match="positions"):
        model.run_with_hooks(np.zeros((2, 3), int), resid=True, positions=[0, 3])
    with pytest.raises(ValueError, match="positions"):
        model.run_with_hooks(np.zeros((2, 3), int), resid=True, positions=np.zeros((3, 1), int))
    classifier = Transformer(TransformerConfig(vocab_size=5, d_model=8, n_heads=2, max_len=3, n_out=2))
    with pytest.raises(ValueError, match="n_out"):
        classifier.sequence_logprobs([[1, 2]])


def test_logits_and_features_at_one_position_per_sequence(rng):
    """The last block restricted to the scored positions gives the full pass's values there."""
    model = Transformer(LM)
    tokens = rng.integers(0, 13, size=(5, 7))
    for pos in (np.full(5, 5), np.array([0, 6, 3, 3, 1])):
        np.testing.assert_allclose(model.logits_at(tokens, pos), model.logits(tokens)[np.arange(5), pos],
                                   rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(model.features_at(tokens, pos), model.features(tokens)[np.arange(5), pos],
                                   rtol=1e-12, atol=1e-13)
    drop = Transformer(TransformerConfig(**{**LM.__dict__, "dropout": 0.3}), params=model.params)
    pos = np.array([0, 6, 3, 3, 1])
    np.testing.assert_array_equal(drop.logits_at(tokens, pos, rng=np.random.default_rng(2)),
                                  drop.logits(tokens, rng=np.random.default_rng(2))[np.arange(5), pos])
    with pytest.raises(ValueError, match="pos"):
        model.features_at(tokens, np.array([0, 7, 1, 1, 1]))
