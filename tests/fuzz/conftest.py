"""Fuzz-suite support: example counts per public function (printed with GROKPHASE_FUZZ_REPORT=1)
and the two depths, bounded (default run) and deep (``-m slow``)."""

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

COUNTS: Counter = Counter()

# examples per (function, parameter): bounded in the default run, deeper under -m slow
DEPTHS = [pytest.param(10, id="bounded"), pytest.param(150, id="deep", marks=pytest.mark.slow)]


def fuzz(n_examples: int, strategy, check, name: str) -> None:
    """Run ``check(value)`` on ``n_examples`` values drawn from ``strategy``, counted under ``name``."""

    @settings(max_examples=n_examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value):
        COUNTS[name] += 1
        check(value)

    run()


@pytest.fixture
def fuzz_run():
    """fuzz(n_examples, strategy, check, name)."""
    return fuzz


def pytest_generate_tests(metafunc):
    if "depth" in metafunc.fixturenames:
        metafunc.parametrize("depth", DEPTHS)


def pytest_terminal_summary(terminalreporter):
    if COUNTS and os.environ.get("GROKPHASE_FUZZ_REPORT"):
        terminalreporter.write_sep("-", f"fuzz cases per function ({sum(COUNTS.values())} in all)")
        for name, n in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{n:6d}  {name}")
