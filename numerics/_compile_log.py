"""Log when a Numba kernel of the package is compiled, so that a first call does not wait silently.

Numba compiles a kernel the first time it is called with a new signature, unless its on-disk cache
(``cache=True``) holds it; with a fresh install (or after the code changed) that takes seconds to a
minute.  :func:`install` registers a listener on Numba's ``numba:compile`` event (fired only for a
real compilation, not for a cache load): the first compilation in a process logs one INFO message on
the ``grokphase.numerics`` logger, every compilation a DEBUG message naming the kernel.
``grokphase warmup`` (:func:`grokphase.warmup.warm_kernels`) compiles them all ahead of time.
"""

from __future__ import annotations

import logging
import threading

from numba.core import event

log = logging.getLogger("grokphase.numerics")

_lock = threading.Lock()
_state = {"installed": False, "announced": False}


def kernel_name(dispatcher) -> str | None:
    """``module.function`` of a Numba dispatcher of this package, else None."""
    func = getattr(dispatcher, "py_func", None)
    module = getattr(func, "__module__", "") or ""
    return f"{module}.{func.__qualname__}" if module.startswith("grokphase.") else None


class _CompileLogger(event.Listener):
    def on_start(self, ev):
        name = kernel_name(ev.data.get("dispatcher"))
        if name is None:
            return
        with _lock:
            first, _state["announced"] = not _state["announced"], True
        if first:
            log.info("compiling Numba kernels on first use (seconds to a minute, once: they are then cached "
                     "on disk; `grokphase warmup` compiles them all ahead of time)")
        log.debug("compiling %s%s", name, tuple(ev.data.get("args", ())))

    def on_end(self, ev):
        pass


def install() -> None:
    """Register the listener (once per process)."""
    with _lock:
        if _state["installed"]:
            return
        _state["installed"] = True
    event.register("numba:compile", _CompileLogger())
