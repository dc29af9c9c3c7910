"""Feature spectra on which the linear-VI risks are evaluated.

Reference: ``docs/linear_vi.md`` §3-§4 and §8.  The delay mechanism is purely
spectral: every curve of the model is a Laplace-type moment E[nu^p exp(-2 (Nbar nu + 1/tau^2) t)]
of the eigenvalue distribution of X^T X / n.  Two spectra are provided, with one interface:

* :class:`MarchenkoPastur` -- the n, d -> inf limit with aspect ratio lam = d/n [73]-[74];
* :class:`DiscreteSpectrum` -- any user spectrum: eigenvalues with weights (empirical spectra,
  power laws, spiked models after discretisation).

Interface (duck-typed): ``nu_min``, ``mean_nu``, ``aspect_ratio`` (d/n or None),
``log_laplace_moments(x) -> (log_m0, log_m1)`` with m_p(x) = E[nu^p exp(-x (nu - nu_min))],
and ``resolvent_moments(shift) -> (E[1/(nu+shift)], E[nu/(nu+shift)])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange

from .mp_quadrature import mp_edges, mp_log_laplace_moments, mp_resolvent_moments

__all__ = ["MarchenkoPastur", "DiscreteSpectrum", "discrete_log_laplace_moments"]


@njit(cache=True, parallel=True)
def _discrete_log_moments(nus, ws, xs, nu_min):
    n_x = xs.shape[0]
    out0 = np.empty(n_x)
    out1 = np.empty(n_x)
    for j in prange(n_x):
        s0 = 0.0
        s1 = 0.0
        for k in range(nus.shape[0]):
            e = ws[k] * math.exp(-xs[j] * (nus[k] - nu_min))
            s0 += e
            s1 += e * nus[k]
        out0[j] = math.log(s0)
        out1[j] = math.log(s1)
    return out0, out1


def discrete_log_laplace_moments(eigenvalues, weights, xs):
    """Same as :func:`mp_log_laplace_moments` for a discrete spectrum sum_k w_k delta(nu - nu_k).

    eigenvalues, weights : shape (K,); weights are normalised to sum to one.
    xs : shape (T,).  Returns (log_m0, log_m1), each of shape (T,), relative to nu_min.
    """
    nus = np.asarray(eigenvalues, dtype=np.float64).ravel()
    ws = np.asarray(weights, dtype=np.float64).ravel()
    x_arr = np.atleast_1d(np.asarray(xs, dtype=np.float64)).ravel()
    if np.any(x_arr < 0.0) or not np.all(np.isfinite(x_arr)):
        raise ValueError("x must be finite and >= 0")
    keep = ws > 0.0
    return _discrete_log_moments(nus[keep], ws[keep] / ws.sum(), x_arr, float(nus[keep].min()))


@dataclass(frozen=True)
class MarchenkoPastur:
    """MP(lam) law of the eigenvalues of X^T X / n for iid N(0, 1) entries.

    Parameters
    ----------
    lam : float
        Aspect ratio d/n in (0, 1); the support is [(1 - sqrt lam)^2, (1 + sqrt lam)^2].

    Examples
    --------
    >>> round(MarchenkoPastur(0.25).nu_min, 12)
    0.25
    """

    lam: float

    def __post_init__(self):
        if not (0.0 < self.lam < 1.0):
            raise ValueError(f"lam must lie in the open interval (0, 1); got {self.lam}")

    @property
    def nu_min(self) -> float:
        return mp_edges(self.lam)[0]

    @property
    def mean_nu(self) -> float:
        return 1.0

    @property
    def aspect_ratio(self) -> float:
        return self.lam

    def log_laplace_moments(self, x):
        """log E[e^{-x(nu - nu_min)}] and log E[nu e^{-x(nu - nu_min)}] (``mp_log_laplace_moments``).

        Parameters
        ----------
        x : ndarray, shape (T,)
            Values >= 0.

        Returns
        -------
        (ndarray, ndarray)
            Two arrays of shape (T,).
        """
        return mp_log_laplace_moments(self.lam, np.asarray(x, dtype=np.float64))

    def resolvent_moments(self, shift: float):
        return mp_resolvent_moments(self.lam, shift)


@dataclass(frozen=True, eq=False)
class DiscreteSpectrum:
    """A spectrum sum_k w_k delta(nu - nu_k).

    Parameters
    ----------
    eigenvalues : array-like, shape (K,)
        All > 0 (the sample covariance must be full rank: d < n).
    weights : array-like, shape (K,), optional
        >= 0, not all zero; normalised to sum to 1.  Default: uniform.
    aspect_ratio : float, optional
        d/n if known (needed only for the regression-level EU).
    """

    eigenvalues: np.ndarray
    weights: np.ndarray | None = None
    aspect_ratio: float | None = None
    _w: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        nus = np.asarray(self.eigenvalues, dtype=np.float64).ravel()
        if nus.size == 0 or not np.all(np.isfinite(nus)) or np.any(nus <= 0.0):
            raise ValueError("eigenvalues must be a non-empty array of finite values > 0")
        w = np.ones_like(nus) if self.weights is None else np.asarray(self.weights, np.float64).ravel()
        if w.shape != nus.shape or np.any(w < 0.0) or not np.all(np.isfinite(w)) or w.sum() <= 0.0:
            raise ValueError("weights must have the shape of eigenvalues, be finite, >= 0 and not all 0")
        if self.aspect_ratio is not None and not (0.0 < self.aspect_ratio < 1.0):
            raise ValueError(f"aspect_ratio must lie in (0, 1); got {self.aspect_ratio}")
        object.__setattr__(self, "eigenvalues", nus)
        object.__setattr__(self, "_w", w / w.sum())

    @property
    def nu_min(self) -> float:
        return float(self.eigenvalues[self._w > 0].min())

    @property
    def mean_nu(self) -> float:
        return float(np.dot(self._w, self.eigenvalues))

    def log_laplace_moments(self, x):
        return discrete_log_laplace_moments(self.eigenvalues, self._w, x)

    def resolvent_moments(self, shift: float):
        if not (np.isfinite(shift) and shift >= 0.0):
            raise ValueError(f"shift must be finite and >= 0; got {shift}")
        inv = 1.0 / (self.eigenvalues + shift)
        return float(np.dot(self._w, inv)), float(np.dot(self._w, self.eigenvalues * inv))
