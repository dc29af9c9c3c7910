"""Chain diagnostics: split R-hat (Gelman et al., BDA3 §11.4) and the effective sample size from
the initial-positive-sequence autocorrelation sum (Geyer 1992), for draws of shape (chains, draws)."""

from __future__ import annotations

import numpy as np


def split_rhat(x: np.ndarray) -> float:
    """Split R-hat of draws x (m chains, n draws): each chain halved, then the classic ratio."""
    m, n = x.shape
    h = n // 2
    s = np.concatenate([x[:, :h], x[:, h:2 * h]], axis=0)
    means, var = s.mean(axis=1), s.var(axis=1, ddof=1)
    W, B = var.mean(), h * means.var(ddof=1)
    if W == 0:
        return float("nan")
    return float(np.sqrt(((h - 1) / h * W + B / h) / W))


def effective_sample_size(x: np.ndarray) -> float:
    """ESS of draws x (m chains, n draws), summing chain-averaged autocorrelations in pairs until a
    pair sum turns negative."""
    m, n = x.shape
    xc = x - x.mean(axis=1, keepdims=True)
    f = np.fft.rfft(xc, n=2 * n, axis=1)
    acov = np.fft.irfft(f * np.conj(f), axis=1)[:, :n] / n
    var = acov[:, 0].mean()
    if var == 0:
        return float(m * n)
    rho = acov.mean(axis=0) / var
    tau, t = 1.0, 1
    while t + 1 < n:
        pair = rho[t] + rho[t + 1]
        if pair < 0:
            break
        tau += 2 * pair
        t += 2
    return float(m * n / tau)
