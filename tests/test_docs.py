"""Docstrings cite the model documentation shipped in docs/, and the citations resolve.

Every ``docs/<model>.md`` named in the package's sources, tests, benchmarks or README exists; every
section number cited (``§N`` or ``§N.M``, in a module that names one docs file) is a heading of that
file; and nothing cites the development specs (``shared/theory``) or the issue tracker, which users
do not have.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("src", "theory", "numerics", "validation", "paper_figs", "benchmarks", "tests")
SOURCES = sorted(p for d in FOLDERS for p in (ROOT / d).rglob("*.py")) + [ROOT / "README.md"]
CITE = re.compile(r"docs/(\w+)\.md")
SECTION = re.compile(r"(?<![\w.])§(\d+(?:\.\d+)?)")
OTHER_WORK = re.compile(r"(arXiv \d{4}\.\d{4,5}|Section|paper's|Thm|Theorem)\s*$")


def headings(name: str) -> set[str]:
    text = (ROOT / "docs" / f"{name}.md").read_text()
    return set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", text, flags=re.M))


def test_docs_folder_has_every_model():
    names = {p.stem for p in (ROOT / "docs").glob("*.md")}
    assert {"attention_copy", "attention_onehot", "linear_vi", "icl_grokking", "uniformity_med",
            "exposure_grokking"} <= names


def test_headings_parse():
    assert {"1", "2.4", "5.5", "9", "10"} <= headings("attention_copy")
    assert {"1", "8"} <= headings("linear_vi")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_citations_resolve(path):
    text = path.read_text(encoding="utf-8")
    if path.name == "test_docs.py":
        return
    assert "shared/theory" not in text, "cite docs/<model>.md, not the development specs"
    assert not re.search(r"\bissues? \d+|the issue\b|issue's", text, flags=re.I), "no tracker references"
    named = set(CITE.findall(text))
    for name in named:
        assert (ROOT / "docs" / f"{name}.md").exists(), f"docs/{name}.md does not exist"
    if len(named) == 1 and path.suffix == ".py":
        (name,) = named
        have = headings(name)
        for m in SECTION.finditer(text):
            if OTHER_WORK.search(text[max(0, m.start() - 40):m.start()]):
                continue                                   # a section of a paper, not of docs/
            assert m.group(1) in have, f"§{m.group(1)} is not a section of docs/{name}.md"
