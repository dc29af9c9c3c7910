"""Marchenko-Pastur expectations that respect the square-root edges, compiled with Numba.

Reference: ``docs/linear_vi.md`` §4 (eqs. [73]-[74] of arXiv 2604.12434).

We need, for x = 2 Nbar t >= 0 over many decades,

    m_p(x) = E_{nu ~ MP(lam)}[ nu^p exp(-x (nu - nu_-)) ],   p in {0, 1},

with relative accuracy far below 1e-6 even when the integrand lives in a sliver of width
~1/x next to the lower edge nu_- (late times) and when 1/nu is nearly singular there
(lam -> 1, nu_- -> 0).  The factor exp(-x nu_-) is left out on purpose: callers add
-x nu_- in log space, so nothing underflows.

Method (choice documented here, tested in tests/numerics/test_mp_quadrature.py):

* Substitute nu = nu_- + Delta sin^2(theta/2), Delta = 4 sqrt(lam), theta in [0, pi].  Then
  p(nu) dnu = (2/pi) sin^2(theta) / nu(theta) dtheta (derived in
  ``grokphase.theory.linear_vi.mp_theta_substitution``): both square-root edges are smooth.
* The integrand is exp(-z sin^2(theta/2)) sin^2(theta) nu^{p-1} with z = x Delta.  Truncate at
  theta_max where z sin^2(theta/2) = 40 + 1.5 log(1 + z) (neglected tail < 1e-17 relative).
* Composite Gauss-Legendre on a geometrically graded mesh [0, h], [h, 2h], [2h, 4h], ... up to
  theta_max, with h = min(a, b, theta_max)/2, where a = 2 sqrt(nu_-/Delta) is the distance of the
  1/nu pole from theta = 0 and b = 2/sqrt(z) the Gaussian width.  Each panel sees its nearest
  singularity at least one panel-width away, so 10 nodes per panel give < 5e-12 relative
  (measured against a 30-digit adaptive reference; 12 nodes give 2e-13 at ~15% more cost).

Also here: the density, edges, and E[nu^p / (nu + shift)] (for the posterior covariance trace).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "NODES_PER_PANEL",
    "mp_edges",
    "mp_density",
    "mp_log_laplace_moments",
    "mp_expectation",
    "mp_resolvent_moments",
]

NODES_PER_PANEL = 10
_GL_X, _GL_W = np.polynomial.legendre.leggauss(NODES_PER_PANEL)


def _check_lam(lam):
    lam = np.asarray(lam, dtype=np.float64)
    if not np.all((lam > 0.0) & (lam < 1.0)):
        raise ValueError(f"lam must lie in the open interval (0, 1); got {lam}")
    return lam


def mp_edges(lam: float) -> tuple[float, float]:
    """Support [nu_-, nu_+] = [(1 - sqrt(lam))^2, (1 + sqrt(lam))^2] of MP(lam)."""
    _check_lam(lam)
    r = math.sqrt(lam)
    return (1.0 - r) ** 2, (1.0 + r) ** 2


def mp_density(nu, lam: float) -> np.ndarray:
    """MP(lam) density at nu (any shape); zero outside the support."""
    lo, hi = mp_edges(lam)
    nu = np.asarray(nu, dtype=np.float64)
    inside = (nu > lo) & (nu < hi)
    out = np.zeros_like(nu)
    v = nu[inside]
    out[inside] = np.sqrt((hi - v) * (v - lo)) / (2.0 * np.pi * lam * v)
    return out


@njit(cache=True)
def _mesh(lo, delta, z):
    """(h, theta_max): first panel width and truncation point of the graded mesh."""
    cut = 40.0 + 1.5 * math.log1p(z)
    if z <= cut:
        th_max = math.pi
    else:
        th_max = 2.0 * math.asin(math.sqrt(cut / z))
    h = min(2.0 * math.sqrt(lo / delta), th_max)
    if z > 0.0:
        h = min(h, 2.0 / math.sqrt(z))
    return 0.5 * h, th_max


@njit(cache=True)
def _theta_rule(lo, delta, z, gx, gw):
    """Graded composite Gauss-Legendre rule on [0, theta_max] (see module docstring).

    Panels [0, h], [h, 2h], [2h, 4h], ... with the last one clipped at theta_max.
    Returns (theta, weight), shape (n_panels * len(gx),).
    """
    h, th_max = _mesh(lo, delta, z)
    n_pan = 1
    right = h
    while right < th_max:
        right *= 2.0
        n_pan += 1
    m = gx.shape[0]
    th = np.empty(n_pan * m)
    w = np.empty(n_pan * m)
    left = 0.0
    right = h
    for p in range(n_pan):
        right = min(right, th_max)
        for k in range(m):
            th[p * m + k] = 0.5 * (right + left) + 0.5 * (right - left) * gx[k]
            w[p * m + k] = 0.5 * (right - left) * gw[k]
        left = right
        right = 2.0 * right
    return th, w


@njit(cache=True)
def _mp_moments_one(lam, x, gx, gw):
    """(m0, m1) = (E[e^{-x(nu-nu_-)}], E[nu e^{-x(nu-nu_-)}]) for one (lam, x).

    The same rule as :func:`_theta_rule`, summed panel by panel without allocating (hot path).
    """
    r = math.sqrt(lam)
    lo = (1.0 - r) ** 2
    delta = 4.0 * r
    z = x * delta
    h, th_max = _mesh(lo, delta, z)
    m0 = 0.0
    m1 = 0.0
    left = 0.0
    right = h
    while True:
        right = min(right, th_max)
        half = 0.5 * (right - left)
        mid = 0.5 * (right + left)
        for k in range(gx.shape[0]):
            sh = math.sin(0.5 * (mid + half * gx[k]))
            q = sh * sh
            e = math.exp(-z * q) * 4.0 * q * (1.0 - q) * (half * gw[k])
            m0 += e / (lo + delta * q)
            m1 += e
        if right >= th_max:
            break
        left = right
        right = 2.0 * right
    return m0 * (2.0 / math.pi), m1 * (2.0 / math.pi)


_BLOCK = 256  # grid points per work block


@njit(cache=True, parallel=True)
def _mp_log_moments_grid(lams, xs, order, gx, gw):
    n_l = lams.shape[0]
    n_x = xs.shape[0]
    out0 = np.empty(n_l * n_x)
    out1 = np.empty(n_l * n_x)
    total = n_l * n_x
    # Contiguous blocks visited in a scrambled ``order``: the cost per point varies several-fold
    # over the grid (lam -> 1 and early times need more panels), and static chunking of an
    # ordered grid left one core idle.
    for b in prange(order.shape[0]):
        start = order[b] * _BLOCK
        for k in range(start, min(start + _BLOCK, total)):
            i = k // n_x
            m0, m1 = _mp_moments_one(lams[i], xs[k - i * n_x], gx, gw)
            out0[k] = math.log(m0)
            out1[k] = math.log(m1)
    return out0.reshape((n_l, n_x)), out1.reshape((n_l, n_x))


def _block_order(total: int) -> np.ndarray:
    """Blocks in golden-ratio order, so each thread's static share samples the whole grid."""
    n_blocks = -(-total // _BLOCK)
    return np.argsort((np.arange(n_blocks) * 0.6180339887498949) % 1.0).astype(np.int64)


def mp_log_laplace_moments(lams, xs):
    """log E[e^{-x(nu - nu_-)}] and log E[nu e^{-x(nu - nu_-)}] for nu ~ MP(lam).

    Parameters
    ----------
    lams : array_like, shape (Lam,) or scalar -- aspect ratios in (0, 1)
    xs : array_like, shape (T,) or scalar -- dimensionless times x = 2 Nbar t >= 0

    Returns
    -------
    (log_m0, log_m1) : arrays of shape np.shape(lams) + np.shape(xs)
    """
    lam_arr = np.atleast_1d(_check_lam(lams))
    x_arr = np.atleast_1d(np.asarray(xs, dtype=np.float64))
    if not np.all(np.isfinite(x_arr)) or np.any(x_arr < 0.0):
        raise ValueError("x (= 2 n/sigma^2 t) must be finite and >= 0")
    lam_arr = np.ascontiguousarray(lam_arr.ravel())
    x_arr = np.ascontiguousarray(x_arr.ravel())
    order = _block_order(lam_arr.size * x_arr.size)
    l0, l1 = _mp_log_moments_grid(lam_arr, x_arr, order, _GL_X, _GL_W)
    shape = np.shape(lams) + np.shape(xs)
    return l0.reshape(shape), l1.reshape(shape)


def mp_expectation(func, lam: float) -> float:
    """E_{nu ~ MP(lam)}[func(nu)] for a function smooth on [nu_-, nu_+] (vectorised func).

    Uses the z = 0 graded rule; accurate when func has no singularity closer to the support
    than the 1/nu factor of the density (e.g. 1/(nu + s), s >= 0).
    """
    lo, hi = mp_edges(lam)
    delta = hi - lo
    th, w = _theta_rule(lo, delta, 0.0, _GL_X, _GL_W)
    q = np.sin(0.5 * th) ** 2
    nu = lo + delta * q
    return float((2.0 / np.pi) * np.sum(w * 4.0 * q * (1.0 - q) * func(nu) / nu))


def mp_resolvent_moments(lam: float, shift: float) -> tuple[float, float]:
    """(E[1/(nu + shift)], E[nu/(nu + shift)]) for nu ~ MP(lam), shift >= 0.

    Used for the trace of the posterior covariance, Tr Sigma_inf ~ d E[1/(Nbar nu + 1/tau^2)].
    With shift = 0 these are 1/(1 - lam) and 1 (a test of the rule).
    """
    if not (math.isfinite(shift) and shift >= 0.0):
        raise ValueError(f"shift must be finite and >= 0; got {shift}")
    return (mp_expectation(lambda v: 1.0 / (v + shift), lam),
            mp_expectation(lambda v: v / (v + shift), lam))
