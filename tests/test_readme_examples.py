"""Every ```python block of README.md runs, and the test functions it defines pass."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("k", range(len(BLOCKS)))
def test_readme_block_runs(k):
    ns: dict = {}
    exec(compile(BLOCKS[k], f"README.md[python block {k}]", "exec"), ns)
    for name, obj in list(ns.items()):
        if name.startswith("test_") and callable(obj):
            obj()
