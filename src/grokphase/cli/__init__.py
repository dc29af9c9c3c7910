"""Command line interface: ``grokphase <subcommand> --help``.

Subcommands
-----------
linear-vi   milestones of the linear-VI model for one or more lam; optional Fig. 6 plot.
attention   copy-task attention: ``transition`` (order, beta_c, spinodals, jumps),
            ``phase-diagram`` (order parameters on a (beta, L) grid, optional plot) and
            ``validate`` (finite-N experiments).
train       train the NumPy transformer: ``modular`` (grokking mod p) or ``icl`` (in-context
            modular arithmetic); resumable runs in --run-dir.
uncertainty the grokking / epistemic-uncertainty study: ``study`` (everything, then the figures),
            ``train`` one run (modular or icl, adamw or ivon, a seed), ``evaluate`` the posteriors
            of every run, ``sweeps``, ``diversity``.
figs        draw the paper figures (all or the ones named) into a folder; says which it could not draw.
warmup      compile (and cache) the Numba kernels ahead of use; reports cold and warm times.
exposure    ``count`` phrase occurrences per checkpoint in a token stream (JSON/CSV); ``corpus``
            generates the grammar corpus with its exposure schedule.
blimp       ``score``: minimal-pair accuracy per BLiMP paradigm of a user's model (a log-prob
            callback) or of the built-in n-gram.
lm          ``train``: single-pass pre-training of the NumPy transformer on the grammar corpus;
            ``evaluate``: every checkpoint's pairs, heads and concept vectors, and the delays;
            ``study``: the study's runs through the sweep layer and the R1-R3 verdicts.
uniformity  token uniformity / MED: ``list`` the presets, ``run`` one (resumable sweep),
            ``table`` the split and progress-measure tables of its finished runs.

``--json`` means the same in every subcommand: the result as strict JSON on stdout and nothing else
there (see ``grokphase.cli._output``).  Options that do not apply to the chosen variant are usage
errors (exit status 2).  Messages of the package (``grokphase.*`` loggers) go to stderr.

One module per subcommand group; each adds its parser with ``add_parser(subparsers)`` and imports
the package's numerical code only inside its command functions, so that building the parser (and
``grokphase --help``) imports nothing but the standard library.
"""

from __future__ import annotations

import argparse
import sys

from grokphase.cli import attention, blimp, exposure, figs, linear_vi, lm, train, uncertainty, uniformity, warmup
from grokphase.cli._output import configure_logging

__all__ = ["build_parser", "main"]

_GROUPS = (linear_vi, attention, train, uncertainty, figs, warmup, exposure, blimp, lm, uniformity)


def build_parser() -> argparse.ArgumentParser:
    """The ``grokphase`` argument parser, one subparser per subcommand group.

    Returns
    -------
    argparse.ArgumentParser
        Parsed arguments carry ``func``, the command function to call with them.
    """
    ap = argparse.ArgumentParser(prog="grokphase",
                                 description="Physics of grokking and of attention phase transitions.")
    sub = ap.add_subparsers(dest="command", required=True)
    for group in _GROUPS:
        group.add_parser(sub)
    return ap


def main(argv=None) -> int:
    """Run the command line; returns the exit status (2 for invalid input; 1 for a file or folder that
    cannot be written or read, or a solver that did not converge; the message on stderr)."""
    from grokphase.numerics.errors import ConvergenceError

    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        return args.func(args)
    except ValueError as err:
        print(f"grokphase: error: {err}", file=sys.stderr)
        return 2
    except (OSError, ConvergenceError) as err:  # the message names the file or the solver and why
        print(f"grokphase: error: {err}", file=sys.stderr)
        return 1
