"""Shared output of the figure scripts: PNG + PDF + the plotted numbers as strict JSON, each
written atomically (``grokphase._io``) beside the others."""

from __future__ import annotations

import json
from pathlib import Path

from grokphase._io import atomic_path, atomic_write_json


class FigureUnavailable(RuntimeError):
    """A figure script cannot draw its figure because the numbers it plots are missing.

    The message names the figure, the data it looked for and how to produce them; ``grokphase figs``
    reports it and exits non-zero.
    """


def script_main(main) -> None:
    """Entry point of ``python -m grokphase.paper_figs.<name>``: print the written paths, or the reason
    the figure cannot be drawn (on stderr, exit status 1)."""
    import sys

    try:
        paths = main()
    except FigureUnavailable as e:
        sys.exit(f"{e}")
    for p in paths:
        print(p)


def save_figure(fig, data: dict, path) -> list[Path]:
    """Write ``fig`` to path's stem .png and .pdf (150 dpi) and ``data`` to .json (NaN/inf as
    null); close the figure.  Returns the three paths."""
    import matplotlib.pyplot as plt

    stem = Path(path).with_suffix("")
    written = []
    for ext in (".png", ".pdf"):
        with atomic_path(stem.with_suffix(ext)) as tmp:
            fig.savefig(tmp, dpi=150, format=ext[1:])
        written.append(stem.with_suffix(ext))
    plt.close(fig)
    written.append(atomic_write_json(stem.with_suffix(".json"), data))
    return written


def stored_numbers(out, name: str) -> dict | None:
    """The plotted numbers saved earlier beside ``out`` or in the committed figures/<name>.json
    (used to redraw a figure whose long experiment is not rerun); None if neither exists."""
    for path in (Path(out).with_suffix(".json"), Path("figures") / f"{name}.json"):
        if path.exists():
            return json.loads(path.read_text())
    return None


def sweep_figure_main(argv, name: str, doc: str, compute, draw, cost: str) -> list[Path]:
    """``main`` of a figure drawn from sweep stores: ``--out`` (default figures/<name>.png), ``--runs``
    (parent folder of the stores) and ``--recompute`` (run the missing points; ``cost`` says how long);
    without results it redraws the stored numbers (:func:`stored_numbers`), else FigureUnavailable."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", default=f"figures/{name}.png")
    ap.add_argument("--runs", default="runs", help="parent folder of the presets' sweep stores")
    ap.add_argument("--recompute", action="store_true", help=f"run the missing sweep points ({cost})")
    args = ap.parse_args(argv)
    data = compute(args.runs, recompute=args.recompute) or stored_numbers(args.out, name)
    if not data:
        raise FigureUnavailable(f"{name}: cannot draw, no sweep results in {args.runs} and no stored numbers "
                                "(see the module docstring)")
    return draw(data, args.out)
