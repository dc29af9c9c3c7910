"""grokphase: theory-first physics of delayed generalisation and of phase transitions in attention.

Entry points
------------
LinearVIModel, SpectralVIModel   Bayesian linear model of grokking under Gaussian VI (arXiv 2604.12434 §5)
sweep_lam                         all curves on a (lam, t) grid: an xarray.Dataset (grokphase.results saves it)
MarchenkoPastur, DiscreteSpectrum feature spectra for the above
ConvergenceError                  raised when a solver does not converge

The entry points are imported on first access, so that ``import grokphase.cli`` (and
``grokphase --help``) does not pay for NumPy, Numba and SciPy.
"""

from importlib import import_module

__version__ = "0.1.0"

_ENTRY_POINTS = {
    "LinearVIModel": "grokphase.linear_vi", "SpectralVIModel": "grokphase.linear_vi",
    "ConvergenceError": "grokphase.linear_vi", "sweep_lam": "grokphase.linear_vi",
    "MarchenkoPastur": "grokphase.numerics.spectra", "DiscreteSpectrum": "grokphase.numerics.spectra",
}
__all__ = ["LinearVIModel", "SpectralVIModel", "MarchenkoPastur", "DiscreteSpectrum",
           "ConvergenceError", "sweep_lam", "__version__"]


_SUBPACKAGES = ("attention", "linear_vi", "exposure", "results", "testing", "theory", "numerics", "validation",
                "paper_figs", "cli", "warmup")


def __getattr__(name):
    if name in _SUBPACKAGES:
        return import_module(f"grokphase.{name}")
    if name in _ENTRY_POINTS:
        value = getattr(import_module(_ENTRY_POINTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'grokphase' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
