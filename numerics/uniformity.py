"""Numbers from the token-uniformity derivations (``grokphase.theory.uniformity``).

Model specification: ``docs/uniformity_med.md``.  The closed forms are ``sympy.lambdify`` of the
theory's expressions, built on first use and cached; the constructions (clock embeddings, the
quadratic network's Fourier weights) are plain NumPy and are checked against those closed forms
in ``tests/numerics/test_uniformity_numerics.py``.

=================================  =============================================================
``adjacent_weights(p)``            w(f) = 4 sin^2(pi f/p) / p^2, f = 1..(p-1)/2 (Parseval form)
``rms_adjacent_from_spectrum``     sqrt(sum_f w(f) P_f) from the merged power P_f
``clock_embedding``                rows e_t, t in ``ids``, of a clock embedding (K planes)
``clock_spacing``, ``clock_norm``  its adjacent distance at separation m and its row norm
``quadratic_fourier_network``      Gromov's Fourier weights U, V, W on an m x m phase grid
``quadratic_logits_closed``        sum_k (m^2 A_k^3/2) cos(w_k (a + b - c)), shape (p, p, p)
``quadratic_param_norm2``          3 p m^2 sum_k A_k^2 / 2
``untrained_row_factor``           AdamW factor of a never-trained row after n steps (warm-up)
``strip_ceiling``                  strip-split ceiling (and the collapsed-row bound)
=================================  =============================================================
"""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy as sp

from grokphase.theory import uniformity as T

__all__ = ["adjacent_weights", "rms_adjacent_from_spectrum", "clock_embedding", "clock_spacing", "clock_norm",
           "quadratic_fourier_network", "quadratic_logits_closed", "quadratic_param_norm2",
           "untrained_row_factor", "strip_ceiling"]

_S = T.symbols()


def _check_p(p) -> int:
    if not (isinstance(p, (int, np.integer)) and p >= 3 and sp.isprime(int(p))):
        raise ValueError(f"p must be an odd prime, got {p!r}")
    return int(p)


@cache
def _compiled():
    kk, d, ntr = T.strip_ceiling()[1]
    A1, k1 = T._plane_symbols(1)[:2]
    m = sp.Symbol("m", integer=True)
    ta, tb, tc = sp.symbols("theta_a theta_b theta_c", real=True)
    logit_k, _ = T.quadratic_logit_identity(3)        # for m = 3; scaled to m below
    logit_k = sp.simplify(logit_k / 9)                # (A^3/2) cos(theta_a + theta_b - theta_c)
    return dict(
        weight=sp.lambdify((_S["f"], _S["p"]), T.adjacent_spectral_weight(), "numpy"),
        plane_distance2=sp.lambdify((A1[0], k1[0], _S["p"], m), T.clock_distance2_closed(1, m), "numpy"),
        plane_norm2=sp.lambdify((A1[0],), T.clock_norm2(1), "numpy"),
        quad_norm2=sp.lambdify((_S["p"], m, A1[0]), T.quadratic_param_norm2(1, m), "numpy"),
        logit=sp.lambdify((ta, tb, tc, _S["A"]), logit_k, "numpy"),
        decay=sp.lambdify((_S["n"], _S["eta"], _S["lam"], _S["W"]), T.untrained_row_factor(), "scipy"),
        decay_const=sp.lambdify((_S["n"], _S["eta"], _S["lam"]), T.untrained_row_factor(warmup=False), "numpy"),
        ceiling=sp.lambdify((_S["p"], kk, d, ntr), T.strip_ceiling()[0], "numpy"),
        collapsed=sp.lambdify((_S["p"], kk, d, ntr), T.strip_collapsed_ceiling()[0], "numpy"),
    )


