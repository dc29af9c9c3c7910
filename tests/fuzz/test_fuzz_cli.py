"""Fuzz: invalid values for the options of every CLI subcommand give exit status 2 and a message
naming the option (or its parameter), never a traceback.  In-process ``main([...])`` in a
temporary folder; argparse's usage errors (SystemExit 2) count as named when they name it.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import string

import pytest
from hypothesis import strategies as st

from grokphase.cli import main
from grokphase.testing import invalid_integers, invalid_reals


def _parses(text: str, kind) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def floats_outside(lo=None, hi=None, *, lo_open=False, hi_open=False):
    """Strings for a float option: numbers outside the range (and NaN/inf) and words that are no
    float at all."""
    def inside(x):
        return (math.isfinite(x) and (lo is None or (x > lo if lo_open else x >= lo))
                and (hi is None or (x < hi if hi_open else x <= hi)))

    words = st.text(string.ascii_letters + "_", min_size=1, max_size=6).filter(
        lambda w: not (_parses(w, float) and inside(float(w))))
    nums = invalid_reals(lo, hi, lo_open=lo_open, hi_open=hi_open, numbers_only=True).map(repr)
    return st.one_of(nums, words)


def ints_outside(lo=None, hi=None):
    """Strings for an int option: integers outside [lo, hi], non-integral numbers, words."""
    words = st.text(string.ascii_letters, min_size=1, max_size=6)
    return st.one_of(invalid_integers(lo, hi, numbers_only=True).map(repr), words)


def not_in(options):
    return st.text(string.ascii_letters + "_-", min_size=1, max_size=8).filter(
        lambda w: w not in options and not w.startswith("-"))


def words_not(kind):
    """Strings that argparse's ``type=kind`` rejects."""
    return st.text(string.ascii_letters + "_", min_size=1, max_size=6).filter(lambda w: not _parses(w, kind))


def _non_prime_ints():
    return st.integers(-5, 300).filter(lambda n: n < 2 or any(n % q == 0 for q in range(2, int(n**0.5) + 1))).map(str)


