"""Designs: frozen dataclasses holding an experiment's fixed parameters, and their resolved
configuration as plain data (TOML files and ``key=value`` overrides: :class:`grokphase.sweep.Plan`).

A design's configuration is the dict of its dataclass fields with tuples as lists and nested
frozen dataclasses (e.g. an optimiser's settings) as nested dicts: JSON- and TOML-ready, and the
identity of every point computed with it (see :mod:`grokphase.sweep.store`).  Field types come
from the dataclass annotations: ``int``, ``float``, ``str``, ``bool``, ``tuple[X, ...]`` of those,
``X | None`` and nested dataclasses; values read from TOML or the command line are checked and
converted against them (an int is accepted for a float field, nothing else is converted; the
string ``"none"`` means None for an optional field, since TOML has no null).  Keys of nested
fields are dotted on the command line (``ivon.lr=1``) and tables in TOML (``[design.ivon]``).

A design may say which of its fields do not apply to it (a method ``inapplicable()`` returning
``{field: reason}``, e.g. the AdamW learning rate of a run trained with IVON):
:func:`resolved_config` leaves them out and :func:`design_from_config` refuses to set them.
A field added to a design after runs were recorded can keep their identities: declared with
``dataclasses.field(default=..., metadata={OMIT_DEFAULT: True})`` it is left out of
:func:`resolved_config` while it holds its default (so the recorded configurations, which lack it,
still describe those runs), and recorded like any other field otherwise; a top-level such field of
a sweep design is likewise left out of its store identity (:func:`identity_config`).
"""

from __future__ import annotations

import dataclasses
import importlib
import tomllib
import types
import typing

__all__ = ["OMIT_DEFAULT", "qualified_name", "design_config", "identity_config", "resolved_config", "design_from_config", "design_of", "config_diff",
           "parse_value", "parse_assignments", "read_toml", "write_toml"]

OMIT_DEFAULT = "omit_default"
"""Field metadata key: leave the field out of :func:`resolved_config` while it holds its default."""

NONE = "none"
"""How None is spelled in TOML files and ``key=value`` overrides."""


def qualified_name(obj) -> str:
    """``module.QualName`` of a class or function (of ``type(obj)`` for an instance).

    Parameters
    ----------
    obj : type, function or instance

    Returns
    -------
    str
    """
    cls = obj if isinstance(obj, (type, types.FunctionType)) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_design(design) -> None:
    if not (dataclasses.is_dataclass(design) and not isinstance(design, type)):
        raise TypeError(f"design must be a dataclass instance, got {design!r}")
    if not type(design).__dataclass_params__.frozen:
        raise TypeError(f"design {qualified_name(design)} must be a frozen dataclass (@dataclass(frozen=True))")


def design_config(design) -> dict:
    """The fields of ``design`` as plain data (tuples become lists, nested designs nested dicts).

    Parameters
    ----------
    design : frozen dataclass instance

    Returns
    -------
    dict
        ``{field: value}``, JSON- and TOML-ready (module docstring).

    Raises
    ------
    TypeError
        A field holds anything but bool, int, float, str, None, a tuple/list of those or a nested
        frozen dataclass (a design must be fully described by such values).
    """
    _check_design(design)
    out = {}
    for f in dataclasses.fields(design):
        v = getattr(design, f.name)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            out[f.name] = design_config(v)
            continue
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


def inapplicable(design) -> dict[str, str]:
    """The fields that do not apply to ``design``, from its ``inapplicable()`` method.

    Parameters
    ----------
    design : frozen dataclass instance

    Returns
    -------
    dict of str -> str
        ``{field: why it does not apply}`` (empty when the design has no such method).
    """
    method = getattr(design, "inapplicable", None)
    return dict(method()) if callable(method) else {}


def identity_config(design) -> dict:
    """:func:`design_config` without the top-level fields marked :data:`OMIT_DEFAULT` that hold
    their default: what identifies a design's results (its sweep store key), so that a field added
    later with its old behaviour as the default keeps the stores made before it.

    Parameters
    ----------
    design : frozen dataclass instance

    Returns
    -------
    dict
    """
    skip = {f.name for f in dataclasses.fields(design) if f.metadata.get(OMIT_DEFAULT)
            and f.default is not dataclasses.MISSING and getattr(design, f.name) == f.default}
    return {k: v for k, v in design_config(design).items() if k not in skip}


def resolved_config(design) -> dict:
    """:func:`design_config` without the fields that do not apply to ``design`` and without the
    fields marked :data:`OMIT_DEFAULT` that hold their default (what a run records).

    Parameters
    ----------
    design : frozen dataclass instance

    Returns
    -------
    dict
    """
    skip = set(inapplicable(design))
    return {k: v for k, v in identity_config(design).items() if k not in skip}


