"""Numeric functions compiled once from the SymPy derivations in ``grokphase.theory.linear_vi``.

One source of truth: nothing here is typed in by hand; each function is ``sympy.lambdify`` of a
theory expression, built on first use and cached for the process.  Arguments follow ``docs/linear_vi.md``'s
symbols: lam = d/n, Nbar = n/sigma^2, iota_p = 1/tau^2, C0 = initial generalisation excess risk.
The theory states late-time results in terms of the lower edge nu_minus; it is computed here as
(1 - sqrt(lam))^2 and passed in, which keeps the compiled forms well conditioned as lam -> 1.
"""

from __future__ import annotations

import math
from functools import cache

import sympy as sp

from grokphase.theory import linear_vi as T

__all__ = ["kappa", "K_emp", "K_gen", "delay_asymptotic", "laplace_crossing_time",
           "grokking_level_ratio", "eu_peak_level_ratio", "levi_gd_delay"]

_S = T.symbols()
_ARGS = (_S["lam"], _S["nu_minus"], _S["Nbar"], _S["iota_p"], _S["C0"])


def _edge(lam):
    return (1.0 - math.sqrt(lam)) ** 2


@cache
def _compiled():
    lev = sp.Symbol("level", positive=True)
    Kx = sp.Symbol("K", positive=True)
    eta0 = T.levi_gd_delay()[1]
    return dict(
        kappa=sp.lambdify(_ARGS, T.kappa(), "math"),
        K_emp=sp.lambdify(_ARGS, T.K_emp(), "math"),
        K_gen=sp.lambdify(_ARGS, T.K_gen(), "math"),
        delay=sp.lambdify(_ARGS, T.delay_asymptotic(), "math"),
        crossing=sp.lambdify(_ARGS + (Kx, lev), T.laplace_crossing_time(Kx, lev), "scipy"),
        grok=float(T.accuracy_level_for(sp.erf(sp.sqrt(2))) / _S["eps"]),
        eu_peak=float(T.eu_peak_level()[1]),
        levi=sp.lambdify((_S["nu_minus"], eta0), T.levi_gd_delay()[0], "math"),
    )


def kappa(lam, Nbar, iota_p=0.0):
    """Late-time decay rate 2 (Nbar (1 - sqrt lam)^2 + iota_p) (Thm C.2)."""
    return _compiled()["kappa"](lam, _edge(lam), Nbar, iota_p, 1.0)


def K_emp(lam, Nbar, iota_p=0.0, C0=1.0):
    """Prefactor of L_emp ~ K_emp t^{-3/2} e^{-kappa t}."""
    return _compiled()["K_emp"](lam, _edge(lam), Nbar, iota_p, C0)


def K_gen(lam, Nbar, iota_p=0.0, C0=1.0):
    """Prefactor of L_gen ~ K_gen t^{-3/2} e^{-kappa t}; K_gen/K_emp = (1 - sqrt lam)^{-2}."""
    return _compiled()["K_gen"](lam, _edge(lam), Nbar, iota_p, C0)


def delay_asymptotic(lam, Nbar, iota_p=0.0):
    """Eq. [80]: log(1/(1 - sqrt lam)) / (Nbar (1 - sqrt lam)^2 + iota_p)."""
    return _compiled()["delay"](lam, _edge(lam), Nbar, iota_p, 1.0)


def laplace_crossing_time(lam, Nbar, iota_p, K, level):
    """Exact crossing time of the asymptotic curve K t^{-3/2} e^{-kappa t} with ``level`` (Lambert W)."""
    return float(_compiled()["crossing"](lam, _edge(lam), Nbar, iota_p, 1.0, K, level).real)


def grokking_level_ratio() -> float:
    """L/eps at the 95% point of the accuracy closure: 1/(4 erfinv(erf(sqrt 2))^2) = 1/8."""
    return _compiled()["grok"]


def eu_peak_level_ratio() -> float:
    """L/eps at the thresholded-EU peak [12]: 1/(4 erfinv(1/2)^2) = 1.0991..."""
    return _compiled()["eu_peak"]


def levi_gd_delay(lam, eta0):
    """Levi et al.'s gradient-descent delay log(1/(1 - sqrt lam)) / (2 eta0 (1 - sqrt lam)^2)."""
    return _compiled()["levi"](_edge(lam), eta0)
