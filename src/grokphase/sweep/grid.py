"""Grids of named parameters: products of axes and zipped axes that vary together."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

__all__ = ["Grid"]


def grid_value(name: str, value):
    """``value`` as a plain Python scalar (bool, int, float or str); NumPy scalars are unwrapped.

    Parameters
    ----------
    name : str
        The grid axis (named in errors).
    value : scalar

    Returns
    -------
    bool, int, float or str

    Raises
    ------
    ValueError
        For anything else, and for non-finite floats (a NaN grid value could not be found again
        in a store).
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"grid axis {name!r}: values must be finite, got {value}")
    if not isinstance(value, (bool, int, float, str)):
        raise ValueError(f"grid axis {name!r}: values must be bool, int, float or str, got {value!r} "
                         f"({type(value).__name__})")
    return value


@dataclass(frozen=True)
class _Block:
    """One dimension of a grid: ``names`` vary together along ``dim``; ``rows`` their values."""

    dim: str
    names: tuple[str, ...]
    rows: tuple[tuple, ...]


@dataclass(frozen=True)
class Grid:
    """A grid of named parameter values; iterating gives one dict ``{name: value}`` per point.

    Build grids with :meth:`product` (every combination) and :meth:`zip` (equal-length axes
    varying together along one dimension), and combine them with ``*`` (outer product).  Points
    come in C order: the last dimension varies fastest.

    Examples
    --------
    >>> g = Grid.product(N=[16, 32]) * Grid.zip(seed=[0, 1], n_iter=[100, 200], dim="run")
    >>> g.dims, g.shape, len(g)
    (('N', 'run'), (2, 2), 4)
    >>> list(g)[1]
    {'N': 16, 'seed': 1, 'n_iter': 200}
    >>> sorted(g.coords)
    ['N', 'n_iter', 'seed']
    """

    blocks: tuple[_Block, ...] = ()

    @classmethod
    def product(cls, **axes) -> "Grid":
        """Every combination of the named axes; each axis is a dimension of its own.

        Parameters
        ----------
        **axes : sequence of scalars
            ``name=values``; values are bool, int, float or str, distinct within an axis.

        Returns
        -------
        Grid
        """
        return cls(tuple(_block(name, {name: values}) for name, values in axes.items()))

    @classmethod
    def zip(cls, dim: str | None = None, **axes) -> "Grid":
        """Equal-length axes that vary together along one dimension.

        Parameters
        ----------
        dim : str, optional
            Name of the shared dimension (default: the axis names joined by ``_``).  Each axis
            becomes a coordinate along it.
        **axes : sequence of scalars
            ``name=values``, all of the same length; the rows (one value per axis) are distinct.

        Returns
        -------
        Grid
        """
        if not axes:
            raise ValueError("Grid.zip needs at least one axis")
        return cls((_block(dim or "_".join(axes), axes),))

    def __mul__(self, other: "Grid") -> "Grid":
        if not isinstance(other, Grid):
            return NotImplemented
        return Grid(self.blocks + other.blocks)

    def __post_init__(self):
        names = [n for b in self.blocks for n in b.names]
        dims = [b.dim for b in self.blocks]
        for label, items in (("axis", names), ("dimension", dims)):
            dup = sorted({n for n in items if items.count(n) > 1})
            if dup:
                raise ValueError(f"grid {label} names must be distinct, got {dup} more than once")
        clash = sorted((set(dims) - set(names)) & set(names))
        if clash:
            raise ValueError(f"grid dimension names {clash} are also axis names of another dimension")

    @property
    def dims(self) -> tuple[str, ...]:
        """Dimension names, one per product factor."""
        return tuple(b.dim for b in self.blocks)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of points along each dimension."""
        return tuple(len(b.rows) for b in self.blocks)

    @property
    def names(self) -> tuple[str, ...]:
        """Every axis name (the keyword arguments a point receives)."""
        return tuple(n for b in self.blocks for n in b.names)

    @property
    def coords(self) -> dict[str, tuple[str, np.ndarray]]:
        """``{axis name: (dimension, values (n,))}``, ready for an ``xarray.Dataset``'s coords."""
        return {n: (b.dim, np.array([row[j] for row in b.rows])) for b in self.blocks
                for j, n in enumerate(b.names)}

    def __len__(self) -> int:
        return math.prod(self.shape)

    def __iter__(self) -> Iterator[dict]:
        for rows in itertools.product(*(b.rows for b in self.blocks)):
            yield {n: v for b, row in zip(self.blocks, rows) for n, v in zip(b.names, row)}


def _block(dim: str, axes: dict) -> _Block:
    cols = {}
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(f"grid axis {name!r} must be a sequence of values, got {values!r}")
        cols[name] = [grid_value(name, v) for v in values]
        if not cols[name]:
            raise ValueError(f"grid axis {name!r} is empty")
    lengths = {name: len(v) for name, v in cols.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"zipped grid axes must have equal lengths, got {lengths}")
    rows = tuple(zip(*cols.values()))
    if len(set(rows)) < len(rows):
        raise ValueError(f"grid axes {list(cols)}: values must be distinct along dimension {dim!r}")
    return _Block(dim, tuple(cols), rows)
