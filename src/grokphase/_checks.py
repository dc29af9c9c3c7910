"""Argument checks shared by the public modules: each raises ValueError naming the parameter."""

from __future__ import annotations

import math


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
