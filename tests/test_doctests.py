"""The examples in the public facade's docstrings (every module under src/grokphase) run and hold.

Scoped to src/grokphase: the facade examples are small (seconds), need no PyTorch and no data files.
"""

import doctest
import importlib
import pkgutil
import sys

import pytest

import grokphase

FACADE = sorted(m.name for m in pkgutil.walk_packages(grokphase.__path__, "grokphase.")
                if not m.name.startswith("grokphase.cli.__main__"))


def test_the_facade_modules_are_found():
    assert {"grokphase.attention", "grokphase.linear_vi", "grokphase._io", "grokphase.cli._output"} <= set(FACADE)


@pytest.mark.parametrize("name", FACADE)
def test_docstring_examples(name):
    torch_before = "torch" in sys.modules
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    assert torch_before or "torch" not in sys.modules
