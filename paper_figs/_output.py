"""Shared output of the figure scripts: PNG + PDF + the plotted numbers as JSON, written atomically
(temporary file, then rename) beside each other."""

from __future__ import annotations

import json
import os
from pathlib import Path


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
    """Write ``fig`` to path's stem .png and .pdf (150 dpi) and ``data`` to .json; close the figure.
    Returns the three paths."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.with_suffix("")
    written = []
    for ext in (".png", ".pdf"):
        out = stem.with_suffix(ext)
        tmp = out.with_name(out.name + ".tmp")
        fig.savefig(tmp, dpi=150, format=ext[1:])
        os.replace(tmp, out)
        written.append(out)
    plt.close(fig)
    out = stem.with_suffix(".json")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, out)
    written.append(out)
    return written


def stored_numbers(out, name: str) -> dict | None:
    """The plotted numbers saved earlier beside ``out`` or in the committed figures/<name>.json
    (used to redraw a figure whose long experiment is not rerun); None if neither exists."""
    for path in (Path(out).with_suffix(".json"), Path("figures") / f"{name}.json"):
        if path.exists():
            return json.loads(path.read_text())
    return None
