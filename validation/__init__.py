"""Experiments that test the theory: the finite-size linear-VI twin, and a PyTorch-free NumPy
transformer (``nn``, ``optim``, ``tasks``, ``training``, ``progress``, ``experiments``)."""

from .bayes import uncertainty_decomposition
from .copy_posterior import copy_posterior_means
from .nn import Transformer, TransformerConfig

__all__ = ["Transformer", "TransformerConfig", "copy_posterior_means", "uncertainty_decomposition"]
