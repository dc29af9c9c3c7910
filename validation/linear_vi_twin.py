"""Finite-size twin of the linear-VI theory: sample (X, y), solve the flow exactly, measure risks.

Reference: ``docs/linear_vi.md`` §1-§3 (eqs. [3]-[4], [49]-[50], [54]-[55],
[86]); the Marchenko-Pastur curves of ``grokphase.LinearVIModel`` are its n, d -> inf limit.

The flow of Gaussian VI (``freeze_cov=False``) or of plain gradient flow on the weights
(``freeze_cov=True``: Sigma_t = Sigma_0, Levi et al.) is solved in closed form in the eigenbasis
of A = X^T X / sigma^2 + I / tau^2 = U diag(a) U^T:

    mu_t    = mu_inf + U e^{-a t} dbar,                 dbar = U^T (mu_0 - mu_inf)
    Sigma_t = U (diag(1/a) + e^{-a t} Sbar e^{-a t}) U^T,  Sbar = U^T (Sigma_0 - Sigma_inf) U

Risks are then evaluated from their matrix definitions [49]/[50] (``risks``) and, independently,
from the general spectral form [54]/[55] (``spectral_excess_risks``), whose agreement is a test.

Choices: the population covariance is Sigma_x = I (rows x ~ N(0, I_d)); ``init='even'`` spreads the
initial gaps evenly over the eigenbasis (|dbar_i| equal, Sbar = s I), the assumption under which the
MP forms [73]/[74] hold with no sampling noise from the gaps; ``init='prior'`` starts at the prior
mean 0 with covariance ``sigma0_sq`` I.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

__all__ = ["LinearRegressionData", "sample_data", "VIFlowTwin", "vi_flow_twin"]


@dataclass(frozen=True, eq=False)
class LinearRegressionData:
    """X: (n, d) design with N(0, 1) entries; y: (n,); w_star: (d,); sigma_eps: noise std."""

    X: np.ndarray
    y: np.ndarray
    w_star: np.ndarray
    sigma_eps: float


def sample_data(n: int, d: int, *, tau: float = 1.0, sigma_eps: float = 0.0,
                seed: int = 0) -> LinearRegressionData:
    """Draw X (n, d) iid N(0, 1), w* ~ N(0, tau^2 I_d), y = X w* + N(0, sigma_eps^2)."""
    if not (isinstance(n, (int, np.integer)) and isinstance(d, (int, np.integer)) and 0 < d < n):
        raise ValueError(f"need integers 0 < d < n; got n={n}, d={d}")
    if not (tau > 0.0):
        raise ValueError(f"tau must be > 0; got {tau}")
    if not (sigma_eps >= 0.0):
        raise ValueError(f"sigma_eps must be >= 0; got {sigma_eps}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = tau * rng.standard_normal(d)
    y = X @ w + sigma_eps * rng.standard_normal(n)
    return LinearRegressionData(X, y, w, float(sigma_eps))


@dataclass(frozen=True, eq=False)
class VIFlowTwin:
    """Exact finite-size solution of the VI (or gradient) flow.  Build with :func:`vi_flow_twin`.

    Arrays: nu (d,) eigenvalues of X^T X / n (ascending); U (d, d); a (d,) = n nu / sigma^2 + 1/tau^2;
    mu_inf (d,); dbar (d,); Sbar (d, d); times t are arrays of shape (T,).
    """

    data: LinearRegressionData
    sigma2: float
    inv_tau2: float
    freeze_cov: bool
    nu: np.ndarray
    U: np.ndarray
    a: np.ndarray
    mu_inf: np.ndarray
    dbar: np.ndarray
    Sbar: np.ndarray

    @property
    def n(self) -> int:
        return self.data.X.shape[0]

    @property
    def d(self) -> int:
        return self.data.X.shape[1]

    @property
    def C0(self) -> float:
        """(||mu_0 - mu_inf||^2 + Tr(Sigma_0 - Sigma_inf)) / 2 (mean part only if freeze_cov)."""
        cov = 0.0 if self.freeze_cov else np.trace(self.Sbar)
        return 0.5 * (float(self.dbar @ self.dbar) + cov)

    def _decay(self, t):
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if np.any(t < 0.0) or not np.all(np.isfinite(t)):
            raise ValueError("t must be finite and >= 0")
        return np.exp(-np.outer(t, self.a))                     # (T, d)

    def means(self, t) -> np.ndarray:
        """mu_t for each t: shape (T, d)."""
        return self.mu_inf + (self._decay(t) * self.dbar) @ self.U.T

    def cov_diag_eig(self, t) -> np.ndarray:
        """Diagonal of U^T Sigma_t U for each t: shape (T, d)."""
        E = self._decay(t)
        s0 = np.diag(self.Sbar)
        if self.freeze_cov:
            return np.broadcast_to(1.0 / self.a + s0, E.shape).copy()
        return 1.0 / self.a + E**2 * s0

    def covariance(self, t: float) -> np.ndarray:
        """Full Sigma_t (d, d) at one time t."""
        e = self._decay([t])[0]
        inner = self.Sbar if self.freeze_cov else e[:, None] * self.Sbar * e[None, :]
        return self.U @ (np.diag(1.0 / self.a) + inner) @ self.U.T

    def risks(self, t):
        """(L_emp(t), L_gen(t)) from the matrix definitions [49]/[50]; each shape (T,)."""
        X, y = self.data.X, self.data.y
        mus = self.means(t)                                       # (T, d)
        resid = y[None, :] - mus @ X.T                            # (T, n)
        cdiag = self.cov_diag_eig(t)
        emp = 0.5 / self.n * (np.sum(resid**2, axis=1) + self.n * cdiag @ self.nu)
        dev = mus - self.data.w_star
        gen = 0.5 * (np.sum(dev**2, axis=1) + cdiag.sum(axis=1) + self.data.sigma_eps**2)
        return emp, gen

    def excess_risks(self, t):
        """Risks minus their t -> inf limits (matrix route), each shape (T,)."""
        emp, gen = self.risks(t)
        emp_inf, gen_inf = self._risks_at_infinity()
        return emp - emp_inf, gen - gen_inf

    def _risks_at_infinity(self):
        X, y = self.data.X, self.data.y
        r = y - X @ self.mu_inf
        cdiag_inf = 1.0 / self.a + (np.diag(self.Sbar) if self.freeze_cov else 0.0)
        emp = 0.5 / self.n * (r @ r + self.n * cdiag_inf @ self.nu)
        dev = self.mu_inf - self.data.w_star
        gen = 0.5 * (dev @ dev + cdiag_inf.sum() + self.data.sigma_eps**2)
        return emp, gen

    def spectral_excess_risks(self, t):
        """General spectral form [54]/[55] (cross terms included), each shape (T,).

        emp: sum_i 1/2 nu_i (dbar_i^2 + Sbar_ii) E_i^2 - (iota_p/Nbar) mbar_i dbar_i E_i
        gen: sum_i 1/2 (dbar_i^2 + Sbar_ii) E_i^2 + ebar_i dbar_i E_i
        (Sbar_ii omitted when the covariance is frozen).  Derived in
        ``grokphase.theory.linear_vi.spectral_risk_identity_2x2``.
        """
        E = self._decay(t)
        s0 = 0.0 if self.freeze_cov else np.diag(self.Sbar)
        sq = self.dbar**2 + s0
        mbar = self.U.T @ self.mu_inf
        ebar = self.U.T @ (self.mu_inf - self.data.w_star)
        iota = self.inv_tau2 * self.sigma2 / self.n
        emp = 0.5 * (E**2) @ (self.nu * sq) - iota * E @ (mbar * self.dbar)
        gen = 0.5 * (E**2) @ sq + E @ (ebar * self.dbar)
        return emp, gen

    def predictive_variance_traces(self, t):
        """(Tr(Sigma_hat Sigma_t), Tr(Sigma_t)): mean epistemic variance on train / population."""
        c = self.cov_diag_eig(t)
        return c @ self.nu, c.sum(axis=1)

    def accuracy(self, t, X, y, eps: float, *, noise_var: float = 0.0):
        """Exact success probability [86]-[87] averaged over the rows of X (m, d), targets y (m,).

        Residual r = y - x^T w with w ~ q_t: r ~ N(y - x^T mu_t, x^T Sigma_t x + noise_var).
        Returns shape (T,).
        """
        if not eps > 0.0:
            raise ValueError(f"eps must be > 0; got {eps}")
        mus = self.means(t)                                      # (T, d)
        m = y[None, :] - mus @ X.T                               # (T, m)
        xt = X @ self.U                                          # (m, d) in eigenbasis
        E = self._decay(t)
        out = np.empty(mus.shape[0])
        for k in range(mus.shape[0]):
            if self.freeze_cov:
                inner = xt @ self.Sbar
            else:
                inner = (xt * E[k]) @ self.Sbar * E[k]
            v = (xt**2) @ (1.0 / self.a) + np.sum(inner * xt, axis=1) + noise_var
            s = np.sqrt(v)
            root = np.sqrt(eps)
            out[k] = np.mean(ndtr((root - m[k]) / s) - ndtr((-root - m[k]) / s))
        return out


def vi_flow_twin(data: LinearRegressionData, *, sigma2: float, inv_tau2: float = 0.0,
                 init: str = "even", gap: float = 1.0, cov_gap: float = 1.0,
                 sigma0_sq: float = 1.0, freeze_cov: bool = False,
                 mu0: np.ndarray | None = None, Sigma0: np.ndarray | None = None) -> VIFlowTwin:
    """Solve the flow exactly for ``data``.

    sigma2 : likelihood variance sigma^2 > 0;  inv_tau2 : prior precision >= 0.
    init : 'even' -- dbar_i = gap / sqrt(d) for all i and Sbar = (cov_gap / d) I, so that
           ||dbar||^2 = gap^2 and Tr Sbar = cov_gap;
           'prior' -- mu_0 = 0, Sigma_0 = sigma0_sq I;
           'explicit' -- mu0 (d,) and Sigma0 (d, d) given.
    freeze_cov : gradient flow on the weights (Sigma_t = Sigma_0), Levi et al.'s special case.
    """
    if not sigma2 > 0.0:
        raise ValueError(f"sigma2 must be > 0; got {sigma2}")
    if not inv_tau2 >= 0.0:
        raise ValueError(f"inv_tau2 must be >= 0; got {inv_tau2}")
    X, y = data.X, data.y
    n, d = X.shape
    nu, U = np.linalg.eigh(X.T @ X / n)
    a = n * nu / sigma2 + inv_tau2
    mu_inf = U @ ((U.T @ (X.T @ y / sigma2)) / a)
    if init == "even":
        dbar = np.full(d, gap / np.sqrt(d))
        Sbar = np.eye(d) * (cov_gap / d)
    elif init == "prior":
        dbar = U.T @ (0.0 - mu_inf)
        Sbar = sigma0_sq * np.eye(d) - np.diag(1.0 / a)
    elif init == "explicit":
        if mu0 is None or Sigma0 is None or np.shape(mu0) != (d,) or np.shape(Sigma0) != (d, d):
            raise ValueError("init='explicit' needs mu0 of shape (d,) and Sigma0 of shape (d, d)")
        dbar = U.T @ (np.asarray(mu0) - mu_inf)
        Sbar = U.T @ np.asarray(Sigma0) @ U - np.diag(1.0 / a)
    else:
        raise ValueError(f"init must be 'even', 'prior' or 'explicit'; got {init!r}")
    return VIFlowTwin(data, float(sigma2), float(inv_tau2), bool(freeze_cov), nu, U, a, mu_inf,
                      dbar, Sbar)
