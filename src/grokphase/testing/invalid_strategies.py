"""Hypothesis strategies for invalid inputs, and a check that an invalid input is reported by name.

Every public function of grokphase checks its arguments at the boundary and raises ValueError
naming the parameter, the value and the valid range (tests/fuzz run these strategies against all
of them).  The same strategies fuzz your own wrappers::

    from hypothesis import given
    from grokphase.testing import assert_names_parameter, invalid_reals
    from grokphase.linear_vi import LinearVIModel

    @given(invalid_reals(1e-12, 1 - 1e-12))
    def test_lam_is_checked(lam):
        assert_names_parameter(lambda: LinearVIModel(lam, 5e7), "lam")
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

__all__ = ["non_numbers", "invalid_reals", "invalid_integers", "invalid_choices", "invalid_arrays",
           "assert_names_parameter"]


def non_numbers() -> st.SearchStrategy:
    """Values that are not a real number: None, bools, strings (numeric-looking ones too),
    sequences, dicts, complex numbers."""
    return st.one_of(st.none(), st.booleans(), st.text(max_size=6), st.just("1.0"), st.just("nan"),
                     st.lists(st.floats(allow_nan=False), min_size=0, max_size=3), st.just(()),
                     st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
                     st.complex_numbers(allow_nan=False, allow_infinity=False).filter(lambda z: z.imag != 0))


def invalid_reals(lo=None, hi=None, *, lo_open: bool = False, hi_open: bool = False,
                  numbers_only: bool = False) -> st.SearchStrategy:
    """Anything that a parameter taking a finite real in the given range must reject: NaN, +-inf,
    floats and integers outside [lo, hi] (open ends excluded), and (unless ``numbers_only``)
    ``non_numbers()``."""
    def outside(x) -> bool:
        if not math.isfinite(x):
            return True
        return ((lo is not None and (x <= lo if lo_open else x < lo))
                or (hi is not None and (x >= hi if hi_open else x > hi)))

    parts = [st.sampled_from([math.nan, math.inf, -math.inf])]
    if lo is not None:
        parts += [st.floats(max_value=lo, allow_nan=False).filter(outside), st.just(float(lo) if lo_open else
                                                                                    math.nextafter(lo, -math.inf))]
    if hi is not None:
        parts += [st.floats(min_value=hi, allow_nan=False).filter(outside), st.just(float(hi) if hi_open else
                                                                                    math.nextafter(hi, math.inf))]
    parts = [p.filter(outside) for p in parts]
    if not numbers_only:
        parts.append(non_numbers())
    return st.one_of(parts)


def invalid_integers(lo=None, hi=None, *, numbers_only: bool = False) -> st.SearchStrategy:
    """What an integer parameter in [lo, hi] must reject: non-integral and non-finite floats (no
    truncation), integers outside the range and (unless ``numbers_only``) ``non_numbers()``."""
    parts = [st.floats().filter(lambda x: not (math.isfinite(x) and x.is_integer()))]
    if lo is not None:
        parts.append(st.integers(max_value=lo - 1))
    if hi is not None:
        parts.append(st.integers(min_value=hi + 1))
    if not numbers_only:
        parts.append(non_numbers())
    return st.one_of(parts)


def invalid_choices(options) -> st.SearchStrategy:
    """Values outside the string options: other strings (case variants included), None, numbers."""
    opts = tuple(options)
    return st.one_of(st.text(max_size=8), st.sampled_from([o.upper() for o in opts] + [o + " " for o in opts]),
                     st.none(), st.integers(), st.floats()).filter(lambda v: not (isinstance(v, str) and v in opts))


def invalid_arrays(ndim: int = 1, *, lo=None, hi=None) -> st.SearchStrategy:
    """What an ndim-d array of finite numbers (in [lo, hi] where given) must reject: a wrong number
    of dimensions, an empty array, NaN or inf entries, entries out of range, strings, None."""
    import hypothesis.extra.numpy as hnp

    def shapes(d):
        return hnp.array_shapes(min_dims=d, max_dims=d, min_side=1, max_side=4)

    wrong_dims = [d for d in (1, 2, 3) if d != ndim]
    bad_value = [math.nan, math.inf, -math.inf]
    if lo is not None:
        bad_value.append(lo - 1.0 - abs(lo))
    if hi is not None:
        bad_value.append(hi + 1.0 + abs(hi))

    @st.composite
    def with_bad_entry(draw):
        shape = draw(shapes(ndim))
        ok = lo if lo is not None else (hi if hi is not None else 0.0)
        x = np.full(shape, float(ok))
        x[tuple(draw(st.integers(0, n - 1)) for n in shape)] = draw(st.sampled_from(bad_value))
        return x

    return st.one_of(st.sampled_from(wrong_dims).flatmap(lambda d: shapes(d).map(np.ones)),
                     st.just(np.zeros((0,) * max(ndim, 1))), with_bad_entry(),
                     st.sampled_from([None, "abc", [["a"]]]))


def assert_names_parameter(call, name: str, exc: type = ValueError) -> str:
    """Call ``call()`` and assert that it raises ``exc`` whose message names ``name`` (as a word:
    ``s_qk`` matches "s_qk must be ...", not "s_qkx"); returns the message."""
    import re

    try:
        out = call()
    except exc as err:
        msg = str(err)
        if not re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", msg):
            raise AssertionError(f"the message does not name {name!r}: {msg!r}") from None
        return msg
    raise AssertionError(f"no {exc.__name__} for an invalid {name}; returned {out!r:.200}")
