"""Argument conventions shared by the subcommands: one ``--json`` flag, inapplicable options are errors."""

from __future__ import annotations

JSON_HELP = "print the result as strict JSON on stdout (nothing else there; no progress bars)"


def add_json(parser) -> None:
    """Add the ``--json`` flag (same meaning in every subcommand, see ``grokphase.cli._output``)."""
    parser.add_argument("--json", action="store_true", help=JSON_HELP)


def reject(args, option: str, why: str) -> None:
    """Exit with a usage error (status 2): ``option`` was given but does not apply, because ``why``.

    The subparser that defined the option must be stored as ``args.parser`` (``set_defaults(parser=q)``).
    """
    args.parser.error(f"argument {option}: does not apply {why}")


def show_progress(args) -> bool:
    """Progress bars/lines on stderr: on unless ``--json`` is given or stderr is not a terminal."""
    import sys

    return not args.json and sys.stderr.isatty()
