"""Exposure analyses of minimal-pair accuracy over training (``docs/exposure_grokking.md`` §5).

Inputs are plain arrays: ``correct`` (n_checkpoints, n_pairs) bool, whether each pair was scored
correctly at each checkpoint; ``counts`` (n_pairs, n_checkpoints) int, occurrences of each pair's
good critical phrase in the tokens seen by each checkpoint (``ExposureIndex.counts``); ``tokens``
(n_checkpoints,) the tokens seen at each checkpoint.

* Proxy splits: at checkpoint t a pair is *proxy-train* if its critical phrase has occurred
  (counts[:, t] > 0, the *dynamic* split) or will have occurred by the end of training
  (counts[:, -1] > 0, the *fixed* split), else *proxy-val*.
* Exposure bins: the count at t in 0, 1, 2-3, 4-7, 8+.
* Accuracy with a Wilson score interval (95%).
* Delay: t_split(theta) = first checkpoint at which the split's accuracy >= theta; Delta = t_val -
  t_train and t_val / t_train with a bootstrap over pairs (and over seeds, when several runs are
  given: seeds resampled, then pairs within each).  theta = "midpoint" means (chance + plateau) / 2
  with plateau = the proxy-train accuracy averaged over the last 3 checkpoints.  A split that never
  reaches theta has time +inf (``reached`` False), never a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["EXPOSURE_BINS", "wilson_interval", "proxy_splits", "exposure_bins", "exposure_trend",
           "threshold_time", "DelayEstimate", "delay_estimate"]

EXPOSURE_BINS = (("0", 0, 0), ("1", 1, 1), ("2-3", 2, 3), ("4-7", 4, 7), ("8+", 8, np.inf))


def wilson_interval(k, n, z: float = 1.959963984540054):
    """Wilson score interval (lo, hi) for k successes in n trials (arrays broadcast); NaN where n == 0."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1 + z * z / n
        mid = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    lo, hi = np.where(n > 0, mid - half, np.nan), np.where(n > 0, mid + half, np.nan)
    return np.clip(lo, 0, 1), np.clip(hi, 0, 1)


def _check(correct, counts, tokens):
    correct = np.asarray(correct, dtype=bool)
    counts = np.asarray(counts)
    if correct.ndim != 2:
        raise ValueError(f"correct must be (n_checkpoints, n_pairs); got shape {correct.shape}")
    if counts.shape != correct.shape[::-1]:
        raise ValueError(f"counts must be (n_pairs, n_checkpoints) = {correct.shape[::-1]}; got {counts.shape}")
    if counts.dtype.kind not in "iu" or (counts.size and counts.min() < 0):
        raise ValueError("counts must be non-negative integers")
    tokens = np.asarray(tokens)
    if tokens.shape != (correct.shape[0],):
        raise ValueError(f"tokens must have one entry per checkpoint ({correct.shape[0]}); got {tokens.shape}")
    return correct, counts, tokens


def _split_stats(correct, member, margin):
    """n, k, mean margin over pairs where member (n_ckpt, n_pairs) is True."""
    n = member.sum(axis=1)
    k = (correct & member).sum(axis=1)
    if margin is None:
        return n, k, None
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(n > 0, (np.where(member, margin, 0.0)).sum(axis=1) / n, np.nan)
    return n, k, m


