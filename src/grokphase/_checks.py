"""Argument checks shared by the public modules: each raises ValueError naming the parameter."""

from __future__ import annotations

import math

import numpy as np


def positive(name: str, value) -> float:
    """float(value), which must be finite and > 0."""
    value = float(value)
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be finite and > 0; got {value}")
    return value


def nonnegative(name: str, value) -> float:
    """float(value), which must be finite and >= 0."""
    value = float(value)
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{name} must be finite and >= 0; got {value}")
    return value


def integer(name: str, value, low: int | None = None) -> int:
    """int(value) for an integer (bool and floats refused: no silent truncation), >= low if given."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer{'' if low is None else f' >= {low}'}; got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    return int(value)
