"""run_sweep: evaluate a point function over a grid with a chosen executor, storing each point
as it finishes, and assemble one labelled Dataset."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import hashlib
import logging
import threading
from typing import Callable, Iterator

import numpy as np
import xarray as xr

from grokphase._io import dumps_strict
from grokphase._progress import progress_bar
from grokphase.sweep.design import design_config, qualified_name
from grokphase.sweep.grid import Grid
from grokphase.sweep.store import FORMAT, PointStore, StoreError, sweep_identity

__all__ = ["Dask", "run_sweep", "point_dataset", "point_rng"]

log = logging.getLogger("grokphase.sweep")


UNSET_MALLOC_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
"""Dask configuration key whose value None keeps the variable out of a worker's environment (see :class:`Dask`)."""


@dataclasses.dataclass(frozen=True)
class Dask:
    """A Dask distributed executor for :func:`run_sweep`.

    Parameters
    ----------
    address : str, optional
        Scheduler address of a running cluster (``"tcp://host:8786"``; e.g. one started by
        dask-jobqueue on SLURM/PBS).  None starts a ``LocalCluster`` for the sweep and closes it
        afterwards.
    n_workers : int, optional
        LocalCluster workers (default: Dask's choice, one per core).
    processes : bool
        LocalCluster workers as processes (default) or as threads of this process.
    threads_per_worker : int
        Threads per LocalCluster worker (default 1: the point functions use NumPy/Numba, which
        release the GIL only in part).

    Notes
    -----
    Dask's nannies start worker processes with ``MALLOC_TRIM_THRESHOLD_=65536``, which switches off
    glibc's adaptive mmap threshold: every large temporary NumPy array then costs an mmap/munmap
    pair, and an HMC point ran 6.5 times slower in such a process (measured here).  The
    LocalCluster started here leaves the variable unset; for workers started elsewhere (e.g. by
    dask-jobqueue) set ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null`` in the
    Dask configuration.
    """

    address: str | None = None
    n_workers: int | None = None
    processes: bool = True
    threads_per_worker: int = 1

    @contextlib.contextmanager
    def executor(self) -> Iterator[cf.Executor]:
        """A ``concurrent.futures`` view of the cluster's client; the cluster (if started here)
        and the client are closed on exit.

        Returns
        -------
        context manager yielding concurrent.futures.Executor
        """
        import dask
        from distributed import Client, LocalCluster

        with contextlib.ExitStack() as stack:
            if self.address is None:
                stack.enter_context(dask.config.set({UNSET_MALLOC_TRIM: None}))
                cluster = stack.enter_context(LocalCluster(
                    n_workers=self.n_workers, processes=self.processes,
                    threads_per_worker=self.threads_per_worker, dashboard_address=None))
                client = stack.enter_context(Client(cluster))
            else:
                client = stack.enter_context(Client(self.address))
            log.info("dask: %s", client)
            yield client.get_executor(pure=False)


def _resolve(executor) -> contextlib.AbstractContextManager:
    """A context manager yielding a ``concurrent.futures.Executor``, or None for serial."""
    if executor is None or executor == "serial":
        return contextlib.nullcontext(None)
    if isinstance(executor, cf.Executor):
        return contextlib.nullcontext(executor)
    if executor == "dask":
        executor = Dask()
    elif isinstance(executor, str) and "://" in executor:
        executor = Dask(address=executor)
    if isinstance(executor, Dask):
        return executor.executor()
    if type(executor).__name__ == "Client" and hasattr(executor, "get_executor"):
        return contextlib.nullcontext(executor.get_executor(pure=False))
    raise ValueError(f"executor must be None/'serial', 'dask', a scheduler address ('tcp://...'), a Dask(...), "
                     f"a dask.distributed.Client or a concurrent.futures.Executor; got {executor!r}")


_warmed: set[str] = set()
_warm_lock = threading.Lock()


def _warm(design) -> None:
    """Call ``design.warmup()`` once per process (thread-safe), if the design has one."""
    warmup = getattr(design, "warmup", None)
    if warmup is None:
        return
    name = qualified_name(design)
    with _warm_lock:
        if name not in _warmed:
            warmup()
            _warmed.add(name)


def point_dataset(result) -> xr.Dataset:
    """A point function's result as a Dataset.

    Parameters
    ----------
    result : dict or xarray.Dataset
        ``{name: value}`` with scalars, NumPy arrays (dimensions ``<name>_dim_<k>``) or
        ``xarray.DataArray`` (their own dimensions and coordinates), or a Dataset.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    TypeError
        ``result`` is neither a dict nor a Dataset.
    ValueError
        A value is None (return NaN for a missing number).
    """
    if isinstance(result, xr.Dataset):
        return result
    if not isinstance(result, dict):
        raise TypeError(f"a point function must return a dict or an xarray.Dataset, got {type(result).__name__}")
    out = {}
    for name, v in result.items():
        if isinstance(v, xr.DataArray):
            out[name] = v.rename(name) if v.name != name else v
        elif v is None:
            raise ValueError(f"point result {name!r} is None; return NaN for a missing number")
        else:
            a = np.asarray(v)
            out[name] = xr.DataArray(a, dims=[f"{name}_dim_{k}" for k in range(a.ndim)])
    return xr.Dataset(out)


