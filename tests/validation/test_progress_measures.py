"""The progress-measure family on embeddings with known answers (clock, k-frequency, random) and
Nanda et al.'s excluded/restricted losses on the quadratic network's analytic solution."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grokphase.numerics.uniformity import clock_embedding, quadratic_fourier_network
from grokphase.theory import uniformity as T
from grokphase.validation.fourier_ablation import (all_pair_logits, excluded_logits, excluded_loss,
                                                   restricted_logits, restricted_loss, sum_frequency_basis)
from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.nn.loss import cross_entropy
from grokphase.validation.nn.quadratic import QuadraticConfig, QuadraticNet
from grokphase.validation.progress import (med, progress_measures, snapshot_measures, uniformity_on)
from grokphase.validation.tasks import modular_dataset


@pytest.mark.parametrize("offset", [0, 60])
def test_clock_embedding_zero_spread_and_med_equals_rms(offset):
    p = 97
    ids = np.arange(p + offset + 1)          # every id, the "=" row too, is a clock position t mod p
    E = clock_embedding(p, [3, 17, 40], [1.0, 0.6, 0.3], [0.2, 1.1, -0.7], ids=ids)
    pm = progress_measures(E, p, offset)
    assert pm.spacing_spread < 1e-12 and pm.token_norm_spread < 1e-12
    assert pm.med == pytest.approx(pm.rms_adjacent, rel=1e-12)
    assert pm.mean_adjacent == pytest.approx(pm.rms_adjacent, rel=1e-12)
    assert pm.rms_adjacent_from_spectrum == pytest.approx(pm.rms_adjacent, rel=1e-12)
    assert sorted(pm.key_frequencies[:3]) == [3, 17, 40]


def test_k_frequency_embedding_spectrum_and_sparsity():
    p, freqs, amps = 31, [2, 9, 13], [1.0, 0.5, 2.0]
    pm = progress_measures(clock_embedding(p, freqs, amps), p, k=3)
    expect = np.zeros(15)
    expect[np.array(freqs) - 1] = p**2 * np.array(amps) ** 2
    np.testing.assert_allclose(pm.fourier_power, expect, atol=1e-9)
    assert list(pm.key_frequencies) == [13, 2, 9]   # by power: A = 2, 1, 0.5
    assert pm.fourier_sparsity == pytest.approx(1.0, abs=1e-12)
    assert not pm.fourier_power.flags.writeable


@given(st.sampled_from([5, 7, 13, 31, 97]), st.integers(1, 16), st.integers(0, 2**32 - 1))
def test_parseval_and_boundary_identities_on_random_embeddings(p, D, seed):
    E = np.random.default_rng(seed).standard_normal((p + 1, D))
    pm = progress_measures(E, p)
    assert pm.rms_adjacent_from_spectrum == pytest.approx(pm.rms_adjacent, rel=1e-12)
    # mean = rms / sqrt(1 + spread^2), and the paper's MED from the cyclic mean (theory/uniformity)
    assert pm.mean_adjacent == pytest.approx(pm.rms_adjacent / math.sqrt(1 + pm.spacing_spread**2), rel=1e-12)
    d = pm.adjacent_distances
    assert pm.med == pytest.approx((p * pm.mean_adjacent - d[p - 2] - d[p - 1]) / (p - 2), rel=1e-10)
    expr, (mu, da, db) = T.med_boundary_form()
    assert float(expr.subs({T.symbols()["p"]: p, mu: pm.mean_adjacent, da: d[p - 2], db: d[p - 1]})) == \
        pytest.approx(pm.med, rel=1e-10)


def test_random_embedding_is_not_uniform_and_not_sparse():
    p = 97
    pm = progress_measures(np.random.default_rng(1).standard_normal((p, 128)), p)
    assert 0.05 < pm.spacing_spread < 0.2            # chi distribution with 128 dof: sd/mean ~ 1/sqrt(256)
    assert pm.fourier_sparsity == pytest.approx(5 / 48, rel=0.35)
    assert pm.med < pm.rms_adjacent


def test_med_unchanged_and_input_errors():
    p = 11
    E = np.random.default_rng(2).standard_normal((p + 4, 3))
    first = np.linalg.norm(np.diff(E[:p - 1], axis=0), axis=1).sum() / (p - 2)
    second = np.linalg.norm(np.diff(E[3:3 + p - 1], axis=0), axis=1).sum() / (p - 2)
    assert med(E, p, 3) == pytest.approx(0.5 * (first + second), rel=1e-14)
    with pytest.raises(ValueError, match="needs p \\+ offset"):
        progress_measures(E, p, offset=5)
    with pytest.raises(ValueError, match="p must be an odd integer"):
        progress_measures(E, 10)


def test_uniformity_on_a_subset():
    E = np.zeros((6, 2))
    E[[1, 2, 4]] = [[1, 0], [0, 1], [2, 0]]
    u = uniformity_on(E, [1, 2, 4])
    assert u["spacing_mean"] == pytest.approx(math.sqrt(2)) and u["spacing_spread"] == 0.0
    assert u["norm_mean"] == pytest.approx(4 / 3)
    with pytest.raises(ValueError, match="ids"):
        uniformity_on(E, [7])


def test_sum_frequency_basis_is_orthonormal_and_orthogonal_to_constants():
    B = sum_frequency_basis(13, [1, 3, 6])
    np.testing.assert_allclose(B.T @ B, np.eye(6), atol=1e-12)
    np.testing.assert_allclose(B.sum(axis=0), 0, atol=1e-12)


def test_nanda_losses_on_the_analytic_quadratic_network():
    p, freqs = 13, [2, 5]
    w = quadratic_fourier_network(p, freqs, [0.9, 0.9])
    net = QuadraticNet(QuadraticConfig(p=p, width=w["U"].shape[1]),
                       params={"embed": w["U"], "embed_b": w["V"], "unembed": w["W"]})
    ds = modular_dataset(p, "add", 0.4)
    z = all_pair_logits(net, ds)
    np.testing.assert_allclose(restricted_logits(z, p, freqs), z, atol=1e-12)
    np.testing.assert_allclose(excluded_logits(z, p, freqs), 0, atol=1e-12)
    assert restricted_loss(net, ds, freqs) == pytest.approx(cross_entropy(z, ds.labels)[0], rel=1e-10)
    assert excluded_loss(net, ds, freqs) == pytest.approx(math.log(p), rel=1e-12)
    # the wrong key frequencies leave the circuit in the excluded logits
    assert excluded_loss(net, ds, [1, 3]) < 0.5 * math.log(p)


def test_restricted_plus_excluded_is_the_logits_plus_the_mean(rng):
    z = rng.standard_normal((49, 4))
    np.testing.assert_allclose(restricted_logits(z, 7, [1, 2]) + excluded_logits(z, 7, [1, 2]),
                               z + z.mean(0, keepdims=True), atol=1e-12)


def test_snapshot_measures_on_a_transformer():
    ds = modular_dataset(11, "add", 0.5, offset=3)
    model = Transformer(TransformerConfig(vocab_size=ds.vocab_size, d_model=8, n_heads=2, d_mlp=16, n_out=11))
    row = snapshot_measures(model, ds, nanda=True, k=2)
    assert row["med"] == pytest.approx(med(model.params["embed"], 11, 3), rel=1e-12)
    assert len(row["fourier_power"]) == 5 and len(row["key_frequencies"]) == 2
    assert row["excluded_loss"] > 0 and row["restricted_loss"] > 0 and row["weight_norm"] > 0