def _nest(config: dict) -> dict:
    """Dotted keys -> nested dicts (``{"ivon.lr": 1}`` -> ``{"ivon": {"lr": 1}}``)."""
    out: dict = {}
    for key, value in config.items():
        *head, last = str(key).split(".")
        node = out
        for part in head:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{key!r} sets a field inside {part!r}, which is also given a value")
        if isinstance(value, dict) and isinstance(node.get(last), dict):
            node[last].update(value)
        else:
            node[last] = value
    return out


def _coerce(name: str, hint, value):
    """``value`` checked against the annotation ``hint`` (module docstring); ValueError names the field."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() == NONE)):
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


def design_from_config(cls, config: dict, *, base=None, prefix: str = ""):
    """A ``cls`` built from ``config`` (field -> value), type-checked against the annotations.

    Parameters
    ----------
    cls : type or str
        A frozen dataclass, or its qualified name ``"module.Class"``.
    config : dict
        Field values; fields it lacks keep their value in ``base`` (or the class default).  A
        nested configuration takes a dict (only the keys it holds change) or dotted keys
        (``"ivon.lr"``).
    base : cls instance, optional
        Starting point (default: ``cls()``; then every field without a default must be given).
    prefix : str
        Prepended to field names in messages (used for nested configurations).

    Returns
    -------
    cls instance

    Raises
    ------
    ValueError
        For a key that is not a field (naming the valid ones), a value of the wrong type, a field
        that does not apply to the result (see :func:`resolved_config`), or what the design's own
        ``__post_init__`` rejects.
    """
    if isinstance(cls, str):
        module, _, name = cls.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
    config = _nest(config)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(config) - fields)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {[prefix + k for k in unknown]}; valid fields: "
                         f"{sorted(prefix + k for k in fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for k, v in config.items():
        hint = hints[k]
        current = getattr(base, k, None) if base is not None else None
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if not isinstance(v, dict):
                keys = [f"{prefix}{k}.{f.name}" for f in dataclasses.fields(hint)]
                raise ValueError(f"{prefix}{k} is a table of settings; set its keys {keys}, got {v!r}")
            values[k] = design_from_config(hint, v, base=current, prefix=f"{prefix}{k}.")
        else:
            values[k] = _coerce(prefix + k, hint, v)
    out = dataclasses.replace(base, **values) if base is not None else cls(**values)
    bad = {k: why for k, why in inapplicable(out).items() if k in values}
    if bad:
        raise ValueError("; ".join(f"{prefix}{k} does not apply: {why}" for k, why in bad.items()))
    return out


def config_diff(stored: dict, current: dict, prefix: str = "") -> list[str]:
    """Human-readable differences between two nested configurations.

    Parameters
    ----------
    stored, current : dict
        Configurations (plain data, nested dicts allowed).
    prefix : str
        Prepended to the keys in the messages (dotted path of a nested configuration).

    Returns
    -------
    list of str
        ``"key: stored != current"`` per differing key (a key in one only shows ``<absent>``; values
        of different types differ), sorted by key; empty when the two agree.
    """
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
    failing that, the bare string.

    Parameters
    ----------
    text : str

    Returns
    -------
    bool, int, float, str, list or dict
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignments(items) -> dict:
    """``["key=value", ...]`` (the command line's ``--set``) -> ``{key: value}``.

    Parameters
    ----------
    items : iterable of str
        ``key=value`` items; each value is read by :func:`parse_value`.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        An item without ``=`` or a key given twice.
    """
    out = {}
    for item in items:
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {item!r}")
        if key in out:
            raise ValueError(f"--set gives {key!r} twice")
        out[key] = parse_value(text.strip())
    return out


def read_toml(path) -> dict:
    """The tables of a TOML configuration file.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        The file cannot be read or parsed (the message names it).
    """
    from pathlib import Path

    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"cannot read the configuration {path}: {e}") from e


def _toml_ready(v):
    if isinstance(v, dict):
        return {k: _toml_ready(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_toml_ready(x) for x in v]
    return NONE if v is None else v


def write_toml(path, config: dict, *, comment: str = ""):
    """Write a configuration as TOML, atomically.

    Parameters
    ----------
    path : path-like
    config : dict
        Plain data; None is written as ``"none"`` (TOML has no null).
    comment : str
        Lines written as ``#`` comments at the top.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import tomli_w

    from grokphase._io import atomic_write_text

    head = "".join(f"# {line}\n" for line in comment.splitlines())
    return atomic_write_text(path, head + tomli_w.dumps(_toml_ready(config)))


def design_of(ds):
    """The design a :func:`grokphase.sweep.run_sweep` Dataset was computed with.

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep's Dataset (or one loaded back); its ``design`` and ``design_config`` attributes are read.

    Returns
    -------
    frozen dataclass instance
    """
    import json

    return design_from_config(ds.attrs["design"], json.loads(ds.attrs["design_config"]))
