"""Argument checks at the public boundary (API and CLI).

Every check converts its value to the type the numerics need or raises ValueError naming the
parameter, the value received and the valid range, before any numerical work: a wrong type is
reported as such (no ``float("x")`` or ``TypeError`` from deep inside NumPy), integers must be
integers (16.9 is not truncated to 16), and NaN/inf never enter as numbers.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["real", "positive", "nonnegative", "integer", "choice", "flag", "seed", "array",
           "int_array", "finite_params"]


def _show(value) -> str:
    """A short repr of a received value."""
    if isinstance(value, np.ndarray) and value.size > 6:
        return f"array of shape {value.shape}"
    r = repr(value)
    return r if len(r) <= 80 else r[:77] + "..."


def _num(x) -> str:
    """x as %g where that is exact (1e-08, 2), else its shortest repr (0.999999999999)."""
    short = f"{x:g}"
    return short if float(short) == x else repr(float(x))


def _interval(lo, hi, lo_open, hi_open) -> str:
    if lo is None and hi is None:
        return "a finite number"
    if hi is None:
        return f"a finite number {'>' if lo_open else '>='} {_num(lo)}"
    if lo is None:
        return f"a finite number {'<' if hi_open else '<='} {_num(hi)}"
    return f"a finite number in {'(' if lo_open else '['}{_num(lo)}, {_num(hi)}{')' if hi_open else ']'}"


def _scalar(value):
    """A 0-d array or NumPy scalar as its Python value; anything else unchanged."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value


def real(name: str, value, lo=None, hi=None, *, lo_open: bool = False, hi_open: bool = False,
         note: str = "") -> float:
    """float(value) for a real number within [lo, hi] (bounds optional, open on request).

    Parameters
    ----------
    name : the parameter's name as the user wrote it (``s_qk``, ``--lam``).
    value : the received value; bools, strings, None and sequences are rejected.
    lo, hi : bounds (None: unbounded); ``lo_open`` / ``hi_open`` exclude them.
    note : appended to the message in parentheses (what the range means, or the remedy).
    """
    value = _scalar(value)
    want = _interval(lo, hi, lo_open, hi_open)
    tail = f" ({note})" if note else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {want}{tail}; got {_show(value)} of type {type(value).__name__}")
    try:
        x = float(value)
    except OverflowError:  # an int beyond the float range
        raise ValueError(f"{name} must be {want}{tail}; got an integer of {len(str(abs(value)))} digits") from None
    bad = not math.isfinite(x)
    if lo is not None:
        bad |= x <= lo if lo_open else x < lo
    if hi is not None:
        bad |= x >= hi if hi_open else x > hi
    if bad:
        raise ValueError(f"{name} must be {want}{tail}; got {x!r}")
    return x


def positive(name: str, value, *, note: str = "") -> float:
    """float(value), which must be finite and > 0."""
    return real(name, value, 0.0, lo_open=True, note=note)


def nonnegative(name: str, value, *, note: str = "") -> float:
    """float(value), which must be finite and >= 0."""
    return real(name, value, 0.0, note=note)


def integer(name: str, value, lo=None, hi=None, *, note: str = "") -> int:
    """int(value) for an integer within [lo, hi]; an integral float (16.0) is accepted, 16.9 is not."""
    value = _scalar(value)
    if lo is not None and hi is not None:
        want = f"an integer in [{lo}, {hi}]"
    elif lo is not None:
        want = f"an integer >= {lo}"
    elif hi is not None:
        want = f"an integer <= {hi}"
    else:
        want = "an integer"
    tail = f" ({note})" if note else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {want}{tail}; got {_show(value)} of type {type(value).__name__}")
    if not isinstance(value, numbers.Integral):
        if not (math.isfinite(value) and float(value).is_integer()):
            raise ValueError(f"{name} must be {want}{tail} (no truncation); got {value!r}")
    n = int(value)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise ValueError(f"{name} must be {want}{tail}; got {n}")
    return n


