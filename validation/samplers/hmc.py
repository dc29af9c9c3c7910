"""Batched HMC and overdamped Langevin for ``copy_attention`` posteriors (spec §8).

HMC runs in whitened coordinates z = theta / s (identity mass), ``n_leapfrog`` leapfrog steps, a
per-chain step size adapted during the first half (every 10 iterations eps <- eps exp(0.5 (acc -
target)) with acc the acceptance rate over those 10) and frozen in the second half, with +-20% jitter
per iteration; the first half is discarded.  Every chain carries its own data statistic (batched
C of shape (n, L, L)), so chains at different alpha and from different starts run together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grokphase.validation.copy_attention import CopyModel, neg_log_posterior, observables


@dataclass(frozen=True)
class HMCResult:
    """draws: observable name -> (chains, kept draws); acceptance (chains,); step_size (chains,)."""

    draws: dict
    acceptance: np.ndarray
    step_size: np.ndarray
    final: tuple


def _sq(a: np.ndarray) -> np.ndarray:
    """Per-chain squared norm of a (n, ...)."""
    a2 = a.reshape(a.shape[0], -1)
    return np.einsum("ci,ci->c", a2, a2)


def _scale(model, theta, inverse=False):
    s = model.scales
    return tuple(t / si if inverse else t * si for t, si in zip(theta, s))


def hmc(model: CopyModel, theta0, C, rng: np.random.Generator, n_iter: int = 2000, n_leapfrog: int = 15,
        step0: float = 0.05, target: float = 0.8, thin: int = 1) -> HMCResult:
    """Sample -log p of ``copy_attention.neg_log_posterior`` for every chain of theta0."""
    z = _scale(model, theta0, inverse=True)
    n = z[0].shape[0]
    eps = np.full(n, step0)
    acc_window = np.zeros(n)
    accepted = np.zeros(n)
    keep = []

    def U_grad(zz):
        # a diverging trajectory (too large a step early in the adaptation) overflows; its
        # non-finite energy is rejected below, so the warnings carry no information
        with np.errstate(over="ignore", invalid="ignore"):
            U, g = neg_log_posterior(model, _scale(model, zz), C)
        return U, tuple(gi * si for gi, si in zip(g, model.scales))

    U, G = U_grad(z)
    half = n_iter // 2
    for it in range(n_iter):
        e = eps * rng.uniform(0.8, 1.2, size=n)
        p = tuple(rng.standard_normal(zi.shape) for zi in z)
        H0 = U + 0.5 * sum(_sq(pi) for pi in p)
        zn, pn, Gn = z, p, G

        def bc(a, like):
            return a.reshape((-1,) + (1,) * (like.ndim - 1))
        pn = tuple(pi - 0.5 * bc(e, pi) * gi for pi, gi in zip(pn, Gn))
        for step in range(n_leapfrog):
            zn = tuple(zi + bc(e, zi) * pi for zi, pi in zip(zn, pn))
            Un, Gn = U_grad(zn)
            frac = 1.0 if step < n_leapfrog - 1 else 0.5
            pn = tuple(pi - frac * bc(e, pi) * gi for pi, gi in zip(pn, Gn))
        H1 = Un + 0.5 * sum(_sq(pi) for pi in pn)
        dH = np.where(np.isfinite(H1), H1 - H0, np.inf)
        acc = np.log(rng.uniform(size=n)) < -dH
        z = tuple(np.where(bc(acc, zi), zni, zi) for zi, zni in zip(z, zn))
        U = np.where(acc, Un, U)
        G = tuple(np.where(bc(acc, gi), gni, gi) for gi, gni in zip(G, Gn))
        acc_window += acc
        if it < half:
            if (it + 1) % 10 == 0:
                eps = eps * np.exp(0.5 * (acc_window / 10 - target))
                acc_window[:] = 0
        else:
            accepted += acc
            if (it - half) % thin == 0:
                keep.append(observables(model, _scale(model, z)))
    draws = {k: np.stack([d[k] for d in keep], axis=1) for k in keep[0]}
    return HMCResult(draws=draws, acceptance=accepted / (n_iter - half), step_size=eps,
                     final=_scale(model, z))


def langevin(model: CopyModel, theta0, C, rng: np.random.Generator, eta: float, n_steps: int,
             record_every: int = 100) -> dict:
    """Overdamped Langevin theta <- theta - eta grad U + sqrt(2 eta) xi (noisy full-batch GD whose
    stationary law is the posterior); time t = eta * step.  Returns {"t": (k,), observables: (n, k)}."""
    theta = tuple(t.copy() for t in theta0)
    rec, ts = [], []
    for step in range(n_steps + 1):
        if step % record_every == 0:
            rec.append(observables(model, theta))
            ts.append(eta * step)
        if step == n_steps:
            break
        _, G = neg_log_posterior(model, theta, C)
        theta = tuple(t - eta * gi + np.sqrt(2 * eta) * rng.standard_normal(t.shape) for t, gi in zip(theta, G))
    return {"t": np.array(ts), **{k: np.stack([r[k] for r in rec], axis=1) for k in rec[0]}}
