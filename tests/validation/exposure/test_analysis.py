"""Proxy splits, exposure bins, Wilson intervals and delay estimates on hand-built answers."""

import math

import numpy as np
import pytest

from grokphase.validation.exposure.analysis import (delay_estimate, exposure_bins, proxy_splits,
                                                    threshold_time, wilson_interval)


def test_wilson_known_values():
    lo, hi = wilson_interval(5, 10)
    assert math.isclose(lo, 0.2366, abs_tol=1e-4) and math.isclose(hi, 0.7634, abs_tol=1e-4)
    lo, hi = wilson_interval(0, 10)
    z2 = 1.959963984540054 ** 2
    assert lo == 0 and math.isclose(hi, z2 / (10 + z2))
    lo, hi = wilson_interval(0, 0)
    assert np.isnan(lo) and np.isnan(hi)


def test_proxy_splits_by_hand():
    # 4 pairs, 3 checkpoints; phrase of pair 0 seen from ckpt 0, pair 1 from ckpt 2, pairs 2-3 never
    counts = np.array([[1, 2, 5], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    correct = np.array([[1, 0, 0, 1], [1, 1, 0, 0], [1, 1, 1, 0]], dtype=bool)
    margin = np.arange(12.0).reshape(3, 4)
    ds = proxy_splits(correct, counts, [0, 10, 20], margin=margin)
    dyn, fix = ds.sel(kind="dynamic"), ds.sel(kind="fixed")
    assert dyn.n.sel(split="train").values.tolist() == [1, 1, 2]
    assert dyn.acc.sel(split="val").values.tolist() == [1 / 3, 1 / 3, 1 / 2]
    assert fix.n.sel(split="train").values.tolist() == [2, 2, 2]
    assert fix.acc.sel(split="train").values.tolist() == [0.5, 1.0, 1.0]
    assert fix.margin.sel(split="val").values.tolist() == [2.5, 6.5, 10.5]
    assert ds.tokens.values.tolist() == [0, 10, 20] and ds.acc.attrs["units"] == "1"
    b = exposure_bins(correct, counts, [0, 10, 20])
    assert b.n.sel(checkpoint=2).values.tolist() == [2, 1, 0, 1, 0]          # counts 5, 1, 0, 0
    assert b.acc.sel(checkpoint=2, bin="4-7").item() == 1.0
    with pytest.raises(ValueError, match="counts must be"):
        proxy_splits(correct, counts.T, [0, 10, 20])


def steps(n_pairs, t_on, n_ckpt):
    """correct (n_ckpt, n_pairs): False before checkpoint t_on, True from it on."""
    return np.repeat((np.arange(n_ckpt) >= t_on)[:, None], n_pairs, axis=1)


def test_delay_known_answer():
    times = np.array([0, 1, 2, 4, 8, 16, 32])
    seen = np.array([True] * 20 + [False] * 30)
    correct = np.concatenate([steps(20, 2, 7), steps(30, 5, 7)], axis=1)
    est = delay_estimate(times, [(correct, seen)], theta=0.8, n_boot=50)
    assert (est.t_train, est.t_val, est.delta, est.ratio) == (2, 16, 14, 8)
    assert est.delta_ci == (14, 14) and est.delta_excludes_zero and est.p_val_reached == 1
    assert est.acc_val_at_t_train == 0
    mid = delay_estimate(times, [(correct, seen)], theta="midpoint", n_boot=5)
    assert mid.theta == 0.75
    never = np.concatenate([steps(20, 2, 7), np.zeros((7, 30), bool)], axis=1)
    est = delay_estimate(times, [(correct, seen), (never, seen)], n_boot=200)
    assert est.t_val == math.inf and est.delta == math.inf and 0 < est.p_val_reached < 1   # seeds resampled


def test_delay_interval_covers_the_truth_for_noisy_pairs():
    rng = np.random.default_rng(0)
    times = np.arange(20)
    onset_tr, onset_va = rng.integers(2, 6, 200), rng.integers(8, 14, 200)
    t = np.arange(20)[:, None]
    correct = np.concatenate([t >= onset_tr, t >= onset_va], axis=1)
    seen = np.r_[np.ones(200, bool), np.zeros(200, bool)]
    est = delay_estimate(times, [(correct, seen)], theta=0.8, n_boot=300, seed=1)
    # 80% quantiles of the onsets: 5 (of 2..5) and 12 (of 8..13)
    assert est.delta_ci[0] <= 7 <= est.delta_ci[1] and est.delta_excludes_zero


def test_threshold_time():
    assert threshold_time([1, 2, 3], [0.1, np.nan, 0.9], 0.8) == 3
    assert threshold_time([1, 2, 3], [0.1, 0.2, 0.3], 0.8) == math.inf