def point_rng(seed: int, *keys) -> np.random.Generator:
    """A Generator determined by ``seed`` and the point's ``keys``, independent of the order in which
    points run.

    Parameters
    ----------
    seed : int
    *keys : int, float or str
        The point's values: ints as they are, floats by their bits, strings by their UTF-8 bytes.

    Returns
    -------
    numpy.random.Generator

    >>> float(point_rng(0, 256, 13.5).uniform()) == float(point_rng(0, 256, 13.5).uniform())
    True
    """
    def word(k):
        if isinstance(k, (bool, np.bool_)):
            return int(k)
        if isinstance(k, (int, np.integer)):
            return int(k) % 2**64
        if isinstance(k, (float, np.floating)):
            return int(np.float64(k).view(np.uint64))
        if isinstance(k, str):
            return int.from_bytes(hashlib.sha256(k.encode()).digest()[:8], "little")
        raise TypeError(f"point_rng keys must be int, float or str, got {k!r}")

    return np.random.default_rng(np.random.SeedSequence([word(seed), *map(word, keys)]))


def _run_chunk(point: Callable, design, values: list[dict]) -> list[xr.Dataset]:
    """One task: the point function at each of ``values`` (after the worker's warm-up)."""
    _warm(design)
    return [point_dataset(point(design, **v)) for v in values]


def _attrs(design, point) -> dict:
    """The design's fields as typed attributes, plus its exact configuration (JSON) and the names
    of the design class and point function."""
    config = design_config(design)
    attrs = {}
    for k, v in config.items():
        if isinstance(v, list):   # numeric tuples as arrays (netCDF holds no list of str)
            if v and len({type(x) for x in v}) == 1 and not isinstance(v[0], (str, bool)):
                attrs[k] = np.asarray(v)
        elif v is not None and not isinstance(v, dict):     # nested settings: in design_config only
            attrs[k] = v
    attrs.update(design=qualified_name(design), design_config=dumps_strict(config),
                 point_function=qualified_name(point), sweep_format=FORMAT)
    return attrs


def _assemble(grid: Grid, points: list[dict], results: list[xr.Dataset], attrs: dict, labels: dict) -> xr.Dataset:
    first = results[0]
    clash = sorted((set(grid.names) | set(grid.dims)) & (set(first.variables) | set(first.dims)))
    if clash:
        raise ValueError(f"point results use the grid's names {clash}; rename them")
    for v, r in zip(points, results):
        if set(r.data_vars) != set(first.data_vars):
            raise ValueError(f"point {v} returned variables {sorted(r.data_vars)}, the first point "
                             f"{sorted(first.data_vars)}")
        for name, c in first.coords.items():
            if name not in r.coords or not r.coords[name].equals(c):
                raise ValueError(f"point {v}: coordinate {name!r} differs from the first point's; "
                                 f"a coordinate must be the same at every point (make it a variable)")
    data = {}
    for name, var in first.data_vars.items():
        shapes = {r[name].shape for r in results}
        if len(shapes) > 1:
            raise ValueError(f"point results {name!r} have different shapes {sorted(shapes)}")
        stacked = np.stack([r[name].values for r in results]).reshape(grid.shape + var.shape)
        data[name] = xr.Variable(grid.dims + var.dims, stacked, attrs=var.attrs)
    coords = {k: c.variable for k, c in first.coords.items()}
    coords.update({k: xr.Variable((dim,), vals) for k, (dim, vals) in grid.coords.items()})
    ds = xr.Dataset(data, coords, attrs)
    for name, a in labels.items():
        if name in ds.variables:
            ds[name].attrs.update(a)
    return ds


