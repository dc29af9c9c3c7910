"""Plans: a design, its point function and the grid to sweep it over, readable from and
writable to TOML, with ``key=value`` overrides (the command line's ``--config run.toml --set k=v``).

A plan's TOML file::

    # grokphase.validation.experiments.attention_hysteresis.Hysteresis
    zipped = []              # grid axes that vary together (one dimension); the rest: product
    [design]                 # design fields (those absent keep the plan's values)
    n_iter = 2000
    [grid]                   # grid axes (those absent keep the plan's values)
    N = [64, 128, 256]
    seed = [0]
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Callable

import xarray as xr

from grokphase.sweep.design import (design_config, design_from_config, parse_assignments, qualified_name, read_toml,
                                    write_toml)
from grokphase.sweep.grid import Grid, grid_value
from grokphase.sweep.run import run_sweep
from grokphase.sweep.store import identity_key, sweep_identity

__all__ = ["Plan"]


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a sweep computes: ``point`` at every point of a grid over ``design``.

    Parameters
    ----------
    point : callable
        The point function ``point(design, **values)`` (see :func:`run_sweep`).
    design : frozen dataclass
        The fixed parameters.
    axes : tuple of (name, tuple of values)
        The grid axes, in dimension order; the names are ``point``'s keyword parameters.
    zipped : tuple of str
        Axes that vary together along one dimension (named by joining them with ``_``, placed
        where the first of them is); every other axis is a dimension of its own.
    """

    point: Callable
    design: object
    axes: tuple[tuple[str, tuple], ...]
    zipped: tuple[str, ...] = ()

    def __post_init__(self):
        params = list(inspect.signature(self.point).parameters)[1:]
        names = [n for n, _ in self.axes]
        bad = sorted(set(names) - set(params)) + sorted(set(self.zipped) - set(names))
        if bad:
            raise ValueError(f"grid axes {bad} are not among {qualified_name(self.point)}'s parameters {params} "
                             f"(or zipped axes not in the grid)")
        missing = sorted(set(params) - set(names))
        if missing:
            raise ValueError(f"{qualified_name(self.point)} needs grid axes {missing}")
        object.__setattr__(self, "axes", tuple((n, tuple(grid_value(n, v) for v in vals)) for n, vals in self.axes))

    @property
    def grid(self) -> Grid:
        """The :class:`Grid` of the axes (zipped ones as one dimension)."""
        g, zipped_done = Grid(), False
        for name, values in self.axes:
            if name not in self.zipped:
                g = g * Grid.product(**{name: values})
            elif not zipped_done:
                g = g * Grid.zip(**{n: v for n, v in self.axes if n in self.zipped})
                zipped_done = True
        return g

    @property
    def key(self) -> str:
        """8 hex digits identifying the design, its VERSION and the point function (not the grid):
        plans with equal keys share stored points."""
        return identity_key(sweep_identity(self.point, self.design), 8)

    def run(self, **kw) -> xr.Dataset:
        """:func:`run_sweep` of this plan.

        Parameters
        ----------
        **kw
            ``store``, ``executor``, ``chunk``, ``retries``, ``progress``, ``compute`` of :func:`run_sweep`.

        Returns
        -------
        xarray.Dataset
        """
        return run_sweep(self.point, self.grid, design=self.design, **kw)

    def replace(self, design: dict | None = None, grid: dict | None = None) -> "Plan":
        """This plan with some design fields and grid axes replaced.

        Parameters
        ----------
        design : dict, optional
            Design fields (type-checked, see :func:`~grokphase.sweep.design_from_config`).
        grid : dict, optional
            Grid axes ``{name: values}``; a scalar becomes a one-value axis.

        Returns
        -------
        Plan

        Raises
        ------
        ValueError
            Unknown names (listing the valid ones) or values of the wrong type.
        """
        grid = dict(grid or {})
        unknown = sorted(set(grid) - {n for n, _ in self.axes})
        if unknown:
            raise ValueError(f"{unknown} are not grid axes of this plan; axes: {[n for n, _ in self.axes]}")
        axes = tuple((n, tuple(v) if isinstance(v, (list, tuple)) else (v,)) if (v := grid.get(n)) is not None
                     else (n, vals) for n, vals in self.axes)
        d = design_from_config(type(self.design), design or {}, base=self.design)
        return dataclasses.replace(self, design=d, axes=axes)

    def with_overrides(self, assignments=()) -> "Plan":
        """Apply ``key=value`` assignments (the command line's ``--set``).

        Parameters
        ----------
        assignments : iterable of str
            ``key`` is a design field (dotted for nested settings) or a grid axis, ``value`` a TOML
            literal (``n_iter=100``, ``N=[64, 128]``, ``kind="linear"``).

        Returns
        -------
        Plan

        Raises
        ------
        ValueError
            A key that is neither a field nor an axis (listing both).
        """
        axes = {n for n, _ in self.axes}
        fields = {f.name for f in dataclasses.fields(self.design)}
        design, grid = {}, {}
        for key, value in parse_assignments(assignments).items():
            if key not in axes and key.split(".")[0] not in fields:
                raise ValueError(f"{key!r} is neither a field of {type(self.design).__name__} nor a grid axis; "
                                 f"fields: {sorted(fields)}; axes: {sorted(axes)}")
            (grid if key in axes else design)[key] = value
        return self.replace(design, grid)

    def config(self) -> dict:
        """The plan as plain data.

        Returns
        -------
        dict
            ``{"zipped": [...], "design": {...}, "grid": {axis: [values]}}``.
        """
        return {"zipped": list(self.zipped), "design": design_config(self.design),
                "grid": {n: list(v) for n, v in self.axes}}

    def from_toml(self, path) -> "Plan":
        """This plan updated from the TOML file at ``path`` (module docstring).

        Parameters
        ----------
        path : path-like

        Returns
        -------
        Plan

        Raises
        ------
        ValueError
            The file cannot be read or sets what the plan does not have (the message names the file).
        """
        path = Path(path)
        cfg = read_toml(path)
        extra = sorted(set(cfg) - {"zipped", "design", "grid"})
        try:
            if extra:
                raise ValueError(f"unknown top-level keys {extra} (expected zipped, [design], [grid])")
            plan = self.replace(cfg.get("design"), cfg.get("grid"))
            return dataclasses.replace(plan, zipped=tuple(cfg.get("zipped", plan.zipped)))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e

    def to_toml(self, path) -> Path:
        """Write the plan to ``path`` as TOML (atomically); :meth:`from_toml` reads it back.

        Parameters
        ----------
        path : path-like

        Returns
        -------
        pathlib.Path
        """
        return write_toml(path, self.config(),
                          comment=f"{qualified_name(self.design)} swept by {qualified_name(self.point)}")
