"""Designs: frozen dataclasses holding an experiment's fixed parameters, and their resolved
configuration as plain data (TOML files and ``key=value`` overrides: :class:`grokphase.sweep.Plan`).

A design's configuration is the dict of its dataclass fields with tuples as lists: JSON- and
TOML-ready, and the identity of every point computed with it (see :mod:`grokphase.sweep.store`).
Field types come from the dataclass annotations: ``int``, ``float``, ``str``, ``bool``,
``tuple[X, ...]`` of those, and ``X | None``; values read from TOML or the command line are checked
and converted against them (an int is accepted for a float field, nothing else is converted).
"""

from __future__ import annotations

import dataclasses
import importlib
import tomllib
import types
import typing

__all__ = ["qualified_name", "design_config", "design_from_config", "design_of", "config_diff", "parse_value"]


def qualified_name(obj) -> str:
    """``module.QualName`` of a class or function (of ``type(obj)`` for an instance)."""
    cls = obj if isinstance(obj, (type, types.FunctionType)) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_design(design) -> None:
    if not (dataclasses.is_dataclass(design) and not isinstance(design, type)):
        raise TypeError(f"design must be a dataclass instance, got {design!r}")
    if not type(design).__dataclass_params__.frozen:
        raise TypeError(f"design {qualified_name(design)} must be a frozen dataclass (@dataclass(frozen=True))")


def design_config(design) -> dict:
    """The fields of ``design`` as plain data (tuples become lists).

    Raises TypeError when a field holds anything but bool, int, float, str, None or a tuple/list
    of those (a design must be fully described by such values)."""
    _check_design(design)
    out = {}
    for f in dataclasses.fields(design):
        v = getattr(design, f.name)
        if isinstance(v, (tuple, list)):
            v = list(v)
            bad = [x for x in v if not isinstance(x, (bool, int, float, str))]
        else:
            bad = [] if v is None or isinstance(v, (bool, int, float, str)) else [v]
        if bad:
            raise TypeError(f"design field {f.name!r} must hold bool/int/float/str values (or tuples of "
                            f"them), got {bad[0]!r}")
        out[f.name] = v
    return out


def _coerce(name: str, hint, value):
    """``value`` checked against the annotation ``hint`` (module docstring); ValueError names the field."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(name, a, value)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0] if errors else f"{name}: None is the only allowed value")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list of values, got {value!r}")
        item = args[0] if args else typing.Any
        return tuple(_coerce(f"{name}[{i}]", item, v) for i, v in enumerate(value))
    if hint is typing.Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (bool, int, float, str) and type(value) is hint:
        return value
    raise ValueError(f"{name} must be {getattr(hint, '__name__', hint)}, got {value!r} ({type(value).__name__})")


def design_from_config(cls, config: dict, *, base=None):
    """A ``cls`` built from ``config`` (field -> value), type-checked against the annotations.

    Parameters
    ----------
    cls : type
        A frozen dataclass, or its qualified name ``"module.Class"``.
    config : dict
        Field values; fields it lacks keep their value in ``base`` (or the class default).
    base : cls instance, optional
        Starting point (default: ``cls()``; then every field without a default must be given).

    Raises
    ------
    ValueError
        For a key that is not a field (naming the valid ones), a value of the wrong type, or what
        the design's own ``__post_init__`` rejects.
    """
    if isinstance(cls, str):
        module, _, name = cls.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(config) - fields)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {unknown}; valid fields: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    values = {k: _coerce(k, hints[k], v) for k, v in config.items()}
    return dataclasses.replace(base, **values) if base is not None else cls(**values)


def config_diff(stored: dict, current: dict, prefix: str = "") -> list[str]:
    """Human-readable differences ``"key: stored != current"`` between two nested configurations
    (keys in one only are reported as ``<absent>``); empty when they agree."""
    out = []
    for k in sorted(set(stored) | set(current), key=str):
        a, b = stored.get(k, "<absent>"), current.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_diff(a, b, f"{prefix}{k}.")
        elif a != b or type(a) is not type(b):
            out.append(f"{prefix}{k}: {a!r} != {b!r}")
    return out


def parse_value(text: str):
    """A ``--set`` value: a TOML literal (``8``, ``0.25``, ``true``, ``[64, 128]``, ``"a"``) or,
    failing that, the bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def design_of(ds):
    """The design a :func:`grokphase.sweep.run_sweep` Dataset was computed with (rebuilt from its
    ``design`` and ``design_config`` attributes)."""
    import json

    return design_from_config(ds.attrs["design"], json.loads(ds.attrs["design_config"]))