def choice(name: str, value, options):
    """value, which must be one of ``options`` (strings compared exactly, case-sensitive)."""
    if not any(type(value) is type(o) and value == o for o in options):
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {_show(value)}")
    return value


def flag(name: str, value) -> bool:
    """A bool (or NumPy bool); 'no', 0 and None are not flags."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {_show(value)}")
    return bool(value)


def seed(name: str, value) -> int:
    """A seed for ``numpy.random.default_rng``: an integer >= 0."""
    return integer(name, value, 0)


def array(name: str, value, *, ndim=None, dtype=np.float64, finite: bool = True, nonempty: bool = True,
          lo=None, hi=None, lo_open: bool = False, shape=None) -> np.ndarray:
    """np.asarray(value, dtype) with the stated number of dimensions (int or tuple of ints), shape
    (None entries free), non-empty, finite and within [lo, hi] elementwise where asked."""
    if isinstance(value, (str, bytes)) or value is None:
        raise ValueError(f"{name} must be an array of numbers; got {_show(value)}")
    try:
        x = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of numbers ({err}); got {_show(value)}") from None
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and x.ndim not in dims:
        want = " or ".join(f"{d}-d" for d in dims)
        raise ValueError(f"{name} must be a {want} array; got shape {x.shape}")
    if shape is not None and (x.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, x.shape))):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}; got {x.shape}")
    if nonempty and x.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {x.shape}")
    if np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.complexfloating):
        if finite and not np.all(np.isfinite(x)):
            i = np.unravel_index(int(np.flatnonzero(~np.isfinite(x))[0]), x.shape)
            raise ValueError(f"{name} must be finite; got {x[i].item()!r} at index {tuple(int(j) for j in i)}")
    if lo is not None or hi is not None:
        bad = np.zeros(x.shape, bool)
        if lo is not None:
            bad |= x <= lo if lo_open else x < lo
        if hi is not None:
            bad |= x > hi
        if bad.any():
            i = np.unravel_index(int(np.flatnonzero(bad)[0]), x.shape)
            rng = _interval(lo, hi, lo_open, False).replace("a finite number", "")
            raise ValueError(f"{name} must hold values{rng}; got {x[i].item()!r} at index {tuple(int(j) for j in i)}")
    return x


def int_array(name: str, value, *, ndim=None, lo=None, hi=None, nonempty: bool = True) -> np.ndarray:
    """An array of integer dtype (floats are not rounded: 0.5 is no token) with the stated number
    of dimensions (int or tuple), non-empty, entries in [lo, hi] where given."""
    if isinstance(value, (str, bytes)) or value is None:
        raise ValueError(f"{name} must be an array of integers; got {_show(value)}")
    x = np.asarray(value)
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"{name} must be an array of integers; got {_show(value)} (dtype {x.dtype})")
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and x.ndim not in dims:
        want = " or ".join(f"{d}-d" for d in dims)
        raise ValueError(f"{name} must be a {want} array of integers; got shape {x.shape}")
    if nonempty and x.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {x.shape}")
    bad = np.zeros(x.shape, bool)
    if lo is not None:
        bad |= x < lo
    if hi is not None:
        bad |= x > hi
    if bad.any():
        i = np.unravel_index(int(np.flatnonzero(bad)[0]), x.shape)
        rng = f"in [{lo}, {hi}]" if lo is not None and hi is not None else (f">= {lo}" if lo is not None else f"<= {hi}")
        raise ValueError(f"{name} must hold integers {rng}; got {int(x[i])} at index {tuple(int(j) for j in i)}")
    return x


def finite_params(name: str, params: dict) -> None:
    """Every array of a parameter (or gradient) dict must be finite; the message names the key."""
    for key, v in params.items():
        a = np.asarray(v)
        if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
            n = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
            raise ValueError(f"{name}[{key!r}] has non-finite entries (NaN or inf: {n} of {a.size}); it must be finite")
