"""IVON: improved variational online Newton (Shen et al., ICML 2024) as an optimiser.

``docs/icl_grokking.md`` §3.  A diagonal Gaussian q = N(mu, diag sigma^2) over every
weight, sigma = 1 / sqrt(lambda_ess (h + delta)), trained from one sample per step:

    w = mu + eps,  eps ~ N(0, sigma^2)                  (``perturb``: the loop's parameters become w)
    hhat = grad(w) eps / sigma^2                         (Stein/reparameterisation Hessian estimate)
    g <- beta1 g + (1 - beta1) grad(w)
    h <- beta2 h + (1 - beta2) hhat + (1/2) (1 - beta2)^2 (h - hhat)^2 / (h + delta)
    mu <- mu - lr clip((g / (1 - beta1^t) + delta mu) / (h + delta), +-clip_radius)

delta = weight decay = prior precision, lambda_ess = effective sample size (the number of training
points).  Choices that §3 leaves open, as in the authors' implementation: the bias-corrected
momentum g / (1 - beta1^t); the mean step uses the updated h; the elementwise clip (radius
``clip_radius``, inf = none) acts on the preconditioned update before the learning rate; no
learning-rate rescaling by (h0 + delta).  The h update keeps h > 0 whenever h0 > 0.

For a quadratic loss (1/2) sum_i a_i (w_i - c_i)^2 the fixed point is the exact Gaussian posterior
of lambda_ess x loss with prior N(0, 1/(lambda_ess delta)): h -> a, mu -> a c / (a + delta),
sigma^2 -> 1 / (lambda_ess (a + delta)) (tested).

Use in a training loop: ``perturb(params, rng)`` before the gradient, then ``step(params, grads)``,
which restores the mean and updates it.  ``sample(params, rng)`` draws a weight dict from q for
evaluation (params = the mean).  Arrays keep their dtype; scalars are Python floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class IVONSettings:
    """IVON hyperparameters besides the weight decay (prior precision) and ess (set by the run).
    Defaults: the paper's (§3), except the learning rate, chosen per task by the runs."""

    lr: float = 0.5
    beta1: float = 0.9
    beta2: float = 0.99999
    hess_init: float = 1.0
    clip_radius: float = 1e-3

    def __post_init__(self):
        _check_settings(self.lr, self.beta1, self.beta2, self.hess_init, self.clip_radius)


def _check_settings(lr, beta1, beta2, hess_init, clip_radius) -> None:
    """ValueError naming the first IVON hyper-parameter out of range (NaN is never in range)."""
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be finite and > 0, got {lr}")
    if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
        raise ValueError(f"beta1 and beta2 must be in [0, 1), got {beta1}, {beta2}")
    if not (math.isfinite(hess_init) and hess_init > 0):
        raise ValueError(f"hess_init must be finite and > 0, got {hess_init}")
    if not clip_radius > 0:
        raise ValueError(f"clip_radius must be > 0 (inf: no clip), got {clip_radius}")


def ivon_sigma(h: np.ndarray, ess: float, weight_decay: float) -> np.ndarray:
    """sigma = 1 / sqrt(ess (h + delta)) from a Hessian estimate h (e.g. a saved ``posterior_state``)."""
    return 1.0 / np.sqrt(ess * (h + weight_decay))


