"""Assertions for noisy estimates: finite-size scaling fits and Monte-Carlo agreement within the noise.

Both use the standard errors the estimates come with (bootstrap, effective sample size), so a
tolerance follows from the noise instead of being picked by hand; a stated error that is too small
for the scatter makes the claim fail.  Failures raise AssertionError with every estimate listed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from grokphase.testing._report import table

__all__ = ["assert_finite_size_scaling", "assert_statistically_equal", "finite_size_fit", "FiniteSizeFit"]


@dataclass(frozen=True)
class FiniteSizeFit:
    """The weighted fit y(N) = limit + a1/N (+ a2/N^2) of :func:`finite_size_fit`.

    limit, a1, a2 (nan without the 1/N^2 term) with their standard errors from the stated stderr
    (covariance (X^T W X)^{-1}, not rescaled by the fit); chi2 and dof of the fit and its p-value
    p_fit (nan when dof = 0); z_limit, z_a1 = (fitted - claimed) / se (z_a1 nan when a1 is not
    claimed); p_claim, the p-value of the joint test of the claimed parameters."""

    limit: float
    limit_se: float
    a1: float
    a1_se: float
    a2: float
    a2_se: float
    chi2: float
    dof: int
    p_fit: float
    z_limit: float
    z_a1: float
    p_claim: float


def finite_size_fit(Ns, estimates, stderr, limit: float, a1: float | None = None, *,
                    corrections: int = 1) -> FiniteSizeFit:
    r"""Weighted least-squares fit y(N) = limit + a1/N (+ a2/N^2) of estimates y_i +- s_i, with its
    goodness of fit and the test of a claimed limit (and a1); nothing is asserted.

    Design X_i = (1, 1/N_i[, 1/N_i^2]), weights W = diag(s_i^-2): theta = (X^T W X)^{-1} X^T W y,
    Cov(theta) = (X^T W X)^{-1} (not rescaled by the fit).  chi^2 = sum_i ((y_i - X_i theta)/s_i)^2 on
    n - 1 - corrections degrees of freedom (p_fit nan when dof = 0); with d = theta_c - claimed over
    the claimed parameters c, the Wald statistic d^T Cov_cc^{-1} d on |c| degrees of freedom gives
    p_claim.

    Parameters
    ----------
    Ns : array_like, shape (n,)
        System sizes (> 0, at least 1 + corrections distinct values).
    estimates, stderr : array_like, shape (n,)
        The estimates (finite) and their standard errors (finite, > 0).
    limit : float
        The claimed N -> infinity limit.
    a1 : float, optional
        The claimed coefficient of 1/N.
    corrections : {1, 2}
        Fit limit + a1/N (1) or limit + a1/N + a2/N^2 (2).

    Returns
    -------
    FiniteSizeFit
    """
    return _fit(Ns, estimates, stderr, limit, a1, corrections)[0]


def _fit(Ns, estimates, stderr, limit, a1, corrections):
    """The FiniteSizeFit and the table columns and fitted-curve text of the failure messages."""
    N = np.asarray(Ns, dtype=np.float64)
    y = np.asarray(estimates, dtype=np.float64)
    s = np.asarray(stderr, dtype=np.float64)
    if corrections not in (1, 2):
        raise ValueError(f"corrections must be 1 or 2, got {corrections!r}")
    if not (N.ndim == 1 and y.shape == N.shape == s.shape):
        raise ValueError(f"Ns, estimates and stderr must be 1-d of one length, got {N.shape}, {y.shape}, {s.shape}")
    if not (np.all(np.isfinite(N)) and np.all(N > 0)) or np.unique(N).size < 1 + corrections:
        raise ValueError(f"Ns must be finite, > 0, with at least {1 + corrections} distinct values, got {N}")
    if not (np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError(f"stderr must be finite and > 0, got {s}")
    if not np.all(np.isfinite(y)):
        raise ValueError("estimates must be finite:\n" + table(N=N, estimate=y, stderr=s))
    X = np.stack([N ** -k for k in range(corrections + 1)], axis=1)
    Xw, yw = X / s[:, None], y / s
    theta = np.linalg.lstsq(Xw, yw, rcond=None)[0]
    cov = np.linalg.inv(Xw.T @ Xw)
    se = np.sqrt(np.diag(cov))
    resid = yw - Xw @ theta
    chi2, dof = float(resid @ resid), int(N.size - corrections - 1)
    p_fit = float(stats.chi2.sf(chi2, dof)) if dof > 0 else float("nan")
    idx = [0] if a1 is None else [0, 1]
    d = theta[idx] - np.array([limit] + ([] if a1 is None else [a1]), dtype=np.float64)
    wald = float(d @ np.linalg.solve(cov[np.ix_(idx, idx)], d))
    z = d / se[idx]
    nan = float("nan")
    fit = FiniteSizeFit(limit=float(theta[0]), limit_se=float(se[0]), a1=float(theta[1]), a1_se=float(se[1]),
                        a2=float(theta[2]) if corrections == 2 else nan, a2_se=float(se[2]) if corrections == 2 else nan,
                        chi2=chi2, dof=dof, p_fit=p_fit, z_limit=float(z[0]),
                        z_a1=float(z[1]) if a1 is not None else nan, p_claim=float(stats.chi2.sf(wald, len(idx))))
    terms = "limit + a1/N" + (" + a2/N^2" if corrections == 2 else "")
    fitted = (f"fit {terms}: limit = {fit.limit:.8g} +- {fit.limit_se:.3g}, a1 = {fit.a1:.6g} +- {fit.a1_se:.3g}"
              + (f", a2 = {fit.a2:.6g} +- {fit.a2_se:.3g}" if corrections == 2 else "")
              + f"; chi^2 = {chi2:.4g} on {dof} dof (p = {p_fit:.3g})")
    cols = dict(N=N, estimate=y, stderr=s, fit=X @ theta, residual_over_se=resid)
    return fit, terms, fitted, cols, z


def assert_finite_size_scaling(Ns, estimates, stderr, limit: float, a1: float | None = None, *,
                               corrections: int = 1, significance: float = 1e-3) -> FiniteSizeFit:
    r"""Assert that finite-size estimates y_i +- s_i extrapolate to ``limit`` as y(N) = limit + a1/N (+ a2/N^2).

    The fit is :func:`finite_size_fit`'s.  Two tests at level ``significance``:

    1. Goodness of fit: chi^2 follows chi^2 with n - (1 + corrections) degrees of freedom if the
       model is right and the s_i are honest; the claim fails when p_fit < significance (standard
       errors too small for the scatter, or corrections beyond the fitted powers of 1/N).  Skipped
       when dof = 0.
    2. The claim: the Wald test of the claimed parameters (the limit, and a1 when given); the claim
       fails when p_claim < significance (for the limit alone: |z| = |limit_fit - limit| / se > the
       two-sided normal quantile, 3.29 at 1e-3).

    Parameters
    ----------
    Ns, estimates, stderr, limit, a1, corrections
        As in :func:`finite_size_fit`.
    significance : float
        Level of both tests, in (0, 1).

    Returns
    -------
    FiniteSizeFit

    Raises
    ------
    AssertionError
        When an estimate is not finite, the fit is bad or the claim is inconsistent with it; the
        message lists N, y, s and the fitted curve with its normalised residuals.
    """
    if not 0.0 < significance < 1.0:
        raise ValueError(f"significance must be in (0, 1), got {significance}")
    if not np.all(np.isfinite(np.asarray(estimates, dtype=np.float64))):
        raise AssertionError("non-finite estimates:\n" + table(N=Ns, estimate=estimates, stderr=stderr))
    fit, terms, fitted, cols, z = _fit(Ns, estimates, stderr, limit, a1, corrections)
    if fit.dof > 0 and fit.p_fit < significance:
        raise AssertionError(f"{terms} does not fit the estimates within their standard errors ({fitted}): "
                             f"stderr too small, or corrections beyond the fitted powers of 1/N:\n" + table(**cols))
    if fit.p_claim < significance:
        claim = f"limit = {limit:.8g}" + ("" if a1 is None else f", a1 = {a1:.6g}")
        raise AssertionError(f"the claim {claim} is inconsistent with the {fitted} (z = "
                             f"{np.array2string(z, precision=3)}, joint p = {fit.p_claim:.3g} < {significance:g}):\n"
                             + table(**cols))
    return fit


def assert_statistically_equal(sample_or_mean, stderr, value, *, z: float = 4.0, value_stderr=0.0):
    r"""Assert that a Monte-Carlo estimate equals ``value`` within ``z`` standard errors.

    z_i = (m_i - v_i) / sqrt(se_i^2 + sv_i^2) and the claim holds iff max_i |z_i| <= z (for a
    correct claim and honest errors, |z_i| > 4 happens with probability 6e-5 per comparison).

    * ``stderr=None``: ``sample_or_mean`` is a sample of independent draws along axis 0 (n >= 2);
      m = its mean, se = std(ddof=1) / sqrt(n).  Correlated draws (Markov chains) need an
      effective-sample-size error: pass the mean and that stderr instead.
    * otherwise ``sample_or_mean`` holds estimates with standard errors ``stderr`` (> 0),
      broadcast elementwise against ``value``.
    * ``value_stderr``: the error of ``value`` when it is itself an estimate (two independent runs).

    Returns
    -------
    float or ndarray
        The z-scores (shape of the broadcast estimates).

    Raises
    ------
    AssertionError
        When some |z_i| > z; the message lists estimate, stderr, value and z-score.
    """
    if not z > 0:
        raise ValueError(f"z must be > 0, got {z}")
    x = np.asarray(sample_or_mean, dtype=np.float64)
    if stderr is None:
        if x.ndim < 1 or x.shape[0] < 2:
            raise ValueError(f"a sample needs at least 2 draws along axis 0, got shape {x.shape}")
        m, se = x.mean(axis=0), x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])
    else:
        m, se = x, np.asarray(stderr, dtype=np.float64)
    sv = np.asarray(value_stderr, dtype=np.float64)
    if np.any(~np.isfinite(se)) or np.any(se < 0) or np.any(~np.isfinite(sv)) or np.any(sv < 0):
        raise ValueError(f"stderr and value_stderr must be finite and >= 0, got {se} and {sv}")
    m, se, v, sv = np.broadcast_arrays(m, se, np.asarray(value, dtype=np.float64), sv)
    total = np.hypot(se, sv)
    if np.any(total == 0):
        raise ValueError("the combined standard error is 0: a Monte-Carlo claim needs its noise "
                         "(use assert_tends_to or numpy.testing for exact values)")
    score = (m - v) / total
    if not np.all(np.isfinite(score)) or np.any(np.abs(score) > z):
        raise AssertionError(f"estimate differs from value by more than {z:g} standard errors:\n"
                             + table(estimate=m.ravel(), stderr=se.ravel(), value=v.ravel(),
                                     value_stderr=sv.ravel(), z=score.ravel()))
    return float(score) if score.ndim == 0 else score
