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
Plan                       design + point function + grid axes; TOML (``--config``), ``key=value`` (``--set``)
StoreError                 a store holds another configuration, or a damaged point
point_rng                  a random Generator from a seed and the point's values
design_of                  the design a sweep's Dataset was computed with
design_config, design_from_config, config_diff
                           a design as plain data and back (type-checked), differences between configurations

A point is identified by its full configuration (design class and fields, design ``VERSION``,
point function, grid values, store format); see :mod:`grokphase.sweep.store`.  Save and load a
sweep's Dataset with ``grokphase.results.save_dataset`` / ``load_dataset`` (types intact).
"""

from grokphase.sweep.design import config_diff, design_config, design_from_config, design_of
from grokphase.sweep.grid import Grid
from grokphase.sweep.plan import Plan
from grokphase.sweep.run import Dask, point_dataset, point_rng, run_sweep
from grokphase.sweep.store import PointStore, StoreError

__all__ = ["Grid", "run_sweep", "Dask", "Plan", "StoreError", "PointStore", "point_dataset", "point_rng",
           "design_of", "design_config", "design_from_config", "config_diff"]
