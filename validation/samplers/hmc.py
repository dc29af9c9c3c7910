"""Batched HMC and overdamped Langevin for ``copy_attention`` posteriors (``docs/attention_copy.md`` §8).

HMC runs in whitened coordinates z = theta / s (identity mass), ``n_leapfrog`` leapfrog steps, a
per-chain step size adapted during the first half (every 10 iterations eps <- eps exp(0.5 (acc -
target)) with acc the acceptance rate over those 10) and frozen in the second half, with +-20% jitter
per iteration; the first half is discarded.  Every chain carries its own data statistic (batched
C of shape (n, L, L)), so chains at different alpha and from different starts run together.

Results are :class:`HMCResult` / :class:`~.run.SamplerRun` objects in ArviZ's layout (``posterior``
and ``sample_stats`` Datasets with dims (chain, draw)).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from grokphase import _checks as chk
from grokphase._progress import progress_bar
from grokphase.validation.copy_attention import OBSERVABLE_NAMES, CopyModel

from .run import SamplerRun, chain_dataset

#: Energy error H1 - H0 above which a trajectory counts as divergent (Stan's threshold).
DIVERGENCE = 1000.0


@dataclass(frozen=True, eq=False)
class HMCResult(SamplerRun):
    """HMC draws (kept second half) in ArviZ's layout, plus what the adaptation ended with.

    Attributes
    ----------
    posterior : xarray.Dataset
        The recorded observables, (chain, draw); attributes: the sampler settings (and the model's
        parameters for :func:`hmc`).
    sample_stats : xarray.Dataset
        Per kept draw, (chain, draw): ``acceptance_rate`` min(1, exp(-dH)), ``step_size`` (the
        jittered step used), ``energy`` (Hamiltonian of the kept state), ``lp`` (-U of the kept
        state, bias included), ``diverging`` (energy error dH non-finite or > ``DIVERGENCE``).
    acceptance : ndarray, shape (chain,)
        Fraction of accepted proposals in the second half.
    step_size : ndarray, shape (chain,)
        The adapted (frozen) step size, before the per-iteration jitter.
    final : tuple of arrays
        The last state of every chain (leading chain axis).
    """

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


def hmc_tuple(U_grad, z0: tuple, record, rng: np.random.Generator, n_iter: int = 2000, n_leapfrog: int = 15,
              step0: float = 0.05, target: float = 0.8, thin: int = 1, progress: bool | None = None,
              long_names=None) -> HMCResult:
    """Generic batched HMC on a tuple of arrays with a leading chain axis (identity mass).

    Parameters
    ----------
    U_grad : callable
        ``U_grad(z) -> (U, grads)``: the potential U, shape (n,), of every chain and its gradient,
        a tuple of arrays shaped like ``z``.
    z0 : tuple of ndarray, each of shape (n, ...)
        Start of every chain (leading chain axis).
    record : callable
        ``record(z) -> {name: (n,) array}``: what is kept at every ``thin``-th iteration of the
        second half.
    rng : numpy.random.Generator
        Momenta, jitter and acceptance draws.
    n_iter : int
        Iterations (>= 2); the first half adapts the step size and is discarded.
    n_leapfrog : int
        Leapfrog steps per trajectory (>= 1).
    step0 : float
        Initial step size (> 0) of every chain.
    target : float
        Target acceptance rate of the adaptation, in (0, 1).
    thin : int
        Keep every ``thin``-th iteration of the second half (>= 1).
    progress : bool, optional
        tqdm bar over the iterations on stderr (:func:`grokphase._progress.progress_bar`; None: only
        on a terminal and outside another bar, False: no output).
    long_names : mapping name -> str, optional
        CF long names of the recorded variables (default: ``copy_attention.OBSERVABLE_NAMES``).

    Returns
    -------
    HMCResult
        Draws of ``record`` (chain, draw), sample stats, acceptance and step size per chain;
        ``final`` is the last z.
    """
    n_iter = chk.integer("n_iter", n_iter, 2, note="the first half is discarded")
    n_leapfrog = chk.integer("n_leapfrog", n_leapfrog, 1)
    thin = chk.integer("thin", thin, 1)
    step0 = chk.positive("step0", step0)
    target = chk.real("target", target, 0.0, 1.0, lo_open=True, hi_open=True, note="acceptance rate")
    z = z0
    eps = np.full(z[0].shape[0], step0)
    U, G = U_grad(z)
    half = n_iter // 2
    # a diverging trajectory (too large a step early in the adaptation) overflows; its non-finite
    # energy is rejected below, so the floating-point warnings carry no information
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        with progress_bar(n_iter, progress=progress, desc="HMC", unit="iter", leave=False) as bar:
            return _hmc_loop(U_grad, z, U, G, record, rng, n_iter, n_leapfrog, eps, target, thin, half, bar,
                             OBSERVABLE_NAMES if long_names is None else long_names)


def _hmc_loop(U_grad, z, U, G, record, rng, n_iter, n_leapfrog, eps, target, thin, half, bar, long_names):
    n = z[0].shape[0]
    acc_window = np.zeros(n)
    accepted = np.zeros(n)
    keep, stats = [], []

    def bc(a, like):
        return a.reshape((-1,) + (1,) * (like.ndim - 1))

    for it in range(n_iter):
        e = eps * rng.uniform(0.8, 1.2, size=n)
        p = tuple(rng.standard_normal(zi.shape) for zi in z)
        H0 = U + 0.5 * sum(_sq(pi) for pi in p)
        zn, Gn = z, G
        pn = tuple(pi - 0.5 * bc(e, pi) * gi for pi, gi in zip(p, Gn))
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
                keep.append(record(z))
                stats.append({"acceptance_rate": np.exp(np.minimum(0.0, -dH)), "step_size": e,
                              "energy": np.where(acc, H1, H0), "lp": -U,
                              "diverging": ~(dH <= DIVERGENCE)})
        bar.update()
    draws = {k: np.stack([d[k] for d in keep], axis=1) for k in keep[0]}
    stat = {k: np.stack([d[k] for d in stats], axis=1) for k in stats[0]}
    settings = dict(sampler="HMC", n_iter=int(n_iter), warmup=int(half), n_leapfrog=int(n_leapfrog),
                    target_acceptance=float(target), thin=int(thin))
    return HMCResult(posterior=chain_dataset(draws, attrs=settings, long_names=long_names),
                     sample_stats=chain_dataset(stat, attrs=settings), acceptance=accepted / (n_iter - half),
                     step_size=eps, final=z)


def hmc(model: CopyModel, theta0, C, rng: np.random.Generator, n_iter: int = 2000, n_leapfrog: int = 15,
        step0: float = 0.05, target: float = 0.8, thin: int = 1, bias=None, progress: bool | None = None) -> HMCResult:
    """Sample -log p of the model's ``neg_log_posterior`` (``copy_attention`` or, for a ``OneHotModel``,
    ``onehot_attention``) for every chain of theta0, in whitened coordinates z = theta / s.

    Parameters
    ----------
    model : CopyModel or OneHotModel
        The finite-N copy-task model (L, N, kind, prior scales), Gaussian or one-hot tokens.
    theta0 : tuple of ndarray
        Start of every chain: the model's parameter arrays with a leading chain axis (n, ...).
    C : ndarray
        Data statistic of every chain, or one for all: Gaussian tokens (n, L, L) or (L, L)
        (``copy_attention.data_statistic``); one-hot tokens the pair-count tensor (n, L, L, V, V)
        or (L, L, V, V) (``onehot_attention.count_tensor``).
    rng : numpy.random.Generator
    n_iter, n_leapfrog, step0, target, thin, progress
        As for :func:`hmc_tuple`.
    bias : callable, optional
        ``bias(theta) -> (U_b (n,), grads like theta)``: an extra potential (umbrella window).

    Returns
    -------
    HMCResult
        Observables (chain, draw) with the model's parameters and ``umbrella`` as attributes;
        ``final`` in the model's coordinates theta.
    """
    def U_grad(zz):
        th = _scale(model, zz)
        U, g = model.neg_log_posterior(th, C)
        if bias is not None:
            Ub, gb = bias(th)
            U, g = U + Ub, tuple(a + b for a, b in zip(g, gb))
        return U, tuple(gi * si for gi, si in zip(g, model.scales))

    res = hmc_tuple(U_grad, _scale(model, theta0, inverse=True), lambda zz: model.observables(_scale(model, zz)),
                    rng, n_iter, n_leapfrog, step0, target, thin, progress, long_names=model.observable_names)
    res.posterior.attrs.update(model_attrs(model), umbrella=bias is not None)
    return dataclasses.replace(res, final=_scale(model, res.final))


def model_attrs(model: CopyModel) -> dict:
    """The model's parameters as typed attributes.

    Parameters
    ----------
    model : CopyModel or OneHotModel

    Returns
    -------
    dict
        ``{L, N, kind, s_q, s_k, s_u, s_v, sigma2}``.
    """
    return {f.name: getattr(model, f.name) for f in dataclasses.fields(model)}


def langevin(model: CopyModel, theta0, C, rng: np.random.Generator, eta: float, n_steps: int,
             record_every: int = 100, progress: bool | None = None) -> SamplerRun:
    """Overdamped Langevin theta <- theta - eta grad U + sqrt(2 eta) xi (noisy full-batch GD whose
    stationary law is the posterior); time t = eta * step.

    Parameters
    ----------
    model : CopyModel or OneHotModel
        The finite-N copy-task model.
    theta0 : tuple of ndarray
        Start of every chain: the model's parameter arrays with a leading chain axis (n, ...).
    C : ndarray
        Data statistic of every chain, or one for all (as for :func:`hmc`).
    rng : numpy.random.Generator
        The noise xi.
    eta : float
        Step size (> 0).
    n_steps : int
        Steps (>= 0).
    record_every : int
        Record the observables every ``record_every`` steps (>= 1), and at step 0.
    progress : bool, optional
        tqdm bar over the steps on stderr (:func:`grokphase._progress.progress_bar`; None: only on a
        terminal and outside another bar, False: no output).

    Returns
    -------
    SamplerRun
        ``posterior``: the observables every ``record_every`` steps, (chain, draw), with the
        coordinate ``t`` (draw,) = eta * step (a trajectory from theta0, not stationary draws);
        ``sample_stats``: ``lp`` = -U at each recorded state.  Attributes: eta, n_steps,
        record_every and the model's parameters.
    """
    eta = chk.positive("eta", eta)
    n_steps = chk.integer("n_steps", n_steps, 0)
    record_every = chk.integer("record_every", record_every, 1)
    theta = tuple(t.copy() for t in theta0)
    rec, lps, ts = [], [], []
    done = 0
    with progress_bar(n_steps, progress=progress, desc="Langevin", unit="step", leave=False) as bar:
        for step in range(n_steps + 1):
            U, G = model.neg_log_posterior(theta, C)
            if step % record_every == 0:
                rec.append(model.observables(theta))
                lps.append(-U)
                ts.append(eta * step)
                bar.update(step - done)
                done = step
            if step == n_steps:
                bar.update(step - done)
                break
            theta = tuple(t - eta * gi + np.sqrt(2 * eta) * rng.standard_normal(t.shape) for t, gi in zip(theta, G))
    attrs = dict(sampler="Langevin", eta=float(eta), n_steps=int(n_steps), record_every=int(record_every),
                 **model_attrs(model))
    t = {"t": np.array(ts)}
    post = chain_dataset({k: np.stack([r[k] for r in rec], axis=1) for k in rec[0]}, attrs=attrs,
                         long_names=model.observable_names, draw_coords=t)
    post["t"].attrs.update(long_name="Langevin time t = eta * step", units="1")
    return SamplerRun(posterior=post, sample_stats=chain_dataset({"lp": np.stack(lps, axis=1)}, attrs=attrs,
                                                                  draw_coords=t))
