"""``grokphase figs``: regenerate the paper figures into a folder."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    """Add the ``figs`` subcommand to ``sub``."""
    p = sub.add_parser("figs", help="regenerate every paper figure", description="Regenerate every figure script in paper_figs.")
    p.add_argument("--out", default="figures", help="output folder (default ./figures)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run every figure script, writing into ``args.out``."""
    from grokphase.paper_figs import FIGURES, load

    written = []
    for name in FIGURES:
        written += [str(p) for p in load(name).main(["--out", f"{args.out}/{name}.png"])]
    if args.json:
        json.dump({"figures": written}, sys.stdout, indent=2)
        print()
    else:
        print("\n".join(f"wrote {p}" for p in written))
    return 0
