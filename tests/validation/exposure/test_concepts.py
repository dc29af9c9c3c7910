"""Concept-vector measures: known-answer dimensions, exact U-statistics, AUC, probe, baseline."""

import itertools
import math

import numpy as np
import pytest

from grokphase.validation.exposure.concepts import (auc, components_for, concept_geometry, effective_rank,
                                                    logistic_probe, mass_mean_direction, participation_ratio,
                                                    participation_ratio_unbiased)


def test_known_dimensions():
    # +-a e_i for i < k: covariance diag(a^2) on k axes
    k, d = 3, 6
    X = np.vstack([s * 2.0 * np.eye(d)[i] for i in range(k) for s in (1, -1)])
    assert math.isclose(participation_ratio(X), 3) and math.isclose(effective_rank(X), 3)
    assert components_for(X, 0.9) == 3 and components_for(X, 0.6) == 2
    Y = np.vstack([s * np.array([2.0, 1, 0, 0]) * np.eye(4)[i] for i in range(2) for s in (1, -1)])
    # variances 4 and 1: PR = 25 / 17; singular values 2 and 1: p = (2/3, 1/3)
    assert math.isclose(participation_ratio(Y), 25 / 17)
    assert math.isclose(effective_rank(Y), math.exp(-(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))))


def test_unbiased_estimates_equal_brute_force_u_statistics():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 3)) + 2.0
    G = X @ X.T
    n = len(X)
    mean = lambda it: float(np.mean(list(it)))
    A2 = mean(G[i, j] ** 2 for i, j in itertools.permutations(range(n), 2))
    A3 = mean(G[i, j] * G[j, k] for i, j, k in itertools.permutations(range(n), 3))
    A4 = mean(G[i, j] * G[k, l] for i, j, k, l in itertools.permutations(range(n), 4))
    B2 = mean(G[i, i] * G[j, j] for i, j in itertools.permutations(range(n), 2))
    B3 = mean(G[i, i] * G[j, k] for i, j, k in itertools.permutations(range(n), 3))
    assert math.isclose(participation_ratio_unbiased(X), (B2 - 2 * B3 + A4) / (A2 - 2 * A3 + A4), rel_tol=1e-9)


def test_bias_correction_recovers_the_dimension_where_the_naive_pr_does_not():
    rng = np.random.default_rng(1)
    k, d, n = 20, 40, 25
    naive, fixed = [], []
    for _ in range(200):
        X = np.zeros((n, d))
        X[:, :k] = rng.normal(size=(n, k))
        X += 5.0                                   # an unknown mean
        naive.append(participation_ratio(X))
        fixed.append(participation_ratio_unbiased(X))
    assert np.mean(naive) < 0.65 * k               # ~ k n / (k + n) for Gaussian data
    assert abs(np.median(fixed) - k) < 0.2 * k


def test_auc_and_direction():
    assert auc([3, 4], [1, 2]) == 1.0 and auc([1], [1]) == 0.5 and auc([1, 3], [2]) == 0.5
    g, b = np.array([[2.0, 0], [4, 1]]), np.array([[0.0, 0], [0, 1]])
    assert mass_mean_direction(g, b).tolist() == [3.0, 0.0]
    with pytest.raises(ValueError, match="one shape"):
        mass_mean_direction(g, b[:1])


def test_probe_separates_and_reports_convergence():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] + 0.1 * rng.normal(size=200) > 0).astype(float)
    r = logistic_probe(X[:100], y[:100], X[100:], y[100:].astype(bool), l2=1e-2)
    assert r["converged"] and r["acc"] > 0.9 and r["auc"] > 0.95 and abs(r["w"][0]) > 5 * abs(r["w"][1:]).max()


def test_concept_geometry_against_shuffled_baseline():
    rng = np.random.default_rng(3)
    d, n = 16, 60
    direction = np.eye(d)[0] * 3
    base = rng.normal(size=(2 * n, d))
    g, b = base + direction / 2, base - direction / 2
    noise = 0.3 * rng.normal(size=(2 * n, d))
    out = concept_geometry(g[:n] + noise[:n], b[:n], g[n:], b[n:], n_pairs=30, n_repeats=4)
    assert out["observed"]["auc"] > 0.9 and abs(out["shuffled"]["auc"] - 0.5) < 0.2
    assert out["n_pairs"] == 30
    with pytest.raises(ValueError, match="n_pairs"):
        concept_geometry(g[:n], b[:n], g[n:], b[n:], n_pairs=100)
