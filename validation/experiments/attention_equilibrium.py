"""Finite-N equilibrium of softmax attention (docs/attention_copy.md §7-§8; one-hot tokens:
docs/attention_onehot.md §8): alpha_c(N) from umbrella sampling + MBAR, its fit
alpha_c(N) = alpha_c + a1/N, the one-loop a1 (``validation.one_loop``) and the barrier per N.

Design :class:`Equilibrium`, point :func:`point` (one width N and seed), swept over ``N x seed``;
:func:`summarize` fits alpha_c(N) over N for each seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import xarray as xr

from grokphase import attention
from grokphase.sweep.design import OMIT_DEFAULT, design_of
from grokphase.validation.one_loop import one_loop_shift
from grokphase.validation.umbrella import equal_mass_point, sample_windows, softmax_variant

SCALARS = ("alpha_c", "alpha_c_se", "split", "barrier", "k_b", "alpha0")


@dataclass(frozen=True)
class Equilibrium:
    """Fixed parameters of the umbrella + MBAR experiment (softmax attention, sigma^2 = 1).

    Parameters
    ----------
    L : int
        Sequence length (the transition must be first order at (L, s_qk, s_uv)).
    s_qk, s_uv : float
        Prior scale products (> 0).
    n_iter : int
        HMC iterations per window (first half discarded; >= 20).
    chains_per : int
        Chains per umbrella window (>= 1).
    n_boot : int
        Block-bootstrap resamples for the standard error of alpha_c(N) (>= 2).
    V : int, optional
        One-hot tokens with vocabulary size V (>= 2; ``validation.onehot_attention``); None (the
        default, left out of the design's identity): Gaussian tokens.
    """

    L: int = 8
    s_qk: float = 0.25
    s_uv: float = 9.0
    n_iter: int = 2000
    chains_per: int = 1
    n_boot: int = 20
    V: int | None = field(default=None, metadata={OMIT_DEFAULT: True})

    VERSION: ClassVar[int] = 1
    LABELS: ClassVar[dict] = {
        "N": {"long_name": "width N"}, "seed": {"long_name": "random seed"},
        "alpha_c": {"long_name": "finite-N equal-mass point alpha_c(N)"},
        "alpha_c_se": {"long_name": "block-bootstrap standard error of alpha_c(N)"},
        "split": {"long_name": "kappa_hat splitting the two basins"},
        "barrier": {"long_name": "free-energy barrier per width at alpha_c(N)"},
        "profile": {"long_name": "-log p_N(kappa_hat) / N at alpha_c(N)"},
        "kappa_bin": {"long_name": "kappa_hat (bin centre)"},
        "k_b": {"long_name": "umbrella spring constant"}, "alpha0": {"long_name": "sampled alpha"}}

    def __post_init__(self):
        if self.L < 2 or not (self.s_qk > 0 and self.s_uv > 0):
            raise ValueError(f"need L >= 2, s_qk > 0, s_uv > 0; got {self.L}, {self.s_qk}, {self.s_uv}")
        if self.n_iter < 20 or self.chains_per < 1 or self.n_boot < 2:
            raise ValueError(f"need n_iter >= 20, chains_per >= 1, n_boot >= 2; got {self.n_iter}, "
                             f"{self.chains_per}, {self.n_boot}")
        if self.V is not None and not (isinstance(self.V, int) and self.V >= 2):
            raise ValueError(f"V must be None (Gaussian tokens) or an integer >= 2, got {self.V!r}")

    @property
    def variant(self) -> attention.Variant:
        """The softmax model sampled: Gaussian tokens, or one-hot tokens with vocabulary V."""
        return softmax_variant(self.V)

    def warmup(self) -> None:
        """Load the large-N solver's compiled kernels (Numba cache) in this process."""
        attention.transition(L=self.L, kind=self.variant, s_qk=self.s_qk, s_uv=self.s_uv)


def point(design: Equilibrium, N: int, seed: int) -> xr.Dataset:
    """Umbrella windows at one width N, pooled by MBAR: alpha_c(N), its standard error, the split,
    the barrier, k_b, alpha0 (scalars) and the profile over ``kappa_bin``."""
    d = design
    run = sample_windows(N, n_iter=d.n_iter, seed=seed, L=d.L, s_qk=d.s_qk, s_uv=d.s_uv, chains_per=d.chains_per,
                         V=d.V)
    r = equal_mass_point(run, n_boot=d.n_boot, seed=seed)
    return xr.Dataset({**{k: r[k] for k in SCALARS}, "n_windows": int(run.posterior["window"].values.max()) + 1,
                       "profile": ("kappa_bin", np.array(r["profile"]))},
                      coords={"kappa_bin": np.array(r["profile_kappa"])})


def summarize(ds: xr.Dataset) -> xr.Dataset:
    """Per seed: weighted least squares alpha_c(N) = alpha_c + a1/N (weights 1/se^2 from the
    bootstrap when all are positive) with standard errors, against the large-N beta_c, the one-loop a1 and its
    prediction beta_c + a1/N; the large-N barrier."""
    d = design_of(ds)
    t = attention.transition(L=d.L, kind=d.variant, s_qk=d.s_qk, s_uv=d.s_uv)
    inv = 1.0 / ds.N.values
    fits = []
    for seed in ds.seed.values:
        ac, se = ds.alpha_c.sel(seed=seed).values, ds.alpha_c_se.sel(seed=seed).values
        w = 1.0 / se if np.all(np.isfinite(se)) and np.all(se > 0) else None
        if len(inv) > 2:
            (a1, ainf), cov = np.polyfit(inv, ac, 1, w=w, cov="unscaled" if w is not None else True)
        else:
            (a1, ainf), cov = np.polyfit(inv, ac, 1), np.full((2, 2), np.nan)
        fits.append((ainf, a1, np.sqrt(cov[1, 1]), np.sqrt(cov[0, 0])))
    ainf, a1, ainf_se, a1_se = np.array(fits).T
    seed = ("seed",)
    ol = one_loop_shift(d.L, d.s_qk, d.s_uv, d.V)
    return xr.Dataset({"alpha_c_extrapolated": (seed, ainf), "alpha_c_extrapolated_se": (seed, ainf_se),
                       "a1_fit": (seed, a1), "a1_fit_se": (seed, a1_se),
                       "rel_err_extrapolation": (seed, ainf / t.beta_c - 1),
                       "one_loop_prediction": ("N", t.beta_c + ol["a1"] * inv),
                       "beta_c": t.beta_c, "a1_one_loop": ol["a1"], "delta_one_loop": ol["delta"],
                       "barrier_large_n": t.barrier},
                      coords={"seed": ds.seed.values, "N": ds.N.values}, attrs=ds.attrs)
