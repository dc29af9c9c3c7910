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
