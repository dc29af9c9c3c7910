"""Finite-N equilibrium of softmax attention (docs/attention_copy.md §7-§8; one-hot tokens:
docs/attention_onehot.md §8): alpha_c(N) from umbrella sampling + MBAR, its fit
alpha_c(N) = alpha_c + a1/N, the one-loop a1 (``validation.one_loop``) and the barrier per N.

Design :class:`Equilibrium`, point :func:`point` (one width N and seed), swept over ``N x seed``;
:func:`summarize` fits alpha_c(N) over N for each seed and for the seed means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import xarray as xr

from grokphase import _checks, attention
from grokphase.sweep.design import OMIT_DEFAULT, design_of
from grokphase.testing.statistics import finite_size_fit
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
        if self.V is not None:
            object.__setattr__(self, "V", _checks.integer("V", self.V, lo=2, note="None: Gaussian tokens"))

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
    """The fits alpha_c(N) = alpha_c + a1/N against the large-N beta_c and the one-loop a1
    (``testing.finite_size_fit``, weighted least squares).

    * Per seed (dimension ``seed``): weights from the block-bootstrap standard errors
      ``alpha_c_se``: ``alpha_c_extrapolated`` (+ ``_se``), ``a1_fit`` (+ ``_se``),
      ``rel_err_extrapolation``.
    * Pooled over seeds (with >= 2 seeds): per N the seed mean ``alpha_c_seed_mean`` and the
      between-seed standard error ``alpha_c_seed_se`` (std / sqrt(n_seeds)), and the fit weighted by
      them: ``pooled_alpha_c_extrapolated`` (+ ``_se``), ``pooled_a1_fit`` (+ ``_se``),
      ``pooled_chi2``, ``pooled_dof``, ``pooled_p_fit`` (goodness of fit), ``pooled_z_limit``,
      ``pooled_z_a1`` and ``pooled_p_claim`` (joint Wald test of beta_c and the one-loop a1).  Use
      these: the bootstrap errors of one run are too small for the seed-to-seed scatter
      (docs/attention_onehot.md §8).

    Also the one-loop a1 and delta, its prediction beta_c + a1/N, beta_c and the large-N barrier.
    Needs >= 2 widths N and bootstrap errors that are finite and > 0 (ValueError otherwise).
    """
    d = design_of(ds)
    t = attention.transition(L=d.L, kind=d.variant, s_qk=d.s_qk, s_uv=d.s_uv)
    ol = one_loop_shift(d.L, d.s_qk, d.s_uv, d.V)
    Ns = ds.N.values
    fits = [finite_size_fit(Ns, ds.alpha_c.sel(seed=seed).values, ds.alpha_c_se.sel(seed=seed).values,
                            t.beta_c, ol["a1"]) for seed in ds.seed.values]
    seed = ("seed",)
    out = {"alpha_c_extrapolated": (seed, [f.limit for f in fits]),
           "alpha_c_extrapolated_se": (seed, [f.limit_se for f in fits]),
           "a1_fit": (seed, [f.a1 for f in fits]), "a1_fit_se": (seed, [f.a1_se for f in fits]),
           "rel_err_extrapolation": (seed, [f.limit / t.beta_c - 1 for f in fits]),
           "one_loop_prediction": ("N", t.beta_c + ol["a1"] / Ns),
           "beta_c": t.beta_c, "a1_one_loop": ol["a1"], "delta_one_loop": ol["delta"], "barrier_large_n": t.barrier}
    n_seeds = ds.sizes["seed"]
    if n_seeds >= 2:
        mean = ds.alpha_c.mean("seed")
        se = ds.alpha_c.std("seed", ddof=1) / np.sqrt(n_seeds)
        f = finite_size_fit(Ns, mean.values, se.values, t.beta_c, ol["a1"])
        out |= {"alpha_c_seed_mean": mean, "alpha_c_seed_se": se,
                "pooled_alpha_c_extrapolated": f.limit, "pooled_alpha_c_extrapolated_se": f.limit_se,
                "pooled_a1_fit": f.a1, "pooled_a1_fit_se": f.a1_se, "pooled_chi2": f.chi2, "pooled_dof": f.dof,
                "pooled_z_limit": f.z_limit, "pooled_z_a1": f.z_a1, "pooled_p_claim": f.p_claim}
        if f.dof > 0:
            out["pooled_p_fit"] = f.p_fit
    return xr.Dataset(out, coords={"seed": ds.seed.values, "N": Ns}, attrs=ds.attrs)