def proxy_splits(correct, counts, tokens, *, margin=None):
    """Accuracy per checkpoint, kind (dynamic, fixed) and split (train, val).

    Parameters
    ----------
    correct : bool array (n_checkpoints, n_pairs)
    counts : int array (n_pairs, n_checkpoints)
    tokens : int array (n_checkpoints,)
    margin : float array (n_checkpoints, n_pairs), optional
        Critical-token margins; their mean per split is added.

    Returns
    -------
    xarray.Dataset
        dims (checkpoint, kind, split); variables n, acc, acc_lo, acc_hi (Wilson 95%), margin;
        coordinate tokens (checkpoint).
    """
    import xarray as xr

    correct, counts, tokens = _check(correct, counts, tokens)
    seen = {"dynamic": counts.T > 0, "fixed": np.broadcast_to(counts[:, -1] > 0, correct.shape)}
    n = np.zeros((len(tokens), 2, 2), dtype=np.int64)
    k = np.zeros_like(n)
    mg = np.full(n.shape, np.nan)
    for i, kind in enumerate(("dynamic", "fixed")):
        for j, member in enumerate((seen[kind], ~seen[kind])):
            n[:, i, j], k[:, i, j], m = _split_stats(correct, member, margin)
            if m is not None:
                mg[:, i, j] = m
    lo, hi = wilson_interval(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    dims = ("checkpoint", "kind", "split")
    ds = xr.Dataset({"n": (dims, n, {"long_name": "pairs in the split", "units": "1"}),
                     "acc": (dims, acc, {"long_name": "minimal-pair accuracy", "units": "1"}),
                     "acc_lo": (dims, lo, {"long_name": "Wilson 95% lower bound", "units": "1"}),
                     "acc_hi": (dims, hi, {"long_name": "Wilson 95% upper bound", "units": "1"})},
                    coords={"checkpoint": np.arange(len(tokens)), "kind": ["dynamic", "fixed"],
                            "split": ["train", "val"],
                            "tokens": ("checkpoint", tokens, {"long_name": "tokens seen", "units": "token"})})
    if margin is not None:
        ds["margin"] = (dims, mg, {"long_name": "mean critical-token log-prob margin", "units": "nat"})
    return ds


def exposure_bins(correct, counts, tokens, bins=EXPOSURE_BINS):
    """Accuracy per checkpoint and exposure-count bin (count of the pair's phrase at that checkpoint).

    Returns an xarray.Dataset with dims (checkpoint, bin): n, acc, acc_lo, acc_hi."""
    import xarray as xr

    correct, counts, tokens = _check(correct, counts, tokens)
    c = counts.T
    n = np.zeros((len(tokens), len(bins)), dtype=np.int64)
    k = np.zeros_like(n)
    for j, (_, lo_, hi_) in enumerate(bins):
        member = (c >= lo_) & (c <= hi_)
        n[:, j], k[:, j], _ = _split_stats(correct, member, None)
    lo, hi = wilson_interval(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    dims = ("checkpoint", "bin")
    return xr.Dataset({"n": (dims, n, {"long_name": "pairs in the bin", "units": "1"}),
                       "acc": (dims, acc, {"long_name": "minimal-pair accuracy", "units": "1"}),
                       "acc_lo": (dims, lo, {"long_name": "Wilson 95% lower bound", "units": "1"}),
                       "acc_hi": (dims, hi, {"long_name": "Wilson 95% upper bound", "units": "1"})},
                      coords={"checkpoint": np.arange(len(tokens)), "bin": [b[0] for b in bins],
                              "tokens": ("checkpoint", tokens, {"long_name": "tokens seen", "units": "token"})})


def exposure_trend(correct, counts, *, n_perm: int = 2000, seed: int = 0) -> dict:
    """Does accuracy rise with exposure count at one checkpoint?

    Spearman's rank correlation rho between each pair's count and its correctness (ties get mid
    ranks), with a one-sided permutation p-value (the fraction of label permutations, plus the
    observed one, with rho >= the observed rho).

    Parameters
    ----------
    correct : bool array (n_pairs,)
    counts : int array (n_pairs,)
    n_perm : int
        Permutations (>= 1).

    Returns
    -------
    dict
        ``{"rho", "p_value", "n"}``; rho is NaN (and p_value 1) when either variable is constant.

    >>> exposure_trend([False, False, True, True], [0, 1, 5, 9], n_perm=200)["rho"] > 0.8
    True
    """
    from scipy.stats import rankdata

    correct = np.asarray(correct, dtype=bool)
    counts = np.asarray(counts)
    if correct.ndim != 1 or counts.shape != correct.shape:
        raise ValueError(f"correct and counts must be 1-d of one length; got {correct.shape} and {counts.shape}")
    if not (isinstance(n_perm, int) and n_perm >= 1):
        raise ValueError(f"n_perm must be an integer >= 1; got {n_perm!r}")
    rc, ry = rankdata(counts), rankdata(correct)
    rc, ry = rc - rc.mean(), ry - ry.mean()
    den = np.sqrt((rc ** 2).sum() * (ry ** 2).sum())
    if den == 0:
        return {"rho": float("nan"), "p_value": 1.0, "n": int(correct.size)}
    rho = float(rc @ ry / den)
    rng = np.random.default_rng(seed)
    perm = np.array([rc @ rng.permutation(ry) for _ in range(n_perm)]) / den
    return {"rho": rho, "p_value": float((1 + np.sum(perm >= rho - 1e-12)) / (n_perm + 1)), "n": int(correct.size)}


def threshold_time(times, acc, theta: float) -> float:
    """First time at which acc >= theta (acc NaN counts as not reached); +inf if never."""
    acc = np.asarray(acc, dtype=float)
    hit = np.flatnonzero(np.nan_to_num(acc, nan=-np.inf) >= theta)
    return float(np.asarray(times, dtype=float)[hit[0]]) if hit.size else float("inf")


@dataclass(frozen=True)
class DelayEstimate:
    """Delay between the proxy-train and proxy-val splits reaching ``theta``.

    t_train, t_val, delta (= t_val - t_train), ratio (= t_val / t_train): point estimates (+inf when
    a split never reaches theta); *_ci: (2.5%, 97.5%) bootstrap quantiles (actual resample values,
    so +inf can appear); p_val_reached: fraction of resamples where proxy-val reached theta;
    acc_val_at_t_train: proxy-val accuracy at t_train (NaN if t_train is inf); n_boot."""

    theta: float
    t_train: float
    t_val: float
    delta: float
    ratio: float
    t_train_ci: tuple[float, float]
    t_val_ci: tuple[float, float]
    delta_ci: tuple[float, float]
    ratio_ci: tuple[float, float]
    p_val_reached: float
    acc_val_at_t_train: float
    n_boot: int

    @property
    def delta_excludes_zero(self) -> bool:
        """The bootstrap interval of Delta lies above 0 (or below)."""
        return self.delta_ci[0] > 0 or self.delta_ci[1] < 0


def _times(times, correct, seen, theta):
    """(t_train, t_val, acc_val at t_train, theta used) for pooled arrays correct/seen (n_ckpt, n)."""
    n_tr = seen.sum(axis=1)
    n_va = (~seen).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_tr = np.where(n_tr > 0, (correct & seen).sum(axis=1) / n_tr, np.nan)
        acc_va = np.where(n_va > 0, (correct & ~seen).sum(axis=1) / n_va, np.nan)
    if theta == "midpoint":
        tail = acc_tr[-3:]
        plateau = np.nanmean(tail) if np.isfinite(tail).any() else 0.5
        th = 0.5 + (plateau - 0.5) / 2
    else:
        th = float(theta)
    t_tr, t_va = threshold_time(times, acc_tr, th), threshold_time(times, acc_va, th)
    at = acc_va[np.flatnonzero(np.asarray(times, float) == t_tr)[0]] if np.isfinite(t_tr) else np.nan
    return t_tr, t_va, float(at), th


def delay_estimate(times, runs: Sequence[tuple], *, theta: float | str = 0.8, n_boot: int = 1000,
                   seed: int = 0) -> DelayEstimate:
    """Delay of proxy-val behind proxy-train, with a bootstrap over seeds and pairs.

    Parameters
    ----------
    times : array (n_checkpoints,)
        Checkpoint times (tokens or steps), shared by the runs.
    runs : sequence of (correct, seen)
        One per seed: correct (n_checkpoints, n_pairs) bool; seen (n_checkpoints, n_pairs) bool (the
        dynamic split) or (n_pairs,) (the fixed split).
    theta : float in (0, 1) or "midpoint"
    n_boot : int
        Bootstrap resamples (seeds with replacement, then pairs with replacement within each).
    """
    if not runs:
        raise ValueError("runs must hold at least one (correct, seen) pair")
    if theta != "midpoint" and not (isinstance(theta, (int, float)) and 0 < theta < 1):
        raise ValueError(f"theta must be in (0, 1) or 'midpoint'; got {theta!r}")
    if not (isinstance(n_boot, int) and n_boot >= 1):
        raise ValueError(f"n_boot must be an integer >= 1; got {n_boot!r}")
    times = np.asarray(times, dtype=float)
    data = []
    for i, (correct, seen) in enumerate(runs):
        correct = np.asarray(correct, dtype=bool)
        seen = np.broadcast_to(np.asarray(seen, dtype=bool), correct.shape)
        if correct.ndim != 2 or correct.shape[0] != times.size:
            raise ValueError(f"runs[{i}]: correct must be (n_checkpoints = {times.size}, n_pairs); got {correct.shape}")
        data.append((correct, seen))
    cat = lambda parts: np.concatenate(parts, axis=1)
    t_tr, t_va, at, th = _times(times, cat([c for c, _ in data]), cat([s for _, s in data]), theta)
    rng = np.random.default_rng(seed)
    boot = np.empty((n_boot, 2))
    for b in range(n_boot):
        cs, ss = [], []
        for r in rng.integers(0, len(data), len(data)):
            c, s = data[r]
            j = rng.integers(0, c.shape[1], c.shape[1])
            cs.append(c[:, j])
            ss.append(s[:, j])
        boot[b] = _times(times, cat(cs), cat(ss), theta)[:2]

    def ci(x):
        return tuple(float(v) for v in np.quantile(x, [0.025, 0.975], method="inverted_cdf"))

    d_boot, r_boot = _delta_ratio(boot[:, 0], boot[:, 1])
    delta, ratio = _delta_ratio(np.array([t_tr]), np.array([t_va]))
    return DelayEstimate(theta=th, t_train=t_tr, t_val=t_va, delta=float(delta[0]), ratio=float(ratio[0]),
                         t_train_ci=ci(boot[:, 0]), t_val_ci=ci(boot[:, 1]), delta_ci=ci(d_boot),
                         ratio_ci=ci(r_boot), p_val_reached=float(np.isfinite(boot[:, 1]).mean()),
                         acc_val_at_t_train=at, n_boot=n_boot)


def _delta_ratio(t_tr, t_va):
    """Delta and ratio with the conventions: a split never reached (inf) makes both +inf; the ratio
    is 1 when both times are 0 and +inf when only t_train is."""
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.where(np.isfinite(t_tr) & np.isfinite(t_va), t_va - t_tr, np.inf)
        ratio = np.where(t_tr > 0, t_va / t_tr, np.where(t_va == t_tr, 1.0, np.inf))
    return delta, np.where(np.isfinite(t_tr), ratio, np.inf)
