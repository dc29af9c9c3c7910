"""Compiled numerics (Numba): quadrature, root finding, continuation, phase diagrams.

Importing the package registers a listener that logs Numba compilations of its kernels (see
``_compile_log``), so that a first, compiling call says so instead of waiting silently.
"""

from grokphase.numerics import _compile_log

_compile_log.install()
