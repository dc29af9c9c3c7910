"""Excess risks, accuracy and epistemic uncertainty of Gaussian VI on a linear model, from a spectrum.

Reference: ``docs/linear_vi.md`` §4 and §6; arXiv 2604.12434 eqs.
[73]-[74] (risks), [95] (accuracy closure), [11]-[12] (thresholded EU), [92] (regression EU).

All risks are computed in log space: log L(t) = log C0 - kappa t + log m_p(2 Nbar t), where
kappa = 2 (Nbar nu_min + iota_p) and m_p is the spectrum's Laplace moment relative to nu_min.
That keeps late-time values exact where exp(-kappa t) underflows, and lets root finding work on
smooth, nearly linear functions of log t.

Functions here return the MP-limit / spectral-average ("matched regime") forms: the excess risks
[73]/[74] (no cross terms), emp weighted by nu, gen unweighted, with L_gen(0) = C0.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf, erfc, xlogy

__all__ = ["log_excess_risks", "accuracy_closure", "eu_threshold", "eu_regression"]


def _check_times(t):
    t = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(t)) or np.any(t < 0.0):
        raise ValueError("t must be finite and >= 0")
    return t


def log_excess_risks(spectrum, t, Nbar: float, iota_p: float = 0.0, C0: float = 1.0):
    """(log L_emp(t), log L_gen(t)), each of the shape of ``t`` (flow time, >= 0).

    L_emp = C0 E[nu e^{-2 a(nu) t}], L_gen = C0 E[e^{-2 a(nu) t}], a(nu) = Nbar nu + iota_p.
    """
    t = _check_times(t)
    l0, l1 = spectrum.log_laplace_moments(2.0 * Nbar * t.ravel())
    base = np.log(C0) - 2.0 * (Nbar * spectrum.nu_min + iota_p) * t.ravel()
    return (base + l1).reshape(t.shape), (base + l0).reshape(t.shape)


def _closure_argument(log_L, eps: float):
    """sqrt(eps / (4 L)) from log L; capped at 1e300 (erf/erfc are exactly 1/0 long before)."""
    half_log = np.minimum(0.5 * (np.log(eps / 4.0) - np.asarray(log_L, dtype=np.float64)), 690.0)
    return np.exp(half_log)


def accuracy_closure(log_L, eps: float):
    """Closure [95]: A = erf(sqrt(eps / (4 L))), from log L (any shape).  A -> 1 as L -> 0."""
    return erf(_closure_argument(log_L, eps))


def eu_threshold(log_L, eps: float):
    """Thresholded (Bernoulli) EU [11]: binary entropy h2(A) in nats, with A from [95].

    Computed from the failure probability q = erfc(...) so that it stays accurate as A -> 1.
    Peaks at ln 2 where L = eps / (4 erfinv(1/2)^2) = 1.0991 eps [12].
    """
    q = erfc(_closure_argument(log_L, eps))
    return 0.0 - xlogy(q, q) - xlogy(1.0 - q, 1.0 - q)


def eu_regression(spectrum, log_L_emp, log_L_gen, Nbar: float, iota_p: float,
                  sigma2: float, cov_share: float):
    """Regression-level EU [92], 1/2 log(1 + v/sigma^2), averaged over train (emp) and population (gen).

    v is the epistemic predictive variance x^T Sigma_t x, which concentrates on its mean for
    large d.  With Sigma_t = Sigma_inf + (covariance gap), the gap spread evenly over the eigenbasis
    and carrying the fraction ``cov_share`` of C0 (so Tr(Sigma_0 - Sigma_inf)/2 = cov_share C0):

        v_gen / sigma^2 = lam E[1/(nu + iota)]  + 2 cov_share L_gen(t) / sigma^2
        v_emp / sigma^2 = lam E[nu/(nu + iota)] + 2 cov_share L_emp(t) / sigma^2

    with lam = d/n and iota = iota_p / Nbar (the noise is matched: sigma_eps^2 = sigma^2).  The
    first term is Tr Sigma_inf / sigma^2; for a flat prior and MP it is lam/(1 - lam), so
    EU_gen(inf) = -1/2 log(1 - lam).  Monotone non-increasing in t: no peak.
    """
    lam = spectrum.aspect_ratio
    if lam is None:
        raise ValueError("the regression EU needs the spectrum's aspect_ratio (d/n)")
    r_gen, r_emp = spectrum.resolvent_moments(iota_p / Nbar)
    v_emp = lam * r_emp + 2.0 * cov_share * np.exp(log_L_emp) / sigma2
    v_gen = lam * r_gen + 2.0 * cov_share * np.exp(log_L_gen) / sigma2
    return 0.5 * np.log1p(v_emp), 0.5 * np.log1p(v_gen)
