"""What every subcommand writes: strict JSON under ``--json``, readable text otherwise.

``--json`` means one thing in every subcommand: the command's result is written to stdout as strict
JSON (RFC 8259; NaN and infinities become ``null``, see :func:`grokphase._io.dumps_strict`) and
nothing else goes to stdout; progress bars are off and messages go to stderr through ``logging``.
Without ``--json`` the same result is printed as indented ``key: value`` text.
"""

from __future__ import annotations

import logging
import math
import sys

_HANDLER_FLAG = "_grokphase_cli_handler"


def emit(obj, args) -> None:
    """Write the result ``obj`` to stdout: strict JSON if ``args.json``, else readable text."""
    if args.json:
        from grokphase._io import dumps_strict

        sys.stdout.write(dumps_strict(obj, indent=2) + "\n")
    else:
        sys.stdout.write(format_text(obj) + "\n")


def format_text(obj, indent: int = 0) -> str:
    """Nested dicts/lists as indented ``key: value`` lines; floats to 6 significant digits.

    >>> print(format_text({"N": 64, "w": [0.1234567, float("nan")], "rows": [{"a": 1}]}))
    N: 64
    w: 0.123457, nan
    rows:
      - a: 1
    """
    pad = "  " * indent
    if isinstance(obj, dict):
        lines = []
        for k, v in obj.items():
            if _is_nested(v):
                lines += [f"{pad}{k}:", format_text(v, indent + 1)]
            else:
                lines.append(f"{pad}{k}: {_scalars(v)}")
        return "\n".join(lines)
    if _is_nested(obj):
        items = [format_text(v, indent + 1) for v in obj]        # each item's lines at pad + 2 spaces
        return "\n".join(f"{pad}- {item[len(pad) + 2:]}" for item in items)
    return pad + _scalars(obj)


def record(result) -> dict:
    """A result dataclass as a dict: its fields (``dataclasses.asdict``) and its public properties
    (derived values such as a transition's ``jump``), so that ``--json`` and the text tables show both.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class R:
    ...     a: float
    ...     @property
    ...     def twice(self):
    ...         return 2 * self.a
    >>> record(R(1.5))
    {'a': 1.5, 'twice': 3.0}
    """
    import dataclasses
    import inspect

    out = dataclasses.asdict(result)
    for name, _ in inspect.getmembers(type(result), lambda a: isinstance(a, property)):
        if not name.startswith("_"):
            out[name] = getattr(result, name)
    return out


def field_table(records: list[dict]) -> str:
    """Records (dicts of results) side by side: one line per field, one column per record.

    Scalar fields only (nested records such as branch states are in the ``--json`` output); a
    tuple field is split into ``name[i]``; a field a record does not have, or has as None, is ``-``,
    and a field that is None in every record is left out.

    >>> print(field_table([{"L": 8.0, "order": "first", "sp": (1.5, 2.25), "s": {"c": 1}},
    ...                    {"L": 16.0, "order": "crossover", "sp": None}]))
    L      8      16
    order  first  crossover
    sp[0]  1.5    -
    sp[1]  2.25   -
    """
    cols: dict[str, list[str]] = {}
    for j, rec in enumerate(records):
        for key, value in rec.items():
            if isinstance(value, dict) or value is None:
                continue
            parts = (list(zip((f"{key}[{i}]" for i in range(len(value))), value))
                     if isinstance(value, (list, tuple)) else [(key, value)])
            for name, x in parts:
                cols.setdefault(name, ["-"] * len(records))[j] = _scalars(x)
    width = [max(map(len, col)) for col in zip(*cols.values())] if cols else []
    name_w = max(map(len, cols), default=0)
    return "\n".join(f"{name:<{name_w}}  " + "  ".join(f"{x:<{w}}" for x, w in zip(col, width)).rstrip()
                     for name, col in cols.items())


def _is_nested(v) -> bool:
    return (isinstance(v, dict) and bool(v)) or (isinstance(v, (list, tuple)) and any(
        isinstance(x, (dict, list, tuple)) for x in v))


def _scalars(v) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(_scalars(x) for x in v) if v else "[]"
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    if hasattr(v, "item") and callable(v.item):      # a NumPy scalar
        return _scalars(v.item())
    return str(v)


class StderrHandler(logging.StreamHandler):
    """A logging handler writing to whatever ``sys.stderr`` is when a record is emitted.

    A plain ``StreamHandler(sys.stderr)`` keeps the stream of the moment it was made; when that
    stream is replaced and closed (pytest's output capture, a redirected ``sys.stderr``) every
    later message ends in a "--- Logging error ---" traceback instead of the current stderr.
    """

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):      # StreamHandler.__init__/setStream assign it; the lookup stays dynamic
        pass


def configure_logging() -> None:
    """Show the package's INFO messages (``grokphase.*`` loggers) on stderr, once per process.

    The handler (:class:`StderrHandler`) is added to the ``grokphase`` logger only the first time
    and writes to the ``sys.stderr`` of the moment each message is emitted.
    """
    log = logging.getLogger("grokphase")
    if any(getattr(h, _HANDLER_FLAG, False) for h in log.handlers):
        return
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter("grokphase: %(message)s"))
    setattr(handler, _HANDLER_FLAG, True)
    log.addHandler(handler)
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)