SCALE = dict(lo=1e-8, hi=1e8)
PD = ["attention", "phase-diagram", "--n-x", "2", "--n-beta", "2"]
# (command prefix, option, invalid value strategy, the name the message must contain)
OPTIONS = [
    (["linear-vi"], "--lam", floats_outside(1e-12, 1 - 1e-12)),
    (["linear-vi"], "--n-over-sigma2", floats_outside(1e-100, 1e100)),
    (["linear-vi"], "--inv-tau2", st.one_of(floats_outside(0.0, 1e100), st.just("1e-200"))),
    (["linear-vi"], "--eps", floats_outside(1e-300, 1e300)),
    (["linear-vi"], "--C0", floats_outside(1e-100, 1e100)),
    (["attention", "transition"], "--L", floats_outside(2.0, 1e10)),
    (["attention", "transition"], "--s-qk", floats_outside(**SCALE)),
    (["attention", "transition"], "--s-uv", floats_outside(**SCALE)),
    (["attention", "transition"], "--kind", not_in(["softmax", "linear"])),
    (PD, "--n-x", ints_outside(1)),
    (PD, "--n-beta", ints_outside(1)),
    (PD, "--x-min", floats_outside(2.0, 24.0)),
    (PD, "--x-max", floats_outside(2.0, 1e10)),
    (PD, "--beta-min", floats_outside(0.0, 40.0)),
    (PD, "--beta-max", floats_outside(0.5, None)),
    (PD, "--s-qk", floats_outside(**SCALE)),
    (PD, "--s-uv", floats_outside(**SCALE)),
    (PD, "--vary", not_in(["L", "s_qk"])),
    (PD, "--L", st.one_of(floats_outside(), st.floats(2.0, 100.0).map(repr))),   # not with --vary L
    (["attention", "validate", "map"], "--n-iter", ints_outside(20)),
    (["attention", "validate", "map"], "--N", ints_outside(2)),
    (["train", "modular"], "--p", st.one_of(_non_prime_ints(), words_not(int))),
    (["train", "modular"], "--frac", floats_outside(0.0, 1.0, lo_open=True, hi_open=True)),
    (["train", "modular"], "--op", not_in(["add", "sub", "mul", "quad"])),
    (["train", "modular"], "--preset", not_in(["nanda97", "smoke", "strip", "rectangle"])),
    (["train", "modular"], "--seed", words_not(int)),
    (["train", "modular"], "--steps", words_not(int)),
    (["train", "modular"], "--lr", words_not(float)),
    (["train", "icl"], "--alpha", floats_outside(0.0, 1.0, lo_open=True, hi_open=True)),
    (["train", "icl"], "--n-task", ints_outside(1, 10)),          # preset p7-T40: p = 7
    (["train", "icl"], "--p", ints_outside(3)),
    (["train", "icl"], "--n-ctx", words_not(int)),
    (["uncertainty", "train", "modular"], "--optimizer", not_in(["adamw", "ivon"])),
    (["uncertainty", "train", "modular"], "--seed", words_not(int)),
    (["uncertainty", "train", "modular"], "--steps", words_not(int)),
    (["uncertainty", "evaluate", "modular"], "--samples", words_not(int)),
    (["uncertainty", "evaluate", "modular"], "--every", words_not(int)),
    (["uncertainty", "evaluate", "modular"], "--seeds", words_not(int)),
    (["uncertainty", "sweeps"], "--samples", words_not(int)),
    (["uncertainty", "diversity"], "--alpha", words_not(float)),
    (["uncertainty", "diversity"], "--n-task", words_not(int)),
]
POSITIONAL = [
    (["attention", "validate"], "experiment", not_in(["hysteresis", "equilibrium", "linear", "dynamics", "map"])),
    (["uncertainty", "train"], "task", not_in(["modular", "icl"])),
    (["uncertainty", "evaluate"], "task", not_in(["modular", "icl"])),
    (["train"], "task", not_in(["modular", "icl"])),
    (["attention"], "attention_command", not_in(["transition", "phase-diagram", "validate"])),
    ([], "command", not_in(["linear-vi", "attention", "train", "uncertainty", "figs", "warmup", "exposure", "blimp", "lm", "uniformity"])),
]
SUBCOMMANDS = [["linear-vi"], ["attention", "transition"], ["attention", "phase-diagram"],
               ["attention", "validate", "map"], ["train", "modular"], ["train", "icl"], ["uncertainty", "study"],
               ["uncertainty", "train", "icl"], ["uncertainty", "evaluate", "icl"], ["uncertainty", "sweeps"],
               ["uncertainty", "diversity"], ["figs"]]


def run_cli(argv):
    """(exit status, stderr) of main(argv), SystemExit included."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
    return rc, err.getvalue()


def _named(msg: str, option: str) -> bool:
    names = {option, option.lstrip("-"), option.lstrip("-").replace("-", "_")}
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", msg) for n in names)


def _assert_rejected(argv, option):
    rc, err = run_cli(argv)
    assert rc == 2, f"{argv}: exit status {rc}, stderr {err[-300:]!r}"
    assert "Traceback" not in err and _named(err, option), f"{argv}: {err[-300:]!r} does not name {option}"


@pytest.mark.parametrize("prefix, option, strategy", OPTIONS, ids=[" ".join(p[:2]) + " " + o for p, o, _ in OPTIONS])
def test_invalid_option_values_exit_2_naming_the_option(prefix, option, strategy, depth, fuzz_run, tmp_path,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    fuzz_run(depth, strategy, lambda v: _assert_rejected(prefix + [f"{option}={v}"], option),
             "cli: grokphase " + " ".join(prefix[:2]))


@pytest.mark.parametrize("prefix, name, strategy", POSITIONAL, ids=[" ".join(p) + " " + n for p, n, _ in POSITIONAL])
def test_invalid_subcommands_and_positionals_exit_2(prefix, name, strategy, depth, fuzz_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fuzz_run(depth, strategy, lambda v: _assert_rejected(prefix + [v], name),
             "cli: grokphase " + (" ".join(prefix[:2]) or "(command)"))


@pytest.mark.parametrize("prefix", SUBCOMMANDS, ids=[" ".join(p) for p in SUBCOMMANDS])
def test_unknown_options_exit_2_for_every_subcommand(prefix, depth, fuzz_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opts = st.text(string.ascii_lowercase, min_size=3, max_size=8).map(lambda w: f"--zz{w}")
    fuzz_run(depth, opts, lambda o: _assert_rejected(prefix + [o], o), "cli: grokphase " + " ".join(prefix[:2]))
