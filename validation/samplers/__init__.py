"""Batched samplers for the finite-N copy-task posterior (HMC, overdamped Langevin), their output
in ArviZ's layout (``SamplerRun``: posterior + sample_stats Datasets) and chain diagnostics
(split R-hat, effective sample size)."""

from .diagnostics import Estimate, effective_sample_size, estimate, split_rhat
from .hmc import HMCResult, hmc, hmc_tuple, langevin
from .run import SamplerRun, chain_dataset

__all__ = ["HMCResult", "SamplerRun", "chain_dataset", "hmc", "hmc_tuple", "langevin", "split_rhat",
           "effective_sample_size", "Estimate", "estimate"]
