"""Where the BLiMP files are: $GROKPHASE_BLIMP, else ../shared/data/blimp from the project root
(or from the folder above it, for git worktrees); tests that need them skip otherwise."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [os.environ.get("GROKPHASE_BLIMP", ""), ROOT.parent / "shared/data/blimp",
               ROOT.parent.parent / "shared/data/blimp"]
BLIMP = next((Path(c) for c in _CANDIDATES if c and (Path(c) / "determiner_noun_agreement_1.jsonl").is_file()), None)


@pytest.fixture
def blimp_dir():
    if BLIMP is None:
        pytest.skip("BLiMP data not found (set GROKPHASE_BLIMP)")
    return BLIMP


@pytest.fixture(scope="session")
def toy_lexicon():
    """A small hand-made lexicon: 24 regular and 8 irregular nouns, 12 names, 20 verbs, 6 adjectives."""
    from grokphase.validation.exposure.lexicon import Lexicon

    nouns = [(f"n{i}", f"n{i}s") for i in range(24)] + [
        ("man", "men"), ("ox", "oxen"), ("foot", "feet"), ("child", "children"), ("mouse", "mice"),
        ("goose", "geese"), ("tooth", "teeth"), ("woman", "women")]
    return Lexicon(nouns=tuple(sorted(nouns)), names=tuple((f"Name{i}", "fm"[i % 2]) for i in range(12)),
                   verbs=tuple((f"v{i}s", f"v{i}") for i in range(20)), adjectives=tuple(f"adj{i}" for i in range(6)))