def adjacent_weights(p: int) -> np.ndarray:
    """w(f) for f = 1..(p-1)/2, shape ((p-1)/2,): mean squared cyclic adjacent distance
    = sum_f w(f) P_f with P_f the merged power (f and p - f) summed over model dimensions."""
    p = _check_p(p)
    return np.asarray(_compiled()["weight"](np.arange(1, (p - 1) // 2 + 1, dtype=np.float64), float(p)))


def rms_adjacent_from_spectrum(power: np.ndarray, p: int) -> float:
    """sqrt(sum_f w(f) P_f): the rms cyclic adjacent distance from the merged spectrum (p-1)/2."""
    power = np.asarray(power, dtype=np.float64)
    if power.shape != ((p - 1) // 2,):
        raise ValueError(f"power must have shape ((p-1)/2,) = ({(p - 1) // 2},), got {power.shape}")
    return float(np.sqrt(np.dot(adjacent_weights(p), power)))


def _freq_amp(p, freqs, amps):
    freqs = np.atleast_1d(np.asarray(freqs))
    amps = np.broadcast_to(np.asarray(amps, dtype=np.float64), freqs.shape)
    if freqs.size == 0 or not np.issubdtype(freqs.dtype, np.integer) or freqs.min() < 1 or freqs.max() > (p - 1) // 2:
        raise ValueError(f"freqs must be integers in [1, (p-1)/2 = {(p - 1) // 2}], got {freqs.tolist()}")
    if np.unique(freqs).size != freqs.size:
        raise ValueError(f"freqs must be distinct, got {freqs.tolist()}")
    return freqs, amps


def clock_embedding(p: int, freqs, amps=1.0, phases=None, ids=None) -> np.ndarray:
    """Rows e_t = (A_j cos(w_j t + phi_j), A_j sin(w_j t + phi_j))_j, shape (len(ids), 2K).

    freqs: K distinct integers in 1..(p-1)/2; amps: K amplitudes (or one); phases: K (default 0);
    ids: the integers t (default 0..p-1; any integers, taken mod p by periodicity)."""
    p = _check_p(p)
    freqs, amps = _freq_amp(p, freqs, amps)
    phases = np.zeros(freqs.shape) if phases is None else np.broadcast_to(np.asarray(phases, float), freqs.shape)
    ids = np.arange(p) if ids is None else np.asarray(ids)
    ang = 2 * np.pi * np.outer(ids % p, freqs) / p + phases
    out = np.empty((ids.size, 2 * freqs.size))
    out[:, 0::2] = amps * np.cos(ang)
    out[:, 1::2] = amps * np.sin(ang)
    return out


def clock_spacing(p: int, freqs, amps=1.0, m: int = 1) -> float:
    """|e_{t+m} - e_t| of the clock embedding (the same for every t): sqrt(sum 4 A^2 sin^2(pi k m/p))."""
    p = _check_p(p)
    freqs, amps = _freq_amp(p, freqs, amps)
    return float(np.sqrt(np.sum(_compiled()["plane_distance2"](amps, freqs.astype(float), float(p), m))))


def clock_norm(amps) -> float:
    """|e_t| of the clock embedding: sqrt(sum A^2)."""
    return float(np.sqrt(np.sum(_compiled()["plane_norm2"](np.asarray(amps, dtype=np.float64)))))


def quadratic_fourier_network(p: int, freqs, amps=1.0, m: int = 3) -> dict[str, np.ndarray]:
    """Gromov's analytic weights for z_c = sum_n W[n, c] (U[a, n] + V[b, n])^2 on a phase grid.

    For each frequency k (amplitude A) m^2 neurons with phases (phi_1, phi_2) = 2 pi (j1, j2)/m:
    U[a, n] = A cos(w a + phi_1), V[b, n] = A cos(w b + phi_2), W[n, c] = A cos(w c + phi_1 + phi_2),
    w = 2 pi k / p.  Returns {"U": (p, N), "V": (p, N), "W": (N, p)}, N = m^2 K."""
    p = _check_p(p)
    freqs, amps = _freq_amp(p, freqs, amps)
    if not (isinstance(m, int) and m >= 1):
        raise ValueError(f"m must be an integer >= 1, got {m!r}")
    j1, j2 = np.divmod(np.arange(m * m), m)
    ph1 = np.tile(2 * np.pi * j1 / m, freqs.size)
    ph2 = np.tile(2 * np.pi * j2 / m, freqs.size)
    w = np.repeat(2 * np.pi * freqs / p, m * m)
    amp = np.repeat(amps, m * m)
    x = np.arange(p)[:, None]
    return {"U": amp * np.cos(w * x + ph1), "V": amp * np.cos(w * x + ph2),
            "W": (amp * np.cos(w * x + ph1 + ph2)).T.copy()}


def quadratic_logits_closed(p: int, freqs, amps=1.0, m: int = 3) -> np.ndarray:
    """z[a, b, c] = sum_k (m^2 A_k^3/2) cos(w_k (a + b - c)), shape (p, p, p) (exact for m >= 3)."""
    p = _check_p(p)
    freqs, amps = _freq_amp(p, freqs, amps)
    a, b, c = np.ix_(np.arange(p), np.arange(p), np.arange(p))
    fn = _compiled()["logit"]
    out = np.zeros((p, p, p))
    for kk, Ak in zip(freqs, amps):
        w = 2 * np.pi * kk / p
        out += m**2 * fn(w * a, w * b, w * c, Ak)
    return out


def quadratic_param_norm2(p: int, amps, m: int = 3) -> float:
    """|U|^2 + |V|^2 + |W|^2 of :func:`quadratic_fourier_network`: 3 p m^2 sum A_k^2 / 2."""
    p = _check_p(p)
    return float(np.sum(_compiled()["quad_norm2"](float(p), m, np.asarray(amps, dtype=np.float64))))


def untrained_row_factor(n, lr: float, weight_decay: float, warmup: int = 0) -> np.ndarray:
    """Norm factor F(n) of a never-trained row after n AdamW steps (lr multiplier min(s/warmup, 1)
    at step s, as ``warmup_cosine(final=1)``; warmup 0: constant lr).  n: int or int array."""
    n = np.asarray(n)
    if n.size and (not np.issubdtype(n.dtype, np.integer) or n.min() < 0):
        raise ValueError(f"n must be non-negative integers, got {n!r}")
    if not (lr >= 0 and weight_decay >= 0 and lr * weight_decay < 1):
        raise ValueError(f"need lr, weight_decay >= 0 and lr * weight_decay < 1, got {lr}, {weight_decay}")
    if not (isinstance(warmup, (int, np.integer)) and warmup >= 0):
        raise ValueError(f"warmup must be an integer >= 0, got {warmup!r}")
    if lr * weight_decay == 0:
        return np.ones(n.shape)
    if warmup == 0:
        return np.asarray(_compiled()["decay_const"](n.astype(np.float64), lr, weight_decay))
    with np.errstate(all="ignore"):  # numpy.select evaluates the unused branch too
        return np.asarray(_compiled()["decay"](n.astype(np.float64), lr, weight_decay, float(warmup)))


def strip_ceiling(p: int, k: int, offset: int, n_train: int, *, collapsed: bool = False) -> float:
    """Strip-split test-accuracy ceiling 1 - p min(k+1, d) / n_test (every second-operand id seen);
    ``collapsed``: plus p / n_test, the bound once the never-trained rows coincide (addition)."""
    p = _check_p(p)
    fn = _compiled()["collapsed" if collapsed else "ceiling"]
    return float(fn(p, k, offset, n_train))
