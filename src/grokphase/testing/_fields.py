"""Pieces shared by the strategies: a field given as a strategy, a fixed value or None (default)."""

from __future__ import annotations

import math

from hypothesis import strategies as st


def field(value, default: st.SearchStrategy) -> st.SearchStrategy:
    """``value`` itself if it is a strategy, ``st.just(value)`` for a fixed value, ``default`` for None."""
    if value is None:
        return default
    if isinstance(value, st.SearchStrategy):
        return value
    return st.just(value)


def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Floats whose log10 is uniform on [log10 lo, log10 hi] (0 < lo <= hi)."""
    if not (0.0 < lo <= hi and math.isfinite(hi)):
        raise ValueError(f"log-uniform range needs 0 < lo <= hi < inf, got ({lo}, {hi})")
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: float(10.0**e))
