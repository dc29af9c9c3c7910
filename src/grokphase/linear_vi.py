"""User-level API for the Bayesian linear model of delayed generalisation.

Reference: Qchohi & Rossi, arXiv 2604.12434, Section 5 and Appendix C (bracketed numbers are its
equations); model: ``docs/linear_vi.md``.

* :class:`LinearVIModel` -- the Marchenko-Pastur limit (aspect ratio ``lam`` = d/n).
* :class:`SpectralVIModel` -- the same quantities for any feature spectrum (eigenvalues with weights).

Conventions and choices (documented, tested):

* Time is Bures-Wasserstein flow time [3]-[4] (no learning rate).  Gradient flow on the weights
  with loss (1/n)||y - Xw||^2 and rate eta0 (Levi et al.) is the mean flow with n/sigma^2 = 2 eta0.
* ``excess_risk`` returns the matched-regime spectral forms [73]/[74] with prefactor C0, so the
  generalisation excess risk equals C0 at t = 0 (and the training one C0 E[nu], = C0 for MP).
* ``accuracy`` and ``eu_threshold`` use the late-time closure [95], A = erf(sqrt(eps/(4 L))).
* Grokking time: where the excess risk crosses eps/8 (A = erf(sqrt 2) = 95.45%); EU-peak time:
  where it crosses eps/(4 erfinv(1/2)^2) = 1.0991 eps, the maximum of the closure EU [11]-[12].
  A curve that starts below the level has crossing time 0.
* ``delay()`` is the exact numerical delay from the curves (primary); ``delay_asymptotic()`` is
  the leading-order formula [80] (its asymptote as eps -> 0).
* Regression-level EU [92] needs two more numbers than the model's constructor carries: the noise
  variance sigma^2 (matched, sigma_eps^2 = sigma^2) and the share of C0 held by the covariance gap;
  they are keyword arguments of :meth:`eu_regression`, with defaults 1.0 and 0.5.
* Root finding failures raise :class:`ConvergenceError`; the underlying :class:`CrossingResult`
  objects (with ``converged``, ``residual``, ``iterations``) are available from
  :meth:`crossing_times`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grokphase._checks import positive as _positive
from grokphase.numerics import linear_vi_closed_forms as closed
from grokphase.numerics.errors import ConvergenceError
from grokphase.numerics.log_time_roots import CrossingResult, crossing_time
from grokphase.numerics.mp_quadrature import mp_log_laplace_moments
from grokphase.numerics.spectra import DiscreteSpectrum, MarchenkoPastur
from grokphase.numerics.vi_curves import (accuracy_closure, eu_regression, eu_threshold,
                                          log_excess_risks)

__all__ = ["LinearVIModel", "SpectralVIModel", "ConvergenceError", "sweep_lam"]


def _check_eu_regression_args(sigma2: float, cov_share: float) -> None:
    _positive("sigma2", sigma2)
    if not (0.0 <= cov_share <= 1.0):
        raise ValueError(f"cov_share must lie in [0, 1]; got {cov_share}")


def _curves_from_log_risks(spectrum, le, lg, Nbar, iota_p, eps, sigma2, cov_share):
    _check_eu_regression_args(sigma2, cov_share)
    reg = eu_regression(spectrum, le, lg, Nbar, iota_p, sigma2, cov_share)
    return dict(excess_emp=np.exp(le), excess_gen=np.exp(lg),
                acc_emp=accuracy_closure(le, eps), acc_gen=accuracy_closure(lg, eps),
                eu_th_emp=eu_threshold(le, eps), eu_th_gen=eu_threshold(lg, eps),
                eu_reg_emp=reg[0], eu_reg_gen=reg[1])


class _SpectralCurves:
    """Shared methods; subclasses provide ``spectrum``, ``n_over_sigma2``, ``inv_tau2``, ``eps``, ``C0``."""

    def _validate_common(self):
        _positive("n_over_sigma2", self.n_over_sigma2)
        _positive("eps", self.eps)
        _positive("C0", self.C0)
        if not (math.isfinite(self.inv_tau2) and self.inv_tau2 >= 0.0):
            raise ValueError(f"inv_tau2 must be finite and >= 0; got {self.inv_tau2}")

    # --- curves -----------------------------------------------------------------------
    def log_excess_risk(self, t):
        """Logarithms of the excess risks; never underflows.

        Parameters
        ----------
        t : array-like
            Flow times >= 0, any shape.
        Returns
        -------
        (ndarray, ndarray)
            log L_emp(t) and log L_gen(t), each of the shape of t.
        """
        return log_excess_risks(self.spectrum, t, self.n_over_sigma2, self.inv_tau2, self.C0)

    def excess_risk(self, t):
        """The excess risks in the MP/spectral limit [73]/[74].

        Parameters
        ----------
        t : array-like
            Flow times >= 0, any shape.
        Returns
        -------
        (ndarray, ndarray)
            L_emp(t) and L_gen(t), each of the shape of t.
        """
        le, lg = self.log_excess_risk(t)
        return np.exp(le), np.exp(lg)

    def accuracy(self, t):
        """Training and test accuracy from the closure [95].

        Parameters
        ----------
        t : array-like
            Flow times >= 0, any shape.
        Returns
        -------
        (ndarray, ndarray)
            A_emp(t) and A_gen(t) in [0, 1], each of the shape of t.

        Examples
        --------
        >>> acc_emp, acc_gen = LinearVIModel(0.6, 5e7).accuracy(np.array([1e-8, 1e-6]))
        >>> np.round(acc_emp, 3).tolist(), np.round(acc_gen, 3).tolist()     # train first, then test
        ([0.034, 1.0], [0.026, 1.0])
        """
        le, lg = self.log_excess_risk(t)
        return accuracy_closure(le, self.eps), accuracy_closure(lg, self.eps)

    def eu_threshold(self, t):
        """Thresholded epistemic uncertainty [11].

        Parameters
        ----------
        t : array-like
            Flow times >= 0, any shape.
        Returns
        -------
        (ndarray, ndarray)
            EU_emp(t) and EU_gen(t) in nats (at most ln 2), each of the shape of t.
        """
        le, lg = self.log_excess_risk(t)
        return eu_threshold(le, self.eps), eu_threshold(lg, self.eps)

    def eu_regression(self, t, *, sigma2: float = 1.0, cov_share: float = 0.5):
        """Regression-level epistemic uncertainty [92]; monotone in t (no peak).

        Parameters
        ----------
        t : array-like
            Flow times >= 0, any shape.
        sigma2 : float
            Noise variance sigma^2 = sigma_eps^2 (> 0), in the units of C0.
        cov_share : float
            Fraction of C0 carried by the covariance gap, Tr(Sigma_0 - Sigma_inf)/2, in [0, 1].

        Returns
        -------
        (ndarray, ndarray)
            EU_emp(t) and EU_gen(t) in nats, each of the shape of t.
        """
        _check_eu_regression_args(sigma2, cov_share)
        le, lg = self.log_excess_risk(t)
        return eu_regression(self.spectrum, le, lg, self.n_over_sigma2, self.inv_tau2,
                             sigma2, cov_share)

    def curves(self, t, *, sigma2: float = 1.0, cov_share: float = 0.5) -> dict[str, np.ndarray]:
        """All curves from one evaluation of the spectral moments.

        Parameters
        ----------
        t : array-like
            Flow times >= 0, any shape.
        sigma2, cov_share : float
            As in :meth:`eu_regression`.

        Returns
        -------
        dict of str to ndarray
            excess_emp, excess_gen, acc_emp, acc_gen, eu_th_emp, eu_th_gen, eu_reg_emp, eu_reg_gen,
            each of the shape of t.
        """
        le, lg = self.log_excess_risk(t)
        return _curves_from_log_risks(self.spectrum, le, lg, self.n_over_sigma2, self.inv_tau2,
                                      self.eps, sigma2, cov_share)

    # --- milestones ---------------------------------------------------------------------
    @property
    def kappa(self) -> float:
        """Late-time decay rate of both excess risks, 2 (Nbar nu_min + 1/tau^2)."""
        return 2.0 * (self.n_over_sigma2 * self.spectrum.nu_min + self.inv_tau2)

    def crossing_times(self, level: float) -> tuple[CrossingResult, CrossingResult]:
        """Times at which the excess risks cross ``level``, with the root finder's diagnostics.

        Parameters
        ----------
        level : float
            Excess-risk level, > 0.

        Returns
        -------
        (CrossingResult, CrossingResult)
            Training and test crossing: t, converged, residual, iterations.
        """
        log_level = math.log(_positive("level", level))
        scale = 1.0 / self.kappa
        return (crossing_time(lambda t: self.log_excess_risk(t)[0], log_level, scale),
                crossing_time(lambda t: self.log_excess_risk(t)[1], log_level, scale))

    def _times(self, level: float) -> tuple[float, float]:
        out = []
        for name, res in zip(("emp", "gen"), self.crossing_times(level)):
            if not res.converged:
                raise ConvergenceError(f"{name} crossing of level {level:g} failed: {res}")
            out.append(res.t)
        return tuple(out)

    def grokking_times(self) -> tuple[float, float]:
        """Grokking times: where the excess risks cross eps/8 (95% closure accuracy).

        Returns
        -------
        (float, float)
            t_emp and t_gen.

        Raises
        ------
        ConvergenceError
            If a crossing cannot be located.
        """
        return self._times(closed.grokking_level_ratio() * self.eps)

    def eu_peak_times(self) -> tuple[float, float]:
        """EU-peak times: where the thresholded EU peaks, excess risk = 1.0991 eps [12].

        Returns
        -------
        (float, float)
            t_emp and t_gen.
        """
        return self._times(closed.eu_peak_level_ratio() * self.eps)

    def delay(self) -> float:
        """Exact numerical grokking delay from the curves (the primary quantity).

        Returns
        -------
        float
            t_gen - t_emp of :meth:`grokking_times`.

        Examples
        --------
        >>> m = LinearVIModel(0.6, 5e7)
        >>> f"{m.delay():.4g} exact vs {m.delay_asymptotic():.4g} from [80]"
        '3.631e-07 exact vs 5.865e-07 from [80]'
        """
        t_emp, t_gen = self.grokking_times()
        return t_gen - t_emp

    def eu_peak_delay(self) -> float:
        """Exact numerical EU-peak delay (Theorem 5.1: same leading order as [80]).

        Returns
        -------
        float
            t_gen - t_emp of :meth:`eu_peak_times`.
        """
        t_emp, t_gen = self.eu_peak_times()
        return t_gen - t_emp

    def delay_asymptotic(self) -> float:
        """Leading-order delay log(K_gen/K_emp)/kappa = log(1/nu_min)/kappa (eq. [80] for MP)."""
        return math.log(1.0 / self.spectrum.nu_min) / self.kappa


@dataclass(frozen=True)
class LinearVIModel(_SpectralCurves):
    """Gaussian VI on Bayesian linear regression in the Marchenko-Pastur limit.

    Parameters
    ----------
    lam : float
        Aspect ratio d/n in (0, 1).
    n_over_sigma2 : float
        n / sigma^2 > 0; sets the time scale (about 5e7 reproduces the paper's Fig. 6 axis).
    inv_tau2 : float
        Prior precision 1/tau^2 >= 0 (0: flat prior).
    eps : float
        Success threshold on the squared residual, > 0.
    C0 : float
        Initial generalisation excess risk, (||mu_0 - mu_inf||^2 + Tr(Sigma_0 - Sigma_inf))/2 > 0.

    Raises
    ------
    ValueError
        A parameter outside its range (the message names it).

    Examples
    --------
    >>> m = LinearVIModel(0.6, 5e7)
    >>> t_emp, t_gen = m.grokking_times()
    >>> t_gen > t_emp, round(m.K_gen / m.K_emp, 4) == round((1 - 0.6 ** 0.5) ** -2, 4)   # [78]
    (True, True)
    """

    lam: float
    n_over_sigma2: float
    inv_tau2: float = 0.0
    eps: float = 1e-3
    C0: float = 1.0

    def __post_init__(self):
        if not (0.0 < float(self.lam) < 1.0):
            raise ValueError(f"lam must lie in the open interval (0, 1); got {self.lam}")
        self._validate_common()

    @property
    def spectrum(self) -> MarchenkoPastur:
        return MarchenkoPastur(self.lam)

    @property
    def kappa(self) -> float:
        """kappa = 2 (Nbar (1 - sqrt lam)^2 + 1/tau^2) (Thm C.2), compiled from the SymPy derivation."""
        return closed.kappa(self.lam, self.n_over_sigma2, self.inv_tau2)

    @property
    def K_emp(self) -> float:
        """L_emp ~ K_emp t^{-3/2} e^{-kappa t} as t -> inf (Laplace's method at the MP edge)."""
        return closed.K_emp(self.lam, self.n_over_sigma2, self.inv_tau2, self.C0)

    @property
    def K_gen(self) -> float:
        """L_gen ~ K_gen t^{-3/2} e^{-kappa t}; K_gen/K_emp = (1 - sqrt lam)^{-2} [78]."""
        return closed.K_gen(self.lam, self.n_over_sigma2, self.inv_tau2, self.C0)

    def delay_asymptotic(self) -> float:
        """Eq. [80]: log(1/(1 - sqrt lam)) / ((n/sigma^2)(1 - sqrt lam)^2 + 1/tau^2)."""
        return closed.delay_asymptotic(self.lam, self.n_over_sigma2, self.inv_tau2)

    def laplace_grokking_times(self) -> tuple[float, float]:
        """(t_emp, t_gen) where the ASYMPTOTIC curves K t^{-3/2} e^{-kappa t} cross eps/8 (Lambert W).

        Sits between the exact times and [80]: it keeps the 3/2 log t term that [80] drops.
        """
        level = closed.grokking_level_ratio() * self.eps
        args = (self.lam, self.n_over_sigma2, self.inv_tau2)
        return (closed.laplace_crossing_time(*args, self.K_emp, level),
                closed.laplace_crossing_time(*args, self.K_gen, level))


@dataclass(frozen=True)
class SpectralVIModel(_SpectralCurves):
    """The same model on any feature spectrum (e.g. ``DiscreteSpectrum(eigs, weights)``).

    The late-time asymptote of a discrete spectrum is a pure exponential (no t^{-3/2});
    ``delay_asymptotic`` is log(1/nu_min)/kappa for both kinds of spectrum.

    Parameters
    ----------
    spectrum : MarchenkoPastur or DiscreteSpectrum
        Or any object with their interface (``log_laplace_moments``, ``nu_min``).
    n_over_sigma2, inv_tau2, eps, C0 : float
        As in :class:`LinearVIModel`.

    Examples
    --------
    >>> s = SpectralVIModel(DiscreteSpectrum(np.linspace(0.1, 3, 50)), n_over_sigma2=5e7)
    >>> f"{s.delay():.3g}"
    '2.06e-07'
    """

    spectrum: DiscreteSpectrum | MarchenkoPastur
    n_over_sigma2: float
    inv_tau2: float = 0.0
    eps: float = 1e-3
    C0: float = 1.0

    def __post_init__(self):
        if not hasattr(self.spectrum, "log_laplace_moments"):
            raise ValueError("spectrum must be a MarchenkoPastur or DiscreteSpectrum (or alike)")
        self._validate_common()


_SWEEP_VARS = {  # name: (long_name, units)
    "excess_emp": ("training excess risk L_emp(t) [73]", "1"),
    "excess_gen": ("generalisation excess risk L_gen(t) [74]", "1"),
    "acc_emp": ("training accuracy, closure [95]", "1"),
    "acc_gen": ("test accuracy, closure [95]", "1"),
    "eu_th_emp": ("thresholded epistemic uncertainty [11], training", "nats"),
    "eu_th_gen": ("thresholded epistemic uncertainty [11], test", "nats"),
    "eu_reg_emp": ("regression-level epistemic uncertainty [92], training", "nats"),
    "eu_reg_gen": ("regression-level epistemic uncertainty [92], test", "nats"),
}


def sweep_lam(lams, t, *, n_over_sigma2: float, inv_tau2: float = 0.0, eps: float = 1e-3,
              C0: float = 1.0, sigma2: float = 1.0, cov_share: float = 0.5) -> "xarray.Dataset":
    """Evaluate every curve of :class:`LinearVIModel` for all lam and t, as a labelled Dataset.

    One parallel pass of the MP quadrature over the whole grid (the fast path measured in
    ``benchmarks/bench_linear_vi_curves.py``); parameters are validated as in the model.

    Parameters
    ----------
    lams : array-like, shape (Lam,)
        Aspect ratios d/n in (0, 1).
    t : array-like, shape (T,)
        Flow times >= 0.
    n_over_sigma2, inv_tau2, eps, C0 : float
        As in :class:`LinearVIModel`.
    sigma2, cov_share : float
        As in :meth:`LinearVIModel.eu_regression`.

    Returns
    -------
    xarray.Dataset
        Dimensions (``lam``, ``t``); variables excess_emp, excess_gen, acc_emp, acc_gen, eu_th_emp,
        eu_th_gen, eu_reg_emp, eu_reg_gen (each (Lam, T), with ``long_name``/``units``) and
        ``kappa`` (Lam,), the rate of the late-time exponential; the parameters as float attributes.
        Save with ``grokphase.results.save_dataset``.

    Examples
    --------
    >>> sw = sweep_lam([0.2, 0.6], np.logspace(-9, -4, 5), n_over_sigma2=5e7)
    >>> sw.acc_gen.dims, sw.attrs["n_over_sigma2"]
    (('lam', 't'), 50000000.0)
    """
    import xarray as xr  # lazily: ``import grokphase`` (and the CLI) stay fast

    lams = np.atleast_1d(np.asarray(lams, dtype=np.float64))
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if lams.ndim != 1 or t.ndim != 1:
        raise ValueError("lams and t must be 1-d arrays")
    models = [LinearVIModel(float(lam), n_over_sigma2, inv_tau2, eps, C0) for lam in lams]  # validation
    if not np.all(np.isfinite(t)) or np.any(t < 0.0):
        raise ValueError("t must be finite and >= 0")
    l0, l1 = mp_log_laplace_moments(lams, 2.0 * n_over_sigma2 * t)
    kappas = np.array([m.kappa for m in models])[:, None]
    base = math.log(C0) - kappas * t[None, :]
    out = {k: np.empty((lams.size, t.size)) for k in
           ("excess_emp", "excess_gen", "acc_emp", "acc_gen", "eu_th_emp", "eu_th_gen",
            "eu_reg_emp", "eu_reg_gen")}
    for i, m in enumerate(models):
        row = _curves_from_log_risks(m.spectrum, base[i] + l1[i], base[i] + l0[i], n_over_sigma2,
                                     inv_tau2, eps, sigma2, cov_share)
        for k, v in row.items():
            out[k][i] = v
    attrs = {k: float(v) for k, v in dict(n_over_sigma2=n_over_sigma2, inv_tau2=inv_tau2, eps=eps, C0=C0,
                                          sigma2=sigma2, cov_share=cov_share).items()}
    attrs["model"] = "LinearVIModel (MP limit), arXiv 2604.12434 [73]/[74]"
    data = {k: (("lam", "t"), v, {"long_name": _SWEEP_VARS[k][0], "units": _SWEEP_VARS[k][1]})
            for k, v in out.items()}
    data["kappa"] = ("lam", kappas[:, 0], {"long_name": "late-time rate kappa of the excess risk", "units": "1"})
    coords = {"lam": ("lam", lams, {"long_name": "aspect ratio lam = d/n", "units": "1"}),
              "t": ("t", t, {"long_name": "Bures-Wasserstein flow time t", "units": "1"})}
    return xr.Dataset(data, coords=coords, attrs=attrs)