def run_sweep(point: Callable, grid: Grid, *, design, store=None, executor=None, chunk: int = 1,
              retries: int = 0, progress: bool | None = None, compute: bool = True) -> xr.Dataset:
    """Evaluate ``point(design, **values)`` at every point of ``grid``; one labelled Dataset.

    Parameters
    ----------
    point : callable
        A pure, top-level (picklable) function ``point(design, **values)`` returning a dict of
        named scalars/arrays or an ``xarray.Dataset`` for one grid point (see
        :func:`point_dataset`).  Its result must depend on its arguments only (seed included).
    grid : Grid
        The named parameter values (:class:`Grid`); its names are the keyword arguments of
        ``point``.
    design : frozen dataclass
        The fixed parameters.  Optional class attributes: ``VERSION`` (int, part of every point's
        identity: bump it when the point function's results change meaning), ``LABELS``
        (``{name: {"long_name": ..., "units": ...}}`` for the output's variables and coordinates)
        and a method ``warmup()`` (called once per worker process before its first point, and
        once here before any task is sent, e.g. to load or fill the Numba cache).
    store : path-like, optional
        Store folder (:mod:`grokphase.sweep.store`): each finished point is written atomically
        as it completes and a rerun skips it.  A store made with another design/point function
        /VERSION is refused (:class:`StoreError` naming the differing fields).  None: nothing
        is written.
    executor : None, 'serial', 'dask', str, Dask, dask.distributed.Client or concurrent.futures.Executor
        Where points run: here, one after the other (None, default); a Dask LocalCluster started
        for this sweep (``'dask'``, or ``Dask(n_workers=2, processes=False)``); a running Dask
        scheduler (its address ``'tcp://host:port'``, or a Client); any ``concurrent.futures``
        executor, e.g. ``ProcessPoolExecutor`` (not shut down here).
    chunk : int
        Points per task (>= 1): batch cheap points to save scheduling overhead.
    retries : int
        Times a failed task is resubmitted (>= 0) before its exception propagates.
    progress : bool, optional
        tqdm bar on stderr (:func:`grokphase._progress.progress_bar`); None (default) shows it only
        when stderr is a terminal; False writes nothing.
    compute : bool
        False: only read ``store``; a point missing there raises :class:`StoreError`.

    Returns
    -------
    xarray.Dataset
        The point results stacked over the grid's dimensions (first, in grid order), with the
        grid's axes as coordinates; attributes: the design's fields (typed; numeric tuples as
        arrays; None and tuples of str only in ``design_config``),
        ``design`` (class name), ``design_config`` (its exact configuration as JSON, see
        :func:`grokphase.sweep.design_of`), ``point_function`` and ``sweep_format``.  The result
        is the same whichever executor ran it and whether or not points came from the store.

    Raises
    ------
    Exception
        The first point's exception that outlived its retries, with a note naming the grid
        point; finished points stay in the store.
    """
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a Grid, got {type(grid).__name__}")
    if "<" in getattr(point, "__qualname__", "<"):
        raise ValueError(f"point must be a top-level function (picklable, identifiable), got {point!r}")
    if int(chunk) != chunk or chunk < 1:
        raise ValueError(f"chunk must be an integer >= 1, got {chunk}")
    if int(retries) != retries or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, got {retries}")
    attrs = _attrs(design, point)
    if store is None and not compute:
        raise ValueError("compute=False needs a store to read")
    st = PointStore(store, sweep_identity(point, design), create=compute) if store is not None else None
    points = list(grid)
    results = [st.load(v) if st is not None else None for v in points]
    pending = [i for i, r in enumerate(results) if r is None]
    log.info("%s over %s: %d points, %d from the store, %d to compute", attrs["design"],
             dict(zip(grid.dims, grid.shape)), len(points), len(points) - len(pending), len(pending))
    if pending and not compute:
        raise StoreError(f"store {store}: {len(pending)} of {len(points)} points are not computed yet "
                         f"(first: {points[pending[0]]})")
    tasks = [pending[j:j + chunk] for j in range(0, len(pending), chunk)]
    with progress_bar(len(points), progress=progress, initial=len(points) - len(pending),
                      desc=type(design).__name__, unit="point") as bar:
        if tasks:
            _warm(design)
        for idx, dsets in _execute(executor, point, design, points, tasks, retries):
            for i, ds in zip(idx, dsets):
                results[i] = ds
                if st is not None:
                    st.save(points[i], ds)
            bar.update(len(idx))
    return _assemble(grid, points, results, attrs, getattr(design, "LABELS", {}))


def _execute(executor, point, design, points, tasks, retries) -> Iterator[tuple[list[int], list]]:
    """Yield (indices, results) per finished task; resubmit failed tasks up to ``retries`` times."""
    def note(err, idx):
        err.add_note(f"in grid point(s) {[points[i] for i in idx]} of {qualified_name(point)}")
        return err

    with _resolve(executor) as ex:
        if ex is None:
            for idx in tasks:
                for attempt in range(retries + 1):
                    try:
                        out = _run_chunk(point, design, [points[i] for i in idx])
                        break
                    except Exception as err:
                        if attempt == retries:
                            raise note(err, idx)
                        log.warning("point(s) %s failed (%s), retrying", [points[i] for i in idx], err)
                yield idx, out
            return
        futures = {ex.submit(_run_chunk, point, design, [points[i] for i in idx]): (idx, 0) for idx in tasks}
        try:
            while futures:
                done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
                for f in done:
                    idx, attempt = futures.pop(f)
                    try:
                        out = f.result()
                    except Exception as err:
                        if attempt == retries:
                            raise note(err, idx)
                        log.warning("point(s) %s failed (%s), retrying", [points[i] for i in idx], err)
                        futures[ex.submit(_run_chunk, point, design, [points[i] for i in idx])] = (idx, attempt + 1)
                        continue
                    yield idx, out
        finally:
            for f in futures:
                f.cancel()
