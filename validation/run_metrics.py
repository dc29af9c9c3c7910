"""A training run's logged metrics (``run_dir/metrics.jsonl``) as an xarray.Dataset over ``step``.

The training loop appends one JSON object per logged step (``step``, ``time``, ``lr``,
``batch_loss`` and whatever the evaluation returns).  :func:`load_metrics` reads them into one
variable per key, dimension ``step``:

* numbers become float64 (int64 when every row holds an integer), booleans bool, strings str;
  a key missing from a row, ``null`` or a bare ``NaN`` becomes nan (numbers) or "" (strings);
* a list of numbers (e.g. per-token norms) becomes a 2-d variable (``step``, ``<key>_index``);
  a nested object is flattened to ``<key>_<subkey>``;
* a partial last line (a writer killed mid-line: no final newline and not valid JSON) is ignored
  with a logged warning; any other unreadable line, a row without an integer ``step``, a repeated
  step or a key whose type changes is a ValueError naming the file and the line.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["load_metrics", "read_rows", "METRICS_FILE"]

METRICS_FILE = "metrics.jsonl"
log = logging.getLogger(__name__)

_LONG_NAMES = {"step": ("optimiser step", "1"), "time": ("wall time since the start of the run", "s"),
               "lr": ("learning rate", "1"), "batch_loss": ("training loss of the step's batch", None)}


def _flatten(row: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in row.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, name + "_"))
        else:
            out[name] = v
    return out


def read_rows(path: str | os.PathLike) -> tuple[list[tuple[int, dict]], bool]:
    """(line number, row) for every complete line of a metrics file, and whether a partial last line
    was dropped (the rules of the module docstring; the training loop resumes through this)."""
    path = Path(path)
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.split("\n")
    terminated = lines[:-1]          # every line followed by a newline
    tail = lines[-1]                 # after the last newline: "" unless the writer was killed
    rows, partial = [], False
    for i, ln in enumerate(terminated + ([tail] if tail.strip() else []), start=1):
        if not ln.strip():
            continue
        try:
            row = json.loads(ln)
        except json.JSONDecodeError as e:
            if i == len(terminated) + 1:      # the unterminated last line
                log.warning("%s: ignoring the partial last line %d (%d characters; the writer was "
                            "stopped mid-line)", path, i, len(ln))
                partial = True
                continue
            raise ValueError(f"{path}, line {i}: not valid JSON ({e.msg} at column {e.colno}); the metrics "
                             f"file is corrupt: delete or repair that line, or rerun the training "
                             f"from scratch (--fresh)") from e
        if not isinstance(row, dict):
            raise ValueError(f"{path}, line {i}: expected a JSON object, got {type(row).__name__}")
        step = row.get("step")
        if isinstance(step, bool) or not isinstance(step, int):
            raise ValueError(f"{path}, line {i}: 'step' must be an integer, got {step!r}")
        rows.append((i, row))
    return rows, partial


def _kind(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "missing"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) or x is None
                                   for x in v):
        return "list"
    return "other"


def _column(path: Path, key: str, rows: list[tuple[int, dict]]):
    """(dims, values) of one key over the rows."""
    kinds = {}
    for line, row in rows:
        k = _kind(row.get(key))
        if k == "other":
            raise ValueError(f"{path}, line {line}: {key!r} = {row[key]!r} is not a number, string, boolean "
                             f"or list of numbers")
        kinds.setdefault(k, line)
    kinds.pop("missing", None)
    numeric = {"int", "float"}
    if len(kinds) > 1 and not set(kinds) <= numeric:
        (a, la), (b, lb) = sorted(kinds.items(), key=lambda kv: kv[1])[:2]
        raise ValueError(f"{path}: {key!r} changes type from {a} (line {la}) to {b} (line {lb})")
    kind = next(iter(kinds), "float")
    complete = all(_kind(row.get(key)) != "missing" for _, row in rows)
    if kind == "str":
        return ("step",), np.array([row.get(key) or "" for _, row in rows], dtype=str)
    if kind == "bool" and complete:
        return ("step",), np.array([row[key] for _, row in rows], dtype=bool)
    if kind == "list":
        lengths = {len(row[key]) for _, row in rows if _kind(row.get(key)) == "list"}
        if len(lengths) > 1:
            raise ValueError(f"{path}: the lists in {key!r} have different lengths {sorted(lengths)}")
        n = lengths.pop()
        out = np.full((len(rows), n), np.nan)
        for j, (_, row) in enumerate(rows):
            if _kind(row.get(key)) == "list":
                out[j] = [np.nan if x is None else x for x in row[key]]
        return ("step", f"{key}_index"), out
    if kind == "int" and complete:
        return ("step",), np.array([row[key] for _, row in rows], dtype=np.int64)
    return ("step",), np.array([np.nan if _kind(row.get(key)) == "missing" else float(row[key])
                                for _, row in rows], dtype=np.float64)


def load_metrics(run_dir: str | os.PathLike) -> xr.Dataset:
    """The metrics of a training run as a Dataset over ``step`` (see the module docstring).

    Parameters
    ----------
    run_dir : path-like
        The run folder (holding ``metrics.jsonl``), or the metrics file itself.

    Returns
    -------
    xarray.Dataset
        Coordinate ``step`` (int64, sorted); one variable per logged key; attributes ``source``
        (the file), ``rows`` (the number of rows read) and ``partial_last_line`` (bool: a partial
        last line was ignored).

    Raises
    ------
    FileNotFoundError
        No metrics file.
    ValueError
        A corrupt line (not the last), a row without an integer step, a repeated step, or a key
        whose type changes; the message names the file and the line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "metrics.jsonl").write_text('{"step": 0, "lr": 0.1, "batch_loss": NaN}\\n'
    ...                                      '{"step": 10, "lr": 0.1, "batch_loss": 2.5}\\n{"step": 2')
    >>> ds = load_metrics(d)
    >>> ds.step.values.tolist(), float(ds.batch_loss.sel(step=10)), ds.attrs["partial_last_line"]
    ([0, 10], 2.5, True)
    """
    path = Path(run_dir)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no metrics file (is {Path(run_dir)} a training run folder? the "
                                f"training loop writes {METRICS_FILE} at its first logged step)")
    rows, partial = read_rows(path)
    rows = [(line, _flatten(row)) for line, row in rows]
    seen = {}
    for line, row in rows:
        if row["step"] in seen:
            raise ValueError(f"{path}, line {line}: step {row['step']} repeats line {seen[row['step']]} (two "
                             f"runs appended to one file?); rerun the training from scratch (--fresh)")
        seen[row["step"]] = line
    keys = list(dict.fromkeys(k for _, row in rows for k in row if k != "step"))
    data = {}
    for key in keys:
        dims, values = _column(path, key, rows)
        long_name, units = _LONG_NAMES.get(key, (key.replace("_", " "), None))
        data[key] = (dims, values, {"long_name": long_name, **({"units": units} if units else {})})
    steps = np.array([row["step"] for _, row in rows], dtype=np.int64)
    ds = xr.Dataset(data, coords={"step": ("step", steps, {"long_name": _LONG_NAMES["step"][0]})},
                    attrs={"source": str(path), "rows": len(rows), "partial_last_line": partial})
    return ds.sortby("step")
