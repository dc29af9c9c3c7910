"""netCDF files that keep their types: atomic writes through ``grokphase._io`` and the h5netcdf
engine (netCDF4/HDF5: int64, unsigned and variable-length string variables survive).

netCDF has no boolean attributes: :func:`write_netcdf` stores them as int8 and lists their names
in the attribute ``_bool_attrs`` (JSON), which :func:`read_netcdf` turns back into ``bool``.
Boolean *variables* are handled by xarray's own encoding.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from grokphase._io import atomic_path

__all__ = ["write_netcdf", "read_netcdf"]

_BOOLS = "_bool_attrs"


def _encode_attrs(attrs: dict) -> dict:
    out = {k: v for k, v in attrs.items() if not isinstance(v, (bool, np.bool_))}
    bools = sorted(k for k in attrs if k not in out)
    out.update({k: np.int8(attrs[k]) for k in bools})
    if bools:
        out[_BOOLS] = json.dumps(bools)
    return out


def _decode_attrs(attrs: dict) -> dict:
    out = dict(attrs)
    for k in json.loads(out.pop(_BOOLS, "[]")):
        out[k] = bool(out[k])
    return out


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to ``path`` (netCDF4 via h5netcdf) atomically; returns the path."""
    ds = ds.copy(deep=False)
    ds.attrs = _encode_attrs(ds.attrs)
    for v in ds.variables.values():
        v.attrs = _encode_attrs(v.attrs)
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return Path(path)


def read_netcdf(path: str | os.PathLike) -> xr.Dataset:
    """Load the Dataset written by :func:`write_netcdf` into memory (the file is closed)."""
    ds = xr.load_dataset(path, engine="h5netcdf")
    ds.attrs = _decode_attrs(ds.attrs)
    for v in ds.variables.values():
        v.attrs = _decode_attrs(v.attrs)
    return ds
