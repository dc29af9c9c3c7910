"""``grokphase figs``: draw the paper figures (all, or the ones named) into a folder.

Reports which figures it drew and which it could not draw and why (a figure whose runs and stored
numbers are missing raises :class:`grokphase.paper_figs._output.FigureUnavailable`); the exit status
is 1 when any requested figure could not be drawn.
"""

from __future__ import annotations

from grokphase.cli._args import add_json
from grokphase.cli._output import emit


def add_parser(sub) -> None:
    """Add the ``figs`` subcommand to ``sub``."""
    p = sub.add_parser("figs", help="draw the paper figures (all, or the NAMEs given)",
                       description="Draw paper figures into --out; report which were drawn and which could not be "
                                   "drawn and why. Exit status 1 when a requested figure cannot be drawn.")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="figures to draw (default: all; the fig_ prefix may be left out; --list shows them)")
    p.add_argument("--list", action="store_true", help="list the figure names and exit")
    p.add_argument("--out", default="figures", help="output folder (default ./figures)")
    add_json(p)
    p.set_defaults(func=run, parser=p)


def run(args) -> int:
    """Draw the requested figures; returns 0 when all were drawn, 1 otherwise."""
    from grokphase.paper_figs import FIGURES

    if getattr(args, "list", False):
        emit({"figures": list(FIGURES)} if args.json else "\n".join(FIGURES), args)
        return 0
    names = []
    for name in args.names or FIGURES:
        full = name if name in FIGURES else f"fig_{name}"
        if full not in FIGURES:
            args.parser.error(f"argument NAME: unknown figure {name!r} (choose from {', '.join(FIGURES)})")
        names.append(full)
    from grokphase.paper_figs import load
    from grokphase.paper_figs._output import FigureUnavailable

    drawn, not_drawn = {}, {}
    for name in dict.fromkeys(names):
        try:
            paths = load(name).main(["--out", f"{args.out}/{name}.png"])
        except FigureUnavailable as e:
            not_drawn[name] = str(e)
        else:
            drawn[name] = [str(p) for p in paths]
    if args.json:
        emit({"drawn": drawn, "not_drawn": not_drawn}, args)
    else:
        lines = [f"drew {name}: {', '.join(paths)}" for name, paths in drawn.items()]
        lines += [f"could not draw {name}: {why}" for name, why in not_drawn.items()]
        lines.append(f"drew {len(drawn)} of {len(drawn) + len(not_drawn)} requested figures")
        emit("\n".join(lines), args)
    return 1 if not_drawn else 0
