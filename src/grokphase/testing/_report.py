"""Failure messages that show the whole sequence: a small fixed-width table."""

from __future__ import annotations

import numpy as np


def table(**columns) -> str:
    """Rows k = 0..K-1 of the given 1-d columns (shorter columns are padded with blanks)."""
    cols = {"k": np.arange(max(len(np.atleast_1d(c)) for c in columns.values()))} | columns
    cells = {name: [_fmt(v) for v in np.atleast_1d(c)] for name, c in cols.items()}
    width = {name: max([len(name), *map(len, c)]) for name, c in cells.items()}
    n = len(cells["k"])
    lines = ["  ".join(name.rjust(width[name]) for name in cells)]
    for i in range(n):
        lines.append("  ".join((c[i] if i < len(c) else "").rjust(width[name]) for name, c in cells.items()))
    return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v):.10g}"
