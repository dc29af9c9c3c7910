"""Head mass on built attention maps; concentration measures on known distributions; ablation."""

import math

import numpy as np
import pytest

from grokphase.validation.exposure.heads import (ablation_effect, concentration, gini, head_mass, heads_for,
                                                 normalized_entropy, random_key_baseline, top_k_share)


def built_maps(B=6, H=4, T=8, L=2, seed=0):
    """Causal uniform attention, except layer 1 head 2: every query attends 3 back (or to 0)."""
    rng = np.random.default_rng(seed)
    tri = np.tril(np.ones((T, T)))
    base = tri / tri.sum(axis=1, keepdims=True)
    attn = [np.broadcast_to(base, (B, H, T, T)).copy() for _ in range(L)]
    sharp = np.zeros((T, T))
    for i in range(T):
        sharp[i, max(i - 3, 0)] = 1.0
    attn[1][:, 2] = sharp
    q = rng.integers(3, T, B)
    return attn, q, q - 3


def test_head_mass_and_baseline_on_built_maps():
    attn, q, k = built_maps()
    m = head_mass(attn, q, k)
    assert m.shape == (2, 4) and m[1, 2] == 1.0
    assert np.allclose(m[0], np.mean(1.0 / (q + 1)))
    base = random_key_baseline(attn, q, k, n_draws=16)
    assert base[1, 2] == 1.0                         # a fixed-offset head also wins at random places
    # a head that attends to the context token only at the critical position loses its baseline
    attn2 = [a.copy() for a in attn]
    attn2[0][:, 1] = np.tril(np.ones((8, 8))) / np.tril(np.ones((8, 8))).sum(1, keepdims=True)
    attn2[0][np.arange(6), 1, q, :] = 0
    attn2[0][np.arange(6), 1, q, k] = 1
    assert head_mass(attn2, q, k)[0, 1] == 1 and random_key_baseline(attn2, q, k, n_draws=64)[0, 1] < 0.5
    with pytest.raises(ValueError, match="key_pos <= query_pos"):
        head_mass(attn, k, q)


def test_concentration_known_values():
    uni = np.ones((4, 4))
    one = np.zeros((4, 4))
    one[2, 1] = 1
    assert math.isclose(gini(uni), 0) and math.isclose(gini(one), 15 / 16)
    assert math.isclose(normalized_entropy(uni), 1) and normalized_entropy(one) == 0
    assert heads_for(uni, 0.8) == 13 and heads_for(one, 0.8) == 1
    two = np.zeros(16)
    two[[3, 7]] = [3, 1]
    assert top_k_share(two, 1) == 0.75 and heads_for(two, 0.8) == 2
    c = concentration(uni, k=2)
    assert c["top_k_share"] == c["uniform_top_k_share"] == 0.125


def test_ablation_effect_with_a_known_evaluator():
    mass = np.zeros((2, 4))
    mass[1, 3], mass[0, 0] = 0.9, 0.5
    evaluate = lambda mask: 1.0 if mask is None else 1.0 - 0.4 * mask[1, 3] - 0.1 * mask[0, 0]
    r = ablation_effect(evaluate, mass, k=2, n_random=50)
    assert r["top_heads"] == [(0, 0), (1, 3)] and math.isclose(r["drop_top"], 0.5)
    assert r["drop_random_mean"] < r["drop_top"]
