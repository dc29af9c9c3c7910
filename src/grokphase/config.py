"""Experiment configurations: frozen dataclasses as plain data, TOML files, ``key=value`` overrides and
a configuration hash.

An experiment's configuration is a frozen dataclass whose fields are numbers, strings, booleans,
tuples, ``None`` or nested configuration dataclasses (e.g. an optimiser's settings).  This module
turns one into plain data and back, with every key and type checked:

* :func:`to_dict` / :func:`updated`: nested dict of plain values, and a copy with changes applied
  (nested dicts or dotted keys ``"ivon.lr"``).  A configuration may say which of its fields do not
  apply to it (an ``inapplicable()`` method returning {field: reason}, e.g. the AdamW learning rate
  of a run trained with IVON): :func:`resolved` leaves them out, and :func:`updated` refuses to set
  them.  An unknown key is a ``ValueError`` naming the key and
  the valid ones; a value of the wrong type (a float for an integer field, a string for a number) is
  a ``ValueError`` naming the field.  Integer-valued floats are accepted for integer fields
  (``1e3`` -> 1000), nothing is truncated.
* :func:`read_toml` / :func:`write_toml`: TOML files (``None``, which TOML lacks, is written as the
  string ``"none"`` and read back as ``None`` for optional fields).
* :func:`parse_assignments`: ``["lr=1e-3", "op=add", "ivon.lr=1"]`` -> a change dict (each value is
  read as a TOML value, falling back to the plain string).
* :func:`config_hash`: a short SHA-256 of the canonical (sorted-key, strict) JSON of plain data, used
  to name run folders and to identify stored results.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Run:
...     lr: float = 1e-3
...     steps: int = 100
...     clip: float | None = None
>>> updated(Run(), parse_assignments(["lr=0.01", "steps=1e3", "clip=1"]))
Run(lr=0.01, steps=1000, clip=1.0)
>>> updated(Run(), {"lr_": 1.0})
Traceback (most recent call last):
    ...
ValueError: unknown key 'lr_' for Run; valid keys: clip, lr, steps
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Mapping

from grokphase._io import atomic_write_text, strict_json_value

__all__ = ["to_dict", "resolved", "updated", "parse_assignments", "read_toml", "write_toml", "config_hash"]

_NONE = "none"


def to_dict(cfg) -> dict:
    """Plain nested dict of a configuration dataclass (tuples become lists, nested configs dicts)."""
    if not (dataclasses.is_dataclass(cfg) and not isinstance(cfg, type)):
        raise TypeError(f"expected a configuration dataclass instance, got {type(cfg).__name__}")
    return {f.name: _plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}


def inapplicable(cfg) -> dict[str, str]:
    """{field: why it does not apply} from the configuration's ``inapplicable()`` method (or {})."""
    method = getattr(cfg, "inapplicable", None)
    return dict(method()) if callable(method) else {}


def resolved(cfg) -> dict:
    """:func:`to_dict` without the fields that do not apply to ``cfg`` (what a run records)."""
    skip = inapplicable(cfg)
    return {k: v for k, v in to_dict(cfg).items() if k not in skip}


def _plain(v):
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return to_dict(v)
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v


def _nest(changes: Mapping[str, Any]) -> dict:
    """Dotted keys -> nested dicts (``{"ivon.lr": 1}`` -> ``{"ivon": {"lr": 1}}``)."""
    out: dict = {}
    for key, value in changes.items():
        *head, last = str(key).split(".")
        node = out
        for part in head:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"key {key!r} sets a field inside {part!r}, which is also given a value")
        if isinstance(value, Mapping):
            node.setdefault(last, {}).update(value)
        else:
            node[last] = value
    return out


def updated(cfg, changes: Mapping[str, Any], *, prefix: str = ""):
    """A copy of the configuration dataclass ``cfg`` with ``changes`` applied.

    Parameters
    ----------
    cfg : dataclass instance
        The base configuration (e.g. a preset).
    changes : mapping
        Field name (or dotted path into nested configurations) -> new value; nested mappings set
        fields of nested configurations.  Values are checked against the field types.

    Raises
    ------
    ValueError
        For an unknown key (the message lists the valid keys), a value of the wrong type, or a field
        that does not apply to the result (see ``inapplicable``); the dataclass's own checks
        (``__post_init__``) then validate the ranges.
    """
    hints = typing.get_type_hints(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg)]
    new = {}
    for key, value in _nest(changes).items():
        path = prefix + key
        if key not in names:
            raise ValueError(f"unknown key {path!r} for {type(cfg).__name__}; valid keys: "
                             + ", ".join(prefix + n for n in sorted(names)))
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, Mapping):
                keys = ", ".join(f"{path}.{f.name}" for f in dataclasses.fields(current))
                raise ValueError(f"{path} is a table of settings; set its keys ({keys}), got {value!r}")
            new[key] = updated(current, value, prefix=path + ".")
        else:
            new[key] = _coerce(value, hints[key], path)
    out = dataclasses.replace(cfg, **new)
    bad = {k: why for k, why in inapplicable(out).items() if k in new}
    if bad:
        raise ValueError("; ".join(f"{prefix}{k} does not apply: {why}" for k, why in bad.items()))
    return out


def _coerce(value, tp, name: str):
    """``value`` as the annotated type ``tp`` (int, float, bool, str, tuple, X | None)."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        if value is None or (isinstance(value, str) and value.lower() == _NONE):
            return None
        (tp,) = [a for a in args if a is not type(None)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        return value
    if tp is tuple or typing.get_origin(tp) is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list, got {value!r}")
        return tuple(value)
    raise TypeError(f"{name}: field type {tp!r} is not supported in configurations")


def parse_assignments(items) -> dict[str, Any]:
    """``["key=value", ...]`` (the command line's ``--set``) -> ``{key: value}``.

    Each value is read as a TOML value (numbers, ``true``/``false``, ``[0.9, 0.98]``, quoted
    strings); anything else is kept as the plain string (``op=add``).  ``ValueError`` for an item
    without ``=`` or a key given twice.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {item!r}")
        if key in out:
            raise ValueError(f"--set gives {key!r} twice")
        try:
            out[key] = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = raw.strip()
    return out


def read_toml(path: str | os.PathLike) -> dict:
    """The tables of a TOML file as a change dict for :func:`updated`; errors name the file."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as e:
        raise ValueError(f"configuration file {path} does not exist") from e
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"configuration file {path} is not valid TOML: {e}") from e


def _toml_ready(v):
    if isinstance(v, dict):
        return {k: _toml_ready(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_toml_ready(x) for x in v]
    return _NONE if v is None else v


def write_toml(path: str | os.PathLike, data: Mapping | Any) -> Path:
    """Write a configuration dataclass (or plain dict) as TOML, atomically; returns the path."""
    import tomli_w

    plain = data if isinstance(data, Mapping) else to_dict(data)
    return atomic_write_text(path, tomli_w.dumps(_toml_ready(dict(plain))))


def config_hash(data, length: int = 10) -> str:
    """First ``length`` hex digits of the SHA-256 of the canonical JSON of ``data`` (a dataclass or
    plain data; keys sorted, NumPy values as Python, non-finite floats as null)."""
    plain = to_dict(data) if dataclasses.is_dataclass(data) else data
    text = json.dumps(strict_json_value(plain), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]