class IVON:
    """IVON(params, lr, ess, weight_decay, beta1=0.9, beta2=0.99999, hess_init=1.0, clip_radius=inf)."""

    def __init__(self, params: dict, lr: float, ess: float, weight_decay: float = 1e-4, beta1: float = 0.9,
                 beta2: float = 0.99999, hess_init: float = 1.0, clip_radius: float = math.inf):
        _check_settings(lr, beta1, beta2, hess_init, clip_radius)
        if not (math.isfinite(ess) and ess > 0):
            raise ValueError(f"ess must be finite and > 0 (the number of training points), got {ess}")
        if not (math.isfinite(weight_decay) and weight_decay > 0):
            raise ValueError(f"weight_decay must be finite and > 0 (it is the prior precision), got {weight_decay}")
        self.lr, self.ess, self.weight_decay = float(lr), float(ess), float(weight_decay)
        self.beta1, self.beta2, self.hess_init, self.clip_radius = float(beta1), float(beta2), float(hess_init), float(clip_radius)
        self.t = 0
        self.g = {k: np.zeros_like(v) for k, v in params.items()}
        self.h = {k: np.full_like(v, hess_init) for k, v in params.items()}
        self._mean: dict | None = None
        self._eps: dict | None = None

    def sigma(self, key: str) -> np.ndarray:
        """Posterior standard deviation of parameter ``key`` (its shape)."""
        return ivon_sigma(self.h[key], self.ess, self.weight_decay)

    def sample(self, params: dict, rng: np.random.Generator) -> dict:
        """One weight dict drawn from q with mean ``params`` (params are not modified)."""
        return {k: v + (rng.standard_normal(v.shape) * self.sigma(k)).astype(v.dtype) for k, v in params.items()}

    def perturb(self, params: dict, rng: np.random.Generator) -> None:
        """Replace params (the mean) in place by a draw w ~ q; ``step`` restores and updates the mean."""
        self._mean = {k: v.copy() for k, v in params.items()}
        self._eps = {}
        for k, v in params.items():
            e = (rng.standard_normal(v.shape) * self.sigma(k)).astype(v.dtype)
            v += e
            self._eps[k] = e

    def step(self, params: dict, grads: dict, lr: float | None = None) -> None:
        """One IVON update from grads taken at the perturbed weights; params end as the new mean."""
        if self._mean is None:
            raise ValueError("IVON.step needs perturb(params, rng) before the gradient")
        for k, g in grads.items():
            if not np.isfinite(g).all():
                raise ValueError(f"grads[{k!r}] has non-finite entries (NaN or inf); IVON.step needs finite gradients")
        lr = self.lr if lr is None else float(lr)
        b1, b2, delta = self.beta1, self.beta2, self.weight_decay
        self.t += 1
        debias = 1.0 - b1 ** self.t
        for k, p in params.items():
            mu, eps, grad, h, g = self._mean[k], self._eps[k], grads[k], self.h[k], self.g[k]
            hhat = grad * eps * (self.ess * (h + delta))          # grad * eps / sigma^2 (old sigma)
            g *= b1
            g += (1.0 - b1) * grad
            h[...] = b2 * h + (1.0 - b2) * hhat + 0.5 * (1.0 - b2) ** 2 * (h - hhat) ** 2 / (h + delta)
            upd = (g / debias + delta * mu) / (h + delta)
            if math.isfinite(self.clip_radius):
                np.clip(upd, -self.clip_radius, self.clip_radius, out=upd)
            p[...] = mu - lr * upd
        self._mean = self._eps = None

    def config(self) -> dict:
        """The hyper-parameters (what a run records to identify itself)."""
        return {"name": "IVON", "lr": self.lr, "ess": self.ess, "weight_decay": self.weight_decay,
                "beta1": self.beta1, "beta2": self.beta2, "hess_init": self.hess_init,
                "clip_radius": self.clip_radius}

    def posterior_state(self) -> dict:
        """What q needs besides the mean: the Hessian estimate h (sigma follows with ess, delta)."""
        return {f"h/{k}": v for k, v in self.h.items()}

    def state(self) -> dict:
        """Arrays and scalars to checkpoint (restore with ``load_state``)."""
        return {f"g/{k}": v for k, v in self.g.items()} | self.posterior_state() | {"t": np.asarray(self.t)}

    def load_state(self, state: dict) -> None:
        self.t = int(state["t"])
        for k in self.g:
            self.g[k][...] = state[f"g/{k}"]
            self.h[k][...] = state[f"h/{k}"]
