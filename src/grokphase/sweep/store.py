"""On-disk store of a sweep: one netCDF file per finished point, identified by its configuration.

Layout of a store folder::

    sweep.json              the sweep's identity: design class, its configuration, point
                            function, design VERSION, store format (written once, checked after)
    points/<key>.nc         one point's results (netCDF, written atomically)
    points/<key>.json       that point's full configuration, written after the data: a point is
                            finished exactly when this file exists

``key`` is a SHA-256 prefix of the point's full configuration (the identity above plus the grid
values of the point).  A store opened with a different identity is refused with an error that
names the differing fields; a point whose files cannot be read is an error naming the file and
the remedy, never a silent recomputation or reuse.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import xarray as xr

from grokphase._io import atomic_write_json, dumps_strict
from grokphase.results import load_dataset, save_dataset
from grokphase.sweep.design import config_diff, identity_config, qualified_name

__all__ = ["StoreError", "PointStore", "FORMAT", "sweep_identity", "identity_key"]

FORMAT = 1
"""Version of the store layout and of the point configuration; part of every key."""


def sweep_identity(point, design) -> dict:
    """What, besides the grid values, determines a point's results.

    Parameters
    ----------
    point : function
        The point function.
    design : frozen dataclass instance

    Returns
    -------
    dict
        ``{"format", "design", "version", "point_function", "config"}``: store format, design
        class, its ``VERSION`` (default 0), point function and the design's configuration
        (``design.identity_config``: fields added later with OMIT_DEFAULT count only when set).
    """
    return {"format": FORMAT, "design": qualified_name(design), "version": getattr(design, "VERSION", 0),
            "point_function": qualified_name(point), "config": identity_config(design)}


def identity_key(identity: dict, n: int = 16) -> str:
    """Hex SHA-256 prefix of the canonical JSON (sorted keys) of ``identity``.

    Parameters
    ----------
    identity : dict
        Plain data.
    n : int
        Hex digits kept.

    Returns
    -------
    str
    """
    text = json.dumps(json.loads(dumps_strict(identity)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:n]


class StoreError(ValueError):
    """A store holds something other than what this sweep would compute, or is damaged."""


def _read_json(path: Path, remedy: str) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise StoreError(f"cannot read {path} ({e}); {remedy}") from e


class PointStore:
    """The store folder ``root`` of a sweep with the given identity (see the module docstring).

    Parameters
    ----------
    root : path-like
        Store folder (created if missing).
    identity : dict
        JSON-ready description of everything but the grid values that determines a point's
        results.  A new folder records it in ``sweep.json``; an existing one must match it.

    create : bool
        False: the folder must exist already (reading a store never creates one).

    Raises
    ------
    StoreError
        When ``root/sweep.json`` records another identity (the message lists the differing
        fields) or cannot be read, or (create False) does not exist.
    """

    def __init__(self, root, identity: dict, *, create: bool = True):
        self.root = Path(root)
        self.identity = json.loads(dumps_strict(identity))
        manifest = self.root / "sweep.json"
        if not create and not manifest.exists():
            raise StoreError(f"no sweep store at {self.root}")
        if manifest.exists():
            stored = _read_json(manifest, f"delete {self.root} to start this sweep afresh")
            diff = config_diff(stored, self.identity)
            if diff:
                raise StoreError(f"store {self.root} was made by another sweep configuration "
                                 f"(stored != this sweep): {'; '.join(diff)}. Use another store folder, "
                                 f"or delete {self.root} to recompute everything")
        else:
            atomic_write_json(manifest, self.identity, indent=1)
        (self.root / "points").mkdir(parents=True, exist_ok=True)

    def config(self, values: dict) -> dict:
        """The full configuration of the point with grid ``values``.

        Parameters
        ----------
        values : dict
            The point's grid values ``{axis: value}``.

        Returns
        -------
        dict
            The store's identity plus ``"values"``.
        """
        return {**self.identity, "values": json.loads(dumps_strict(values))}

    def key(self, values: dict) -> str:
        """Hex SHA-256 prefix (16 digits) of the point's canonical configuration.

        Parameters
        ----------
        values : dict
            The point's grid values.

        Returns
        -------
        str
        """
        return identity_key(self.config(values))

    def paths(self, values: dict) -> tuple[Path, Path]:
        """(data file, done file) of the point.

        Parameters
        ----------
        values : dict
            The point's grid values.

        Returns
        -------
        tuple of pathlib.Path
            ``points/<key>.nc`` and ``points/<key>.json``.
        """
        base = self.root / "points" / self.key(values)
        return base.with_suffix(".nc"), base.with_suffix(".json")

    def load(self, values: dict) -> xr.Dataset | None:
        """The stored results of a finished point.

        Parameters
        ----------
        values : dict
            The point's grid values.

        Returns
        -------
        xarray.Dataset or None
            None when the point is not finished.

        Raises
        ------
        StoreError
            When the point's files cannot be read or its stored configuration differs from
            this one (the message names the files, the differing fields and the remedy).
        """
        data, done = self.paths(values)
        if not done.exists():
            return None
        remedy = f"delete {data} and {done} to recompute this point"
        diff = config_diff(_read_json(done, remedy), self.config(values))
        if diff:
            raise StoreError(f"{done} records another configuration (stored != this point): "
                             f"{'; '.join(diff)}; {remedy}")
        try:
            return load_dataset(data)
        except Exception as e:  # h5py/h5netcdf raise assorted types for damaged files
            raise StoreError(f"point file {data} is damaged or missing ({type(e).__name__}: {e}); {remedy}") from e

    def save(self, values: dict, ds: xr.Dataset) -> None:
        """Store a finished point: the data atomically, then the done file with its configuration.

        Parameters
        ----------
        values : dict
            The point's grid values.
        ds : xarray.Dataset
            Its results.
        """
        data, done = self.paths(values)
        save_dataset(ds, data)
        atomic_write_json(done, self.config(values), indent=1)
