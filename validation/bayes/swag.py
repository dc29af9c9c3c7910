"""SWAG (Maddox et al., NeurIPS 2019): a Gaussian over the weights from the SGD/AdamW trajectory.

From snapshots theta_1..theta_T (flattened parameter dicts) collected along training:
mean theta_bar = (1/T) sum theta_t, diagonal Sigma_diag = (1/T) sum theta_t^2 - theta_bar^2,
low-rank part D (P x K) whose columns are theta_t - theta_bar_t for the last K snapshots
(theta_bar_t the running mean when theta_t was collected, as in the paper).  Samples:
theta = theta_bar + (1/sqrt 2) Sigma_diag^{1/2} z1 + (1/sqrt(2 (K - 1))) D z2,  z1 ~ N(0, I_P), z2 ~ N(0, I_K),
so Cov = Sigma_diag / 2 + D D^T / (2 (K - 1)).
"""

from __future__ import annotations

from collections import deque

import numpy as np


class SWAG:
    """Collect snapshots with ``collect(params)``; then ``mean``, ``diag_var``, ``deviations`` and
    ``sample(rng)`` (a parameter dict shaped like the collected ones).  rank K >= 2."""

    def __init__(self, rank: int = 20):
        if rank < 2:
            raise ValueError(f"rank must be >= 2, got {rank}")
        self.rank = rank
        self.n = 0
        self._keys = None
        self._mean = None
        self._sq = None
        self._dev = deque(maxlen=rank)

    def _flat(self, params: dict) -> np.ndarray:
        if self._keys is None:
            self._keys = [(k, v.shape, v.dtype) for k, v in params.items()]
        return np.concatenate([np.asarray(params[k], np.float64).ravel() for k, _, _ in self._keys])

    def collect(self, params: dict) -> None:
        """Add one snapshot (a parameter dict with the same keys and shapes as the first)."""
        if self._keys is not None and ([(k, s) for k, s, _ in self._keys]
                                       != [(k, np.shape(v)) for k, v in params.items()]):
            raise ValueError(f"params must have the keys and shapes of the first snapshot "
                             f"{[(k, s) for k, s, _ in self._keys]}, got {[(k, np.shape(v)) for k, v in params.items()]}")
        for k, v in params.items():
            if not np.isfinite(v).all():
                raise ValueError(f"params[{k!r}] has non-finite entries (NaN or inf); SWAG needs finite snapshots")
        x = self._flat(params)
        self.n += 1
        if self._mean is None:
            self._mean, self._sq = x.copy(), x * x
        else:
            self._mean += (x - self._mean) / self.n
            self._sq += (x * x - self._sq) / self.n
        self._dev.append(x - self._mean)

    @property
    def mean(self) -> np.ndarray:
        return self._mean

    @property
    def diag_var(self) -> np.ndarray:
        return np.maximum(self._sq - self._mean**2, 0.0)

    @property
    def deviations(self) -> np.ndarray:
        """D, shape (P, K) (K = number of kept snapshots)."""
        return np.stack(self._dev, axis=1)

    def sample(self, rng: np.random.Generator) -> dict:
        if self.n < 2:
            raise ValueError("collect at least 2 snapshots before sampling")
        D = self.deviations
        K = D.shape[1]
        x = (self.mean + np.sqrt(self.diag_var / 2) * rng.standard_normal(self.mean.size)
             + D @ rng.standard_normal(K) / np.sqrt(2 * (K - 1)))
        out, i = {}, 0
        for k, shape, dtype in self._keys:
            n = int(np.prod(shape))
            out[k] = x[i:i + n].reshape(shape).astype(dtype)
            i += n
        return out
