"""SWAG (Maddox et al., NeurIPS 2019): a Gaussian over the weights from the SGD/AdamW trajectory.

From snapshots theta_1..theta_T (flattened parameter dicts) collected along training:
mean theta_bar = (1/T) sum theta_t, diagonal Sigma_diag = (1/T) sum theta_t^2 - theta_bar^2,
low-rank part D (P x K) whose columns are theta_t - theta_bar_t for the last K snapshots
(theta_bar_t the running mean when theta_t was collected, as in the paper).  Samples:
theta = theta_bar + (1/sqrt 2) Sigma_diag^{1/2} z1 + (1/sqrt(2 (K - 1))) D z2,  z1 ~ N(0, I_P), z2 ~ N(0, I_K),
so Cov = Sigma_diag / 2 + D D^T / (2 (K - 1)).  SWAG-diagonal (``diag_only=True``): theta_bar +
Sigma_diag^{1/2} z1, Cov = Sigma_diag.

Where the snapshots come from is the caller's choice: the moving window of logged snapshots of
``uncertainty_study``, or the paper's constant-learning-rate phase started from one checkpoint
(``experiments.checkpoint_swag``), whose iterates every c steps are collected here.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from grokphase import _checks as chk


class SWAG:
    """Collect snapshots with ``collect(params)``; then ``mean``, ``diag_var``, ``deviations`` and
    ``sample(rng)`` (a parameter dict shaped like the collected ones).  rank K >= 2."""

    def __init__(self, rank: int = 20):
        self.rank = rank = chk.integer("rank", rank, 2)
        self.n = 0
        self._keys = None
        self._mean = None
        self._sq = None
        self._dev = deque(maxlen=rank)

    def _flat(self, params: dict) -> np.ndarray:
        if not isinstance(params, dict) or not params:
            raise ValueError(f"params must be a non-empty dict of arrays; got {type(params).__name__}")
        if self._keys is None:
            self._keys = [(k, np.shape(v), np.asarray(v).dtype) for k, v in params.items()]
        if set(params) != {k for k, _, _ in self._keys}:
            raise ValueError(f"params must have the keys and shapes of the first snapshot {sorted(k for k, _, _ in self._keys)}; "
                             f"got {sorted(params)}")
        for k, shape, _ in self._keys:
            if np.shape(params[k]) != shape:
                raise ValueError(f"params[{k!r}] must have the keys and shapes of the first snapshot ({shape}); "
                             f"got {np.shape(params[k])}")
        chk.finite_params("params", params)
        return np.concatenate([np.asarray(params[k], np.float64).ravel() for k, _, _ in self._keys])

    def collect(self, params: dict) -> None:
        """Add one snapshot (same keys and shapes every time, finite)."""
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

    @classmethod
    def from_snapshots(cls, snapshots, rank: int = 20) -> "SWAG":
        """A SWAG fitted on an iterable of parameter dicts (collected in order)."""
        sw = cls(rank)
        for params in snapshots:
            sw.collect(params)
        return sw

    def covariance(self, diag_only: bool = False) -> np.ndarray:
        """The dense (P, P) covariance of :meth:`sample` (module docstring; for tests and small models)."""
        self._need_two()
        if diag_only:
            return np.diag(self.diag_var)
        D = self.deviations
        return np.diag(self.diag_var / 2) + D @ D.T / (2 * (D.shape[1] - 1))

    def _need_two(self) -> None:
        if self.n < 2:
            raise ValueError(f"collect at least 2 snapshots before sampling; got {self.n}")

    def sample(self, rng: np.random.Generator, diag_only: bool = False) -> dict:
        """One parameter dict drawn from the SWAG Gaussian (diagonal + low rank, or the diagonal
        alone with ``diag_only``)."""
        self._need_two()
        if diag_only:
            x = self.mean + np.sqrt(self.diag_var) * rng.standard_normal(self.mean.size)
        else:
            D = self.deviations
            K = D.shape[1]
            x = (self.mean + np.sqrt(self.diag_var / 2) * rng.standard_normal(self.mean.size)
                 + D @ rng.standard_normal(K) / np.sqrt(2 * (K - 1)))
        return self.unflatten(x)

    def unflatten(self, x: np.ndarray) -> dict:
        """A flat vector (P,) as a parameter dict shaped (and typed) like the collected ones."""
        out, i = {}, 0
        for k, shape, dtype in self._keys:
            n = int(np.prod(shape))
            out[k] = x[i:i + n].reshape(shape).astype(dtype)
            i += n
        return out
