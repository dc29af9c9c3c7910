"""grokphase warmup reaches every Numba kernel; a real compilation is logged, a cache load is not."""

import json
import logging

import numpy as np
import pytest

from grokphase.cli import main


def _strict_loads(text):
    def bad(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=bad)


def test_warmup_reaches_every_kernel_and_reports_times(capsys):
    assert main(["warmup", "--json"]) == 0
    out = _strict_loads(capsys.readouterr().out)
    assert out["kernels"] >= 60 and out["not_exercised"] == []
    assert out["first_seconds"] > 0 and out["repeat_seconds"] > 0
    # in-memory: a second warm-up in the same process compiles nothing
    assert main(["warmup", "--json"]) == 0
    again = _strict_loads(capsys.readouterr().out)
    assert again["compiled"] == [] and again["from_cache"] is True


def test_kernel_dispatchers_finds_the_known_kernels():
    from grokphase.warmup import kernel_dispatchers

    names = kernel_dispatchers()
    assert "grokphase.numerics.mp_quadrature._mp_moments_one" in names
    assert "grokphase.numerics._attention_kernels.softmax_f" in names
    assert not any(n.startswith("grokphase.numerics.attention_codegen") for n in names)


def test_compilation_of_a_package_kernel_is_logged_once(caplog):
    """A new kernel of a grokphase.* module is compiled on its first call (logged) and not on its second."""
    from numba import njit

    import grokphase.numerics  # noqa: F401  (installs the listener)

    scope = {"__name__": "grokphase.numerics._test_only"}
    exec("def twice(x):\n    return 2.0 * x\n", scope)
    kernel = njit(scope["twice"])
    with caplog.at_level(logging.DEBUG, logger="grokphase.numerics"):
        assert kernel(1.5) == 3.0
        first = [r for r in caplog.records if "grokphase.numerics._test_only.twice" in r.getMessage()]
        caplog.clear()
        assert kernel(np.float64(2.0)) == 4.0
        second = [r for r in caplog.records if "twice" in r.getMessage()]
    assert len(first) == 1 and first[0].name == "grokphase.numerics" and second == []


def test_compilation_outside_the_package_is_not_logged(caplog):
    from numba import njit

    @njit
    def thrice(x):
        return 3.0 * x

    with caplog.at_level(logging.DEBUG, logger="grokphase.numerics"):
        assert thrice(1.0) == pytest.approx(3.0)
    assert not [r for r in caplog.records if "thrice" in r.getMessage()]
