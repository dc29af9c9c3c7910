"""Compile the package's Numba kernels ahead of use (``grokphase warmup``).

Every kernel is compiled with ``cache=True``, so a compilation is paid once per install (and again
after the code changes); later processes load the machine code from the on-disk cache.
:func:`warm_kernels` runs a small workload that calls every public solver once (both attention
kinds, the linear-VI curves and milestones), so that a first real call neither compiles nor waits,
and reports what it compiled and how long that took against a second, in-memory run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

__all__ = ["WarmupResult", "warm_kernels", "kernel_dispatchers"]

log = logging.getLogger("grokphase.warmup")

# Modules of grokphase.numerics that hold no kernels run by the package: the code generators
# (``*_codegen``), which import SymPy.
_NOT_RUNTIME_SUFFIX = "_codegen"


@dataclass(frozen=True)
class WarmupResult:
    """What :func:`warm_kernels` did.

    Attributes
    ----------
    first_seconds : float
        Wall time of the workload the first time in this process: compiling the kernels missing
        from Numba's on-disk cache and loading the others.
    repeat_seconds : float
        Wall time of the same workload again, every kernel already in memory.
    compiled : tuple of str
        Kernels (``module.function``) compiled by this call, i.e. not found in the on-disk cache.
    kernels : tuple of str
        Every Numba kernel of ``grokphase.numerics``.
    not_exercised : tuple of str
        Kernels that the workload did not reach (they compile on their first use elsewhere).
    """

    first_seconds: float
    repeat_seconds: float
    compiled: tuple[str, ...]
    kernels: tuple[str, ...]
    not_exercised: tuple[str, ...]

    @property
    def from_cache(self) -> bool:
        """True when nothing had to be compiled (every kernel came from the on-disk cache)."""
        return not self.compiled


def kernel_dispatchers() -> dict:
    """Every Numba kernel of ``grokphase.numerics``, by ``module.function`` name.

    Returns
    -------
    dict of str to numba Dispatcher
        Each dispatcher's ``signatures`` lists the signatures compiled (or loaded) in this process.
    """
    import importlib
    import pkgutil

    from numba.core.dispatcher import Dispatcher

    import grokphase.numerics as pkg
    from grokphase.numerics._compile_log import kernel_name

    found = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.endswith(_NOT_RUNTIME_SUFFIX):
            continue
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, Dispatcher) and obj.py_func.__module__ == module.__name__:
                found[kernel_name(obj)] = obj
    return dict(sorted(found.items()))


def _reached(kernels: dict) -> set[str]:
    """Names of the kernels compiled in this process and of those they call (a kernel called only
    from other kernels is compiled into its callers and has no signatures of its own)."""
    from numba.core.dispatcher import Dispatcher

    from grokphase.numerics._compile_log import kernel_name

    todo = [d for d in kernels.values() if d.signatures]
    seen = {kernel_name(d) for d in todo}
    while todo:
        func = todo.pop().py_func
        names, scope = func.__code__.co_names, func.__globals__
        candidates = [scope.get(n) for n in names]
        candidates += [getattr(m, n, None) for m in candidates if type(m).__name__ == "module" for n in names]
        for d in candidates:
            name = kernel_name(d) if isinstance(d, Dispatcher) else None
            if name is not None and name not in seen:
                seen.add(name)
                todo.append(d)
    return seen


def _workload() -> None:
    """One call of every public solver, on small inputs with the signatures real calls use."""
    import numpy as np

    from grokphase import attention, linear_vi
    from grokphase.numerics import _attention_kernels as K
    from grokphase.numerics.spectra import DiscreteSpectrum

    t = np.logspace(-8, -2, 16)
    m = linear_vi.LinearVIModel(0.5, 5e7, inv_tau2=1.0)
    m.curves(t)
    m.grokking_times(), m.eu_peak_times(), m.laplace_grokking_times()
    linear_vi.sweep_lam([0.3, 0.6], t, n_over_sigma2=5e7)
    s = linear_vi.SpectralVIModel(DiscreteSpectrum(np.array([0.5, 1.0, 2.0]), aspect_ratio=0.5), 5e7)
    s.curves(t)
    s.grokking_times(), s.eu_peak_times()
    ref = dict(s_qk=0.25, s_uv=9.0)
    for kind in ("softmax", "linear"):
        attention.solve(5.0, L=8, kind=kind, **ref)
        attention.solve_full(5.0, L=4, kind=kind, **ref)
        attention.transition(L=8, kind=kind, **ref)
        attention.trace(np.linspace(0.5, 20.0, 8), L=8, kind=kind, **ref)
        attention.phase_diagram(np.linspace(0.5, 20.0, 8), [4.0, 8.0], kind=kind, **ref)
        attention.map_state(30.0, L=8, kind=kind, **ref)
        attention.map_transition(L=8, kind=kind, **ref)
    K.cramer_hpp(0.5, 1.0), K.linear_s_tc(8.0)          # generated kernels that no solver calls yet
    for tokens in attention.TOKENS[1:]:                    # the other token models, every score prior
        for prior in attention.SCORE_PRIORS:
            for kind in ("softmax", "linear"):
                attention.transition(L=8, kind=attention.Variant(kind, tokens=tokens, V=4, score_prior=prior), **ref)


def warm_kernels() -> WarmupResult:
    """Compile (or load from the on-disk cache) the package's Numba kernels; time a second run.

    Returns
    -------
    WarmupResult
        The first-run and repeat wall times, the kernels compiled now and those not reached.

    Examples
    --------
    >>> r = warm_kernels()                          # doctest: +SKIP
    >>> r.first_seconds > r.repeat_seconds          # doctest: +SKIP
    True
    """
    from numba.core import event

    from grokphase.numerics._compile_log import kernel_name

    compiled = []

    class _Record(event.Listener):
        def on_start(self, ev):
            name = kernel_name(ev.data.get("dispatcher"))
            if name is not None:
                compiled.append(name)

        def on_end(self, ev):
            pass

    kernels = kernel_dispatchers()
    log.info("warming up %d Numba kernels (compiling those not in the on-disk cache) ...", len(kernels))
    with event.install_listener("numba:compile", _Record()):
        t0 = time.perf_counter()
        _workload()
        first = time.perf_counter() - t0
    t0 = time.perf_counter()
    _workload()
    repeat = time.perf_counter() - t0
    missing = tuple(sorted(set(kernels) - _reached(kernels)))
    log.info("warm-up done in %.2f s (%d of %d kernels compiled, the others loaded from the on-disk cache); "
             "the same calls again took %.2f s", first, len(set(compiled)), len(kernels), repeat)
    return WarmupResult(first_seconds=first, repeat_seconds=repeat, compiled=tuple(dict.fromkeys(compiled)),
                        kernels=tuple(kernels), not_exercised=missing)
