"""Approximate Bayesian posteriors for the NumPy transformer and the uncertainty decomposition."""

from .laplace import LastLayerLaplace, last_layer_laplace
from .swag import SWAG
from .uncertainty import uncertainty_decomposition

__all__ = ["uncertainty_decomposition", "LastLayerLaplace", "last_layer_laplace", "SWAG"]
