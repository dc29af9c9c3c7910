"""Approximate Bayesian posteriors for the NumPy transformer and the uncertainty decomposition."""

from .uncertainty import uncertainty_decomposition

__all__ = ["uncertainty_decomposition"]
