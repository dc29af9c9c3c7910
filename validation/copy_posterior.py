"""Posterior means of the copy-task observables at finite N (``docs/attention_copy.md`` §8), by batched HMC.

``copy_posterior_means`` is the public entry point.  Priors: s_q = s_k = sqrt(s_qk),
s_u = s_v = sqrt(s_uv) (only the products enter the large-N theory).  alpha = beta sigma2 and
P = round(alpha N) sequences; whitened data C = P I (default) or one random data set shared by
all chains.  The 'copy' start puts every chain near the large-N copy branch at this beta
(``grokphase.attention.solve(init='copy')``), the 'uniform' start is a prior draw.
Standard errors use the effective sample size over all chains; R-hat is split R-hat.  The result
is a frozen :class:`CopyPosteriorMeans`; its ``w`` is g c, the same observable as
``grokphase.attention.solve(...).w`` (the logit-gap amplitude g kappa_hat is ``g_kappa_hat``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np

from grokphase.validation.copy_attention import CopyModel, copy_start, data_statistic, prior_draw
from grokphase.validation.samplers import Estimate, HMCResult, hmc

OBSERVABLES = ("c", "g", "eps", "w", "kappa_hat", "g_kappa_hat")
#: Split R-hat below which an estimate counts as converged.
RHAT_MAX = 1.1


@dataclass(frozen=True, eq=False)
class CopyPosteriorMeans:
    """Posterior means of the finite-N copy-task observables (result of ``copy_posterior_means``).

    Attributes
    ----------
    beta, N, L, kind, sampler : the request (N and L as int).
    P : int
        Number of sequences, round(beta sigma2 N) (the data statistic of the HMC samplers).
    acceptance : float
        Mean HMC acceptance rate over chains.
    estimates : mapping name -> Estimate
        ``Estimate(mean, se, rhat, ess)`` of each observable the sampler records: c, g, eps,
        w (= g c, the same observable as ``grokphase.attention.solve(...).w``), kappa_hat and
        g_kappa_hat (= g kappa_hat); the linear 'reduced' sampler records w only.  ``r[name]`` is
        ``r.estimates[name]``.
    run : HMCResult
        The draws in ArviZ's layout (``run.to_inference_data()`` with arviz installed).
    converged : bool
        Every estimate has split R-hat < ``RHAT_MAX`` (1.1).
    """

    beta: float
    N: int
    L: int
    kind: str
    sampler: str
    P: int
    acceptance: float
    estimates: Mapping[str, Estimate]
    run: HMCResult

    @property
    def converged(self) -> bool:
        return all(e.rhat < RHAT_MAX for e in self.estimates.values())

    @property
    def rhat_max(self) -> float:
        """The largest split R-hat over the estimates."""
        return max(e.rhat for e in self.estimates.values())

    def __getitem__(self, name: str) -> Estimate:
        if name not in self.estimates:
            raise KeyError(f"{name!r}: the {self.kind} {self.sampler!r} sampler estimates "
                           f"{', '.join(self.estimates)}")
        return self.estimates[name]


def copy_posterior_means(beta, *, N, L, kind="softmax", s_qk=0.25, s_uv=9.0, sigma2=1.0, start="uniform",
                         sampler="hmc", n_chains=4, n_iter=2000, seed=0, whitened=True) -> CopyPosteriorMeans:
    """Posterior means (with standard errors and split R-hat) of c, g, eps, w = g c, kappa_hat and
    g_kappa_hat = g kappa_hat; see :class:`CopyPosteriorMeans`.

    sampler 'reduced': softmax — the value path integrated out exactly (§2.3; HMC over Q, K and
    rho = |u|^2/N, with g, eps, w, g_kappa_hat as conditional expectations); linear (whitened data)
    — the exact keys-integrated posterior of §2.4, which gives w only (Rao-Blackwellised
    E[w | lam, g]; for linear attention its mean is also that of g_kappa_hat; ``start`` does not
    apply, its chains start near the large-N branch)."""
    if sampler not in ("hmc", "reduced"):
        raise ValueError(f"sampler must be 'hmc' or 'reduced', got {sampler!r}")
    if beta < 0 or not math.isfinite(beta):
        raise ValueError(f"beta must be a finite number >= 0, got {beta}")
    P = int(round(beta * sigma2 * N))
    request = dict(beta=float(beta), N=int(N), L=int(L), kind=kind, sampler=sampler, P=P)
    if sampler == "reduced" and kind == "linear":
        if not whitened:
            raise ValueError("whitened: the keys-integrated linear posterior (docs/attention_copy.md §2.4) needs "
                             "whitened data")
        from grokphase.validation.copy_reduced import linear_reduced_hmc

        run = linear_reduced_hmc(beta, N=int(N), L=int(L), s_qk=s_qk, s_uv=s_uv, n_chains=n_chains, n_iter=n_iter,
                                 seed=seed)
        return _means(run, request)
    if start not in ("uniform", "copy"):
        raise ValueError(f"start must be 'uniform' or 'copy', got {start!r}")
    if n_chains < 2 or n_iter < 20:
        raise ValueError("n_chains must be >= 2 and n_iter >= 20")
    model = CopyModel(L=int(L), N=int(N), kind=kind, s_q=math.sqrt(s_qk), s_k=math.sqrt(s_qk),
                      s_u=math.sqrt(s_uv), s_v=math.sqrt(s_uv), sigma2=sigma2)
    rng = np.random.default_rng(seed)
    C = data_statistic(model.L, P, None if whitened else rng)
    if start == "uniform" or beta == 0:
        theta = prior_draw(model, n_chains, rng)
    else:
        from grokphase import attention

        r = attention.solve(beta, L=L, kind=kind, s_qk=s_qk, s_uv=s_uv, init="copy")
        theta = copy_start(model, n_chains, rng, r.kappa, r.g)
    if sampler == "reduced":  # softmax: value path integrated out (§2.3)
        from grokphase.validation.copy_reduced import value_integrated_hmc

        Q, K, u, _ = theta
        run = value_integrated_hmc(model, (Q, K, np.log(np.einsum("cn,cn->c", u, u) / model.N)), C, rng,
                                   n_iter=n_iter)
    else:
        run = hmc(model, theta, C, rng, n_iter=n_iter)
    run.posterior.attrs.update(beta=float(beta), P=P, start=start, whitened=bool(whitened))
    return _means(run, request)


def _means(run: HMCResult, request: dict) -> CopyPosteriorMeans:
    est = {name: run.estimate(name) for name in OBSERVABLES if name in run.posterior}
    return CopyPosteriorMeans(**request, acceptance=float(run.acceptance.mean()),
                              estimates=MappingProxyType(est), run=run)
