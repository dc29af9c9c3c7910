"""grokphase: theory-first physics of delayed generalisation and of phase transitions in attention.

Entry points
------------
LinearVIModel, SpectralVIModel   Bayesian linear model of grokking under Gaussian VI (arXiv 2604.12434 §5)
sweep_lam                         all curves on a (lam, t) grid: an xarray.Dataset (grokphase.results saves it)
MarchenkoPastur, DiscreteSpectrum feature spectra for the above
ConvergenceError                  raised when a solver does not converge
"""

from grokphase.linear_vi import ConvergenceError, LinearVIModel, SpectralVIModel, sweep_lam
from grokphase.numerics.spectra import DiscreteSpectrum, MarchenkoPastur

__version__ = "0.1.0"
__all__ = ["LinearVIModel", "SpectralVIModel", "MarchenkoPastur", "DiscreteSpectrum",
           "ConvergenceError", "sweep_lam", "__version__"]
