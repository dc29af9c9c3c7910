"""The fused output head (unembedding + loss + backward in row blocks) against the unfused
float64 computation of ``nn.loss``."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from grokphase.validation.nn import _kernels as K
from grokphase.validation.nn.loss import cross_entropy, mse_one_hot
from grokphase.validation.nn.output_head import block_rows, unembed_loss_backward


def _reference(h, W, t, loss):
    z = h.astype(np.float64) @ W.astype(np.float64)
    L, d = (cross_entropy(z, t)[:2] if loss == "ce" else mse_one_hot(z, t)[:2])
    return L, d @ W.T.astype(np.float64), h.T.astype(np.float64) @ d


@pytest.mark.parametrize("loss", ["ce", "mse"])
@given(M=st.integers(1, 700), V=st.integers(2, 900), D=st.integers(1, 24), seed=st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
def test_fused_head_equals_unfused_float64(loss, M, V, D, seed):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((M, D))
    W = rng.standard_normal((V, D)).T                 # a transposed view, as for tied embeddings
    t = rng.integers(0, V, M)
    L, dh, dW = unembed_loss_backward(h, W, t, loss)
    L0, dh0, dW0 = _reference(h, W, t, loss)
    assert L == pytest.approx(L0, rel=1e-13)
    np.testing.assert_allclose(dh, dh0, rtol=0, atol=1e-13 * np.abs(dh0).max())
    np.testing.assert_allclose(dW, dW0, rtol=0, atol=1e-13 * np.abs(dW0).max())


def test_many_blocks_and_chunks_are_all_counted():
    """M = 3000 rows of V = 1500 float64 logits: 349-row blocks, several per chunk (chunks of 750 rows
    with 2 threads, 1500 with 1)."""
    assert block_rows(1500, 8) == 349
    rng = np.random.default_rng(1)
    h, W, t = rng.standard_normal((3000, 8)), rng.standard_normal((8, 1500)), rng.integers(0, 1500, 3000)
    L, dh, dW = unembed_loss_backward(h, W, t)
    L0, dh0, dW0 = _reference(h, W, t, "ce")
    assert L == pytest.approx(L0, rel=1e-13)
    np.testing.assert_allclose(dW, dW0, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dh, dh0, rtol=1e-12, atol=1e-15)


def test_float32_head_is_within_float32_rounding():
    """float32 logits take float32 exponentials: the loss stays float64-accurate to ~1e-11 and the
    gradients to float32 rounding of their largest entries."""
    rng = np.random.default_rng(2)
    h = rng.standard_normal((512, 32)).astype(np.float32)
    W = (rng.standard_normal((32, 2000)) / 2).astype(np.float32)
    t = rng.integers(0, 2000, 512)
    L, dh, dW = unembed_loss_backward(h, W, t)
    L0, dh0, dW0 = _reference(h, W, t, "ce")
    assert dh.dtype == dW.dtype == np.float32
    assert L == pytest.approx(L0, rel=1e-9)
    assert np.abs(dh - dh0).max() < 1e-5 * np.abs(dh0).max()
    assert np.abs(dW - dW0).max() < 1e-5 * np.abs(dW0).max()


def test_cross_entropy_rows_of_confident_logits_match_float64():
    """Logits 30 apart (p_target = 1 - 9e-12): the float32 kernel's loss equals the float64 one."""
    t = np.arange(64) % 97
    z = np.full((64, 97), -30.0, np.float32)
    z[np.arange(64), t] = 0.0
    d32, d64 = np.empty_like(z), np.empty((64, 97))
    L32 = K.cross_entropy_rows(z, t, 1 / 64, d32) / 64
    L64 = K.cross_entropy_rows(z.astype(np.float64), t, 1 / 64, d64) / 64
    assert L32 == pytest.approx(L64, rel=1e-6) and L64 == pytest.approx(96 * np.exp(-30.0), rel=1e-9)
    np.testing.assert_allclose(d32, d64, rtol=1e-5, atol=0)


def test_bad_arguments_are_refused():
    h, W, t = np.ones((2, 2)), np.ones((2, 3)), np.zeros(2, np.int64)
    with pytest.raises(ValueError, match="loss must be one of"):
        unembed_loss_backward(h, W, t, "hinge")
    for bad in (np.array([0, 3]), np.array([-1, 0]), np.zeros(3, np.int64), np.zeros(2, np.int32)):
        with pytest.raises(ValueError, match=r"targets must be int64 of shape \(M,\) = \(2,\) with classes in \[0, V = 3\)"):
            unembed_loss_backward(h, W, bad)
    with pytest.raises(ValueError, match="M >= 1"):
        unembed_loss_backward(np.ones((0, 2)), W, np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="W_U must be"):
        unembed_loss_backward(h, np.ones((3, 3)), t)
