"""Approximate Bayesian posteriors for the NumPy transformer and the uncertainty decomposition."""

from .ivon import IVON, IVONSettings
from .laplace import KFACLaplace, LastLayerLaplace, fit_transformer_laplace, last_layer_laplace
from .sampling import ensemble_probs, mc_dropout_probs
from .swag import SWAG
from .uncertainty import uncertainty_decomposition

__all__ = ["uncertainty_decomposition", "IVON", "IVONSettings", "LastLayerLaplace", "KFACLaplace",
           "last_layer_laplace", "fit_transformer_laplace", "SWAG", "ensemble_probs",
           "mc_dropout_probs"]
