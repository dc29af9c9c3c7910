"""Sweeps: a design (frozen dataclass of fixed parameters) and a pure point function evaluated
over a grid of named parameters, on any executor, stored point by point, as one labelled Dataset.

>>> from dataclasses import dataclass
>>> from grokphase.sweep import Grid, run_sweep
>>> @dataclass(frozen=True)
... class Line:
...     slope: float = 2.0
>>> def line(design, x, shift):   # top-level, pure
...     return {"y": design.slope * x + shift}
>>> ds = run_sweep(line, Grid.product(x=[0.0, 1.0, 2.0], shift=[0, 10]), design=Line())
>>> ds.y.dims, ds.y.sel(x=2.0, shift=10).item(), ds.attrs["slope"]
(('x', 'shift'), 14.0, 2.0)

Pieces
------
Grid                       named axes: ``Grid.product(N=[...], seed=[...])``, ``Grid.zip(...)``, ``g1 * g2``
run_sweep                  the sweep (executors: serial, concurrent.futures, Dask; store; retries; progress)
Dask                       a Dask LocalCluster or the address of a running cluster (e.g. dask-jobqueue)
StoreError                 a store holds another configuration, or a damaged point
design_of                  the design a sweep's Dataset was computed with
design_config, design_from_config, with_overrides, load_toml, write_toml, config_diff
                           a design as plain data, TOML presets, ``key=value`` overrides
write_netcdf, read_netcdf  netCDF files with types intact (atomic writes)

A point is identified by its full configuration (design class and fields, design ``VERSION``,
point function, grid values, store format); see :mod:`grokphase.sweep.store`.
"""

from grokphase._netcdf import read_netcdf, write_netcdf
from grokphase.sweep.design import (config_diff, design_config, design_from_config, design_of, load_toml,
                                    with_overrides, write_toml)
from grokphase.sweep.grid import Grid
from grokphase.sweep.run import Dask, point_dataset, run_sweep
from grokphase.sweep.store import PointStore, StoreError

__all__ = ["Grid", "run_sweep", "Dask", "StoreError", "PointStore", "point_dataset", "design_of",
           "design_config", "design_from_config", "with_overrides", "load_toml", "write_toml", "config_diff",
           "write_netcdf", "read_netcdf"]
