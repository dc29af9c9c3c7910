"""``grokphase warmup``: compile (and cache on disk) every Numba kernel of the package ahead of use."""

from __future__ import annotations

from grokphase.cli._args import add_json
from grokphase.cli._output import emit


def add_parser(sub) -> None:
    """Add the ``warmup`` subcommand to ``sub``."""
    p = sub.add_parser("warmup", help="compile and cache the Numba kernels now (a minute once per install)",
                       description="Compile every Numba kernel of the package (or load it from the on-disk cache) "
                                   "by calling each public solver once; report the first-run (cold: compile or "
                                   "cache load) and repeat (warm, in memory) wall times.")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    """Warm the kernels; the timings and the compiled kernels go to stdout."""
    from grokphase.warmup import warm_kernels

    r = warm_kernels()
    emit({"first_seconds": r.first_seconds, "repeat_seconds": r.repeat_seconds, "from_cache": r.from_cache,
          "kernels": len(r.kernels), "compiled": list(r.compiled), "not_exercised": list(r.not_exercised)}, args)
    return 0
