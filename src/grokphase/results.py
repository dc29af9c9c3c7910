"""Labelled results: netCDF save/load with exact attribute types, and CF flag (categorical) variables.

Every grid the package computes (phase diagrams, linear-VI sweeps, sweep outputs) is an
:class:`xarray.Dataset` with named dimensions, CF-style ``long_name``/``units`` attributes on its
variables and the model parameters as typed global attributes.  This module is the one place that
writes and reads them:

* :func:`save_dataset` writes netCDF-4 (engine ``h5netcdf``) atomically (:func:`grokphase._io.atomic_path`);
* :func:`load_dataset` reads it back fully into memory, with an error that names the file and the
  remedy when the file is missing, truncated or not netCDF;
* attributes round-trip with their Python types: ``float`` stays ``float``, ``int`` stays ``int``,
  ``bool`` stays ``bool`` (netCDF has no boolean type: booleans are stored as int8 and listed in
  the attribute ``grokphase_bool_attrs``), ``str`` stays ``str``; sequences come back as NumPy
  arrays.  ``None`` and dicts are refused (ValueError naming the attribute);
* categorical variables are integer codes with CF ``flag_values``/``flag_meanings``
  (:func:`flag_array` builds one, :func:`flag_labels` decodes it).

>>> import numpy as np, tempfile, pathlib
>>> ds = xr.Dataset({"order": flag_array(["first", "crossover"], ("crossover", "first"), "L",
...                                      long_name="transition order")},
...                 coords={"L": ("L", [8.0, 4.0], {"long_name": "sequence length", "units": "1"})},
...                 attrs={"s_uv": 9.0, "n": 3, "converged": True, "kind": "softmax"})
>>> path = save_dataset(ds, pathlib.Path(tempfile.mkdtemp()) / "pd.nc")
>>> back = load_dataset(path)
>>> back.attrs == ds.attrs, [type(back.attrs[k]).__name__ for k in ("s_uv", "n", "converged", "kind")]
(True, ['float', 'int', 'bool', 'str'])
>>> flag_labels(back.order).values.tolist()
['first', 'crossover']
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Hashable, Sequence

import numpy as np
import xarray as xr

from grokphase._io import atomic_path

__all__ = ["save_dataset", "load_dataset", "flag_array", "flag_labels", "BOOL_ATTRS"]

#: Attribute listing (space-separated) which of the other attributes are booleans.
BOOL_ATTRS = "grokphase_bool_attrs"
ENGINE = "h5netcdf"


def _encode_attrs(attrs: dict, where: str) -> dict:
    out, bools = {}, []
    for k, v in attrs.items():
        if k == BOOL_ATTRS:
            raise ValueError(f"{where}: attribute name {BOOL_ATTRS!r} is reserved")
        if isinstance(v, (bool, np.bool_)):
            out[k] = np.int8(v)
            bools.append(str(k))
        elif isinstance(v, str):
            out[k] = v
        elif isinstance(v, numbers.Integral):
            out[k] = np.int64(v)
        elif isinstance(v, numbers.Real):
            out[k] = v if isinstance(v, np.generic) and not isinstance(v, float) else np.float64(v)  # float32 kept
        elif isinstance(v, (np.ndarray, list, tuple)):
            a = np.asarray(v)
            if a.ndim != 1 or a.dtype.kind not in "iuf":
                raise ValueError(f"{where}: attribute {k!r} must be a 1-d sequence of numbers to be "
                                 f"stored in netCDF, got {v!r}")
            out[k] = a
        else:
            raise ValueError(f"{where}: attribute {k!r} = {v!r} ({type(v).__name__}) cannot be stored in "
                             f"netCDF; use a str, int, float, bool or a 1-d sequence of numbers")
    if bools:
        out[BOOL_ATTRS] = " ".join(bools)
    return out


def _decode_attrs(attrs: dict) -> dict:
    bools = set(str(attrs.get(BOOL_ATTRS, "")).split())
    out = {}
    for k, v in attrs.items():
        if k == BOOL_ATTRS:
            continue
        if k in bools:
            out[k] = bool(v)
        elif isinstance(v, np.ndarray) and v.ndim == 0:
            out[k] = v.item()
        elif isinstance(v, (np.float64, np.int64, np.str_, np.bytes_)):
            out[k] = v.item()
        else:
            out[k] = v
    return out


def save_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to ``path`` as netCDF-4 (h5netcdf engine), atomically.

    Parameters
    ----------
    ds : xarray.Dataset
        Attributes (global and per variable) must be str, int, float, bool or 1-d numeric sequences.
    path : path-like
        Target file (conventionally ``.nc``); its folder is created if missing.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        An attribute that netCDF cannot hold (named).
    OSError
        The folder is not writable (the message names ``path``).
    """
    if not isinstance(ds, xr.Dataset):
        raise ValueError(f"ds must be an xarray.Dataset, got {type(ds).__name__}")
    path = Path(path)
    out = ds.copy(deep=False)
    out.attrs = _encode_attrs(ds.attrs, f"{path}: global attributes")
    for name, var in ds.variables.items():
        out[name].attrs = _encode_attrs(var.attrs, f"{path}: variable {name!r}")
    with atomic_path(path) as tmp:
        out.to_netcdf(tmp, engine=ENGINE)
    return path


