"""Numerical twins of grokphase.theory.uniformity: lambdified closed forms against direct NumPy
computations, FFTs, and the package's own AdamW."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grokphase.numerics import uniformity as U
from grokphase.validation.optim import AdamW, warmup_cosine
from grokphase.validation.tasks import modular_dataset

PRIMES = [3, 5, 7, 11, 13, 31, 97, 113]


def test_adjacent_weights_match_the_formula():
    for p in (5, 31, 97):
        f = np.arange(1, (p - 1) // 2 + 1)
        np.testing.assert_allclose(U.adjacent_weights(p), 4 * np.sin(np.pi * f / p) ** 2 / p**2, rtol=1e-14)
    with pytest.raises(ValueError, match="p must be an odd prime"):
        U.adjacent_weights(9)


@given(st.sampled_from(PRIMES), st.integers(1, 9), st.integers(0, 2**32 - 1), st.floats(1e-3, 1e3))
def test_parseval_rms_on_random_embeddings(p, D, seed, scale):
    e = np.random.default_rng(seed).standard_normal((p, D)) * scale
    direct = math.sqrt(np.mean(np.sum((np.roll(e, -1, 0) - e) ** 2, axis=1)))
    F = np.fft.fft(e, axis=0)
    pw = (np.abs(F) ** 2).sum(1)
    h = (p - 1) // 2
    merged = pw[1:h + 1] + pw[p - h:][::-1]
    assert U.rms_adjacent_from_spectrum(merged, p) == pytest.approx(direct, rel=1e-12)


def test_clock_embedding_norms_spacing_and_spectrum():
    p, freqs, amps = 31, [2, 7, 11], [1.0, 0.5, 0.25]
    e = U.clock_embedding(p, freqs, amps, phases=[0.1, 2.0, -1.0])
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), U.clock_norm(amps), rtol=1e-13)
    for m in (1, 2, 5):
        d = np.linalg.norm(np.roll(e, -m, 0) - e, axis=1)
        np.testing.assert_allclose(d, U.clock_spacing(p, freqs, amps, m=m), rtol=1e-12)
    pw = (np.abs(np.fft.fft(e, axis=0)) ** 2).sum(1)
    merged = pw[1:16] + pw[16:][::-1]
    expect = np.zeros(15)
    expect[np.array(freqs) - 1] = p**2 * np.array(amps) ** 2
    np.testing.assert_allclose(merged, expect, atol=1e-9)
    with pytest.raises(ValueError, match="freqs must be distinct"):
        U.clock_embedding(p, [2, 2])


def test_quadratic_network_columns_are_uniform_and_norm_closed_form():
    p, freqs, amps, m = 23, [1, 5], [1.0, 0.7], 3
    w = U.quadratic_fourier_network(p, freqs, amps, m)
    assert w["U"].shape == (p, 18) and w["W"].shape == (18, p)
    norms = np.linalg.norm(w["U"], axis=1)
    np.testing.assert_allclose(norms, math.sqrt(sum(m**2 * a**2 / 2 for a in amps)), rtol=1e-12)
    d = np.linalg.norm(np.roll(w["U"], -1, 0) - w["U"], axis=1)
    np.testing.assert_allclose(d, U.clock_spacing(p, freqs, m * np.array(amps) / math.sqrt(2)), rtol=1e-12)
    total = sum(float((v**2).sum()) for v in w.values())
    assert total == pytest.approx(U.quadratic_param_norm2(p, amps, m), rel=1e-12)
    # the 2 x 2 grid is not uniform (the identity needs m >= 3)
    w2 = U.quadratic_fourier_network(p, freqs, amps, 2)
    assert np.ptp(np.linalg.norm(w2["U"], axis=1)) > 1e-3


@pytest.mark.parametrize("warmup", [0, 1, 10])
def test_untrained_row_factor_matches_adamw(warmup):
    lr, wd, steps = 1e-2, 1.5, 60
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 4))}
    w0 = np.linalg.norm(params["w"])
    opt = AdamW(params, lr=lr, betas=(0.9, 0.98), weight_decay=wd)
    norms = [1.0]
    for s in range(steps):
        mult = warmup_cosine(s, warmup=warmup, total=steps) if warmup else 1.0
        opt.step(params, {"w": np.zeros((3, 4))}, lr=lr * mult)
        norms.append(np.linalg.norm(params["w"]) / w0)
    pred = U.untrained_row_factor(np.arange(steps + 1), lr, wd, warmup)
    np.testing.assert_allclose(norms, pred, rtol=1e-13)


def test_untrained_row_factor_long_run_and_errors():
    n = np.array([0, 10, 1000, 30000])
    direct = [np.prod([1 - 1e-3 * min(s / 10, 1) for s in range(k)]) for k in n]
    np.testing.assert_allclose(U.untrained_row_factor(n, 1e-3, 1.0, 10), direct, rtol=1e-11)
    with pytest.raises(ValueError, match="lr \\* weight_decay < 1"):
        U.untrained_row_factor(3, 1.0, 2.0)
    with pytest.raises(ValueError, match="n must be non-negative"):
        U.untrained_row_factor(-1, 1e-3, 1.0)


@pytest.mark.parametrize("k", [40, 50, 60, 67])
def test_strip_ceiling_closed_form_equals_the_dataset_count(k):
    ds = modular_dataset(97, "add", 0.3, split="strip", k=k, offset=60)
    assert U.strip_ceiling(97, k, 60, int(0.3 * 97 * 97)) == pytest.approx(ds.ceiling(), abs=1e-12)
    ds0 = modular_dataset(97, "add", 0.3, split="strip", k=k, offset=0)
    assert U.strip_ceiling(97, k, 0, int(0.3 * 97 * 97)) == ds0.ceiling() == 1.0
