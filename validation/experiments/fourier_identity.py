"""The Fourier (Parseval) identity of adjacent distances, checked on embeddings with known answers.

Specification: ``docs/uniformity_med.md`` (§7 (item 1)).  No training: for each
embedding the rms cyclic adjacent distance is computed directly and from the merged spectrum
(weights 4 sin^2(pi f/p)/p^2 from ``grokphase.theory.uniformity``), with MED, the cyclic mean and the
spacing spread.  Embeddings: Gaussian ones over primes p and widths D; clock embeddings with
K random frequencies; perturbed clock embeddings (noise sigma per entry); the quadratic network's
analytic first-operand table.  Plus the exact residuals in Q(omega) at p = 3, 5, 7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grokphase.numerics.uniformity import adjacent_weights, clock_embedding, quadratic_fourier_network
from grokphase.theory.uniformity import parseval_cyclotomic_residual
from grokphase.validation.progress import progress_measures

__all__ = ["FourierIdentity", "compute"]


@dataclass(frozen=True)
class FourierIdentity:
    """Which embeddings to check (module docstring)."""

    primes: tuple[int, ...] = (5, 7, 13, 31, 59, 97, 113)
    dims: tuple[int, ...] = (1, 8, 128)
    n_random: int = 10
    clock_p: int = 97
    clock_k: tuple[int, ...] = (1, 3, 5)
    noise: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4)
    exact_primes: tuple[int, ...] = (3, 5, 7)
    seed: int = 0


def _row(kind: str, E: np.ndarray, p: int, **extra) -> dict:
    pm = progress_measures(E, p)
    return {"kind": kind, "p": p, "D": int(E.shape[1]), "rms": pm.rms_adjacent,
            "rms_spectrum": pm.rms_adjacent_from_spectrum,
            "rel_err": abs(pm.rms_adjacent_from_spectrum / pm.rms_adjacent - 1), "med": pm.med,
            "mean": pm.mean_adjacent, "spread": pm.spacing_spread, **extra}


def compute(design: FourierIdentity = FourierIdentity()) -> dict:
    """{"rows": one dict per embedding, "weights": {p: w(f) p^2 / 4 = sin^2(pi f / p)},
    "spectra": normalised merged power of a clock, a 3-frequency and a random embedding at clock_p,
    "exact": {p: residual == 0}} (JSON-ready)."""
    rng = np.random.default_rng(design.seed)
    rows = []
    for p in design.primes:
        for D in design.dims:
            for _ in range(design.n_random):
                rows.append(_row("gaussian", rng.standard_normal((p, D)) * 10 ** rng.uniform(-2, 2), p))
    p = design.clock_p
    for K in design.clock_k:
        freqs = rng.choice(np.arange(1, (p - 1) // 2 + 1), size=K, replace=False)
        base = clock_embedding(p, freqs, rng.uniform(0.5, 1.5, K), rng.uniform(0, 2 * np.pi, K))
        for sigma in design.noise:
            E = base + sigma * rng.standard_normal(base.shape)
            rows.append(_row("clock", E, p, K=int(K), sigma=float(sigma)))
    w = quadratic_fourier_network(p, np.array([4, 17, 31]), 1.0, m=3)
    rows.append(_row("quadratic", w["U"], p))
    spectra = {}
    for name, E in (("clock K=1", clock_embedding(p, [7])),
                    ("3 frequencies", clock_embedding(p, [7, 20, 41], [1.0, 0.7, 0.4])),
                    ("gaussian", rng.standard_normal((p, 128)))):
        pw = progress_measures(E, p).fourier_power
        spectra[name] = (pw / pw.sum()).tolist()
    return {"rows": rows,
            "weights": {str(q): (adjacent_weights(q) * q**2 / 4).tolist() for q in (13, p)},
            "spectra": spectra, "clock_p": p,
            "exact": {str(q): parseval_cyclotomic_residual(q) == 0 for q in design.exact_primes}}
