"""Batched samplers for the finite-N copy-task posterior (HMC, overdamped Langevin) and chain
diagnostics (split R-hat, effective sample size)."""

from .diagnostics import effective_sample_size, split_rhat
from .hmc import HMCResult, hmc, hmc_tuple, langevin

__all__ = ["HMCResult", "hmc", "hmc_tuple", "langevin", "split_rhat", "effective_sample_size"]
