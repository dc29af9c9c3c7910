"""Chain diagnostics: split R-hat (Gelman et al., BDA3 §11.4) and the effective sample size from
the initial-positive-sequence autocorrelation sum (Geyer 1992), for draws of shape (chains, draws);
:func:`estimate` combines them into a posterior mean with its Monte Carlo standard error.

These are the package's reference diagnostics.  ArviZ's ``rhat(method="split")`` is the same
split R-hat; ArviZ's ESS differs in three documented ways (it splits chains, includes the
between-chain variance in the autocorrelation and applies Geyer's monotone sequence), so the two
ESS agree only to O(tau / n) on well-mixed chains (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grokphase import _checks as chk


def _draws(x, min_draws: int) -> np.ndarray:
    x = chk.array("x", x, ndim=2)
    if x.shape[1] < min_draws:
        raise ValueError(f"x must hold at least {min_draws} draws per chain (shape (chains, draws)); got shape {x.shape}")
    return x


def split_rhat(x: np.ndarray) -> float:
    """Split R-hat (BDA3 §11.4): each chain halved, then the classic ratio of pooled to within-chain
    variance.

    Parameters
    ----------
    x : array-like, shape (m chains, n draws)
        Finite draws, n >= 4.

    Returns
    -------
    float
        R-hat; for chains that do not move: 1.0 if all halves sit at one value, inf if they sit apart.
    """
    x = _draws(x, 4)
    m, n = x.shape
    h = n // 2
    s = np.concatenate([x[:, :h], x[:, h:2 * h]], axis=0)
    means, var = s.mean(axis=1), s.var(axis=1, ddof=1)
    W, B = var.mean(), h * means.var(ddof=1)
    if W == 0:
        return 1.0 if B == 0 else math.inf
    return float(np.sqrt(((h - 1) / h * W + B / h) / W))


def effective_sample_size(x: np.ndarray) -> float:
    """Effective sample size from chain-averaged autocorrelations, summed in pairs until a pair sum
    turns negative (Geyer's initial positive sequence).

    Parameters
    ----------
    x : array-like, shape (m chains, n draws)
        Finite draws, n >= 2.

    Returns
    -------
    float
        ESS over all chains (m n for draws without variance).
    """
    x = _draws(x, 2)
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


@dataclass(frozen=True)
class Estimate:
    """A posterior mean from MCMC draws.

    mean: over all draws; se: Monte Carlo standard error std / sqrt(ESS); rhat: split R-hat; ess:
    effective sample size (over all chains)."""

    mean: float
    se: float
    rhat: float
    ess: float


def estimate(x: np.ndarray) -> Estimate:
    """:class:`Estimate` (mean, Monte Carlo standard error, split R-hat, ESS) of MCMC draws.

    Parameters
    ----------
    x : array-like, shape (m chains, n draws)
        Finite draws, n >= 4.

    Returns
    -------
    Estimate
    """
    x = np.asarray(x, dtype=np.float64)
    ess = effective_sample_size(x)
    return Estimate(mean=float(x.mean()), se=float(x.std(ddof=1) / math.sqrt(ess)), rhat=split_rhat(x), ess=ess)