def load_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Read a Dataset written by :func:`save_dataset` (fully into memory; the file is closed).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    xarray.Dataset
        With the attributes' Python types restored (module docstring).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` is not a readable netCDF-4 file (truncated, corrupt or another format); the message
        names the file and the remedy (delete it and recompute the result).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such result file")
    try:
        ds = xr.load_dataset(path, engine=ENGINE)
    except Exception as e:  # h5py/h5netcdf raise OSError, ValueError, KeyError... for bad files
        raise ValueError(f"{path}: not a readable netCDF-4 result file ({type(e).__name__}: {e}); it may be "
                         f"truncated or corrupt, or of another format: delete it and recompute it "
                         f"(rerun the command that wrote it)") from e
    ds.attrs = _decode_attrs(ds.attrs)
    for name in ds.variables:
        ds[name].attrs = _decode_attrs(ds[name].attrs)
    return ds


def flag_array(labels: Sequence[str] | np.ndarray, meanings: Sequence[str], dims: Hashable | Sequence[Hashable],
               *, long_name: str) -> xr.DataArray:
    """An int8 DataArray of codes for categorical ``labels``, with CF ``flag_values``/``flag_meanings``.

    Parameters
    ----------
    labels : array-like of str, any shape
        Each entry one of ``meanings``.
    meanings : sequence of str
        The categories, code i = ``meanings[i]``; single words (CF separates them by spaces).
    dims : name or sequence of names
        The dimensions of ``labels``.
    long_name : str
        CF long name of the variable.

    Returns
    -------
    xarray.DataArray
        int8 codes, the shape of ``labels``.

    Raises
    ------
    ValueError
        A label not among ``meanings``, or a meaning containing whitespace.
    """
    meanings = tuple(str(m) for m in meanings)
    if len(meanings) > 127 or any(not m or m.split() != [m] for m in meanings):
        raise ValueError(f"meanings must be at most 127 single words, got {meanings}")
    lab = np.asarray(labels, dtype=str)
    code = {m: i for i, m in enumerate(meanings)}
    bad = sorted(set(lab.ravel().tolist()) - set(code))
    if bad:
        raise ValueError(f"labels {bad} are not among the flag meanings {meanings}")
    codes = np.vectorize(code.__getitem__, otypes=[np.int8])(lab) if lab.size else lab.astype(np.int8)
    return xr.DataArray(codes, dims=dims, attrs={"long_name": long_name,
                                                  "flag_values": np.arange(len(meanings), dtype=np.int8),
                                                  "flag_meanings": " ".join(meanings)})


def flag_labels(da: xr.DataArray) -> xr.DataArray:
    """Decode a CF flag variable (``flag_values``/``flag_meanings``) to its labels.

    Parameters
    ----------
    da : xarray.DataArray
        Integer codes with ``flag_values`` and ``flag_meanings`` attributes.

    Returns
    -------
    xarray.DataArray
        str labels, same shape, dims and coordinates; ``long_name`` kept.

    Raises
    ------
    ValueError
        ``da`` has no flag attributes, or holds a code not among ``flag_values``.
    """
    if "flag_values" not in da.attrs or "flag_meanings" not in da.attrs:
        raise ValueError(f"variable {da.name!r} is not a flag variable (no flag_values/flag_meanings)")
    values = np.atleast_1d(da.attrs["flag_values"])
    meanings = str(da.attrs["flag_meanings"]).split()
    table = dict(zip(values.tolist(), meanings))
    codes = np.asarray(da.values)
    bad = sorted(set(codes.ravel().tolist()) - set(table))
    if bad:
        raise ValueError(f"variable {da.name!r} holds codes {bad} not among flag_values {values.tolist()}")
    width = max((len(m) for m in meanings), default=1)
    lab = np.vectorize(table.__getitem__, otypes=[f"U{width}"])(codes) if codes.size else codes.astype(f"U{width}")
    return xr.DataArray(lab, dims=da.dims, coords=da.coords, name=da.name,
                        attrs={"long_name": da.attrs.get("long_name", "")})
