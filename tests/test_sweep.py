"""The sweep layer on real finite-N points (HMC hysteresis, tiny): every executor gives the same
Dataset, a SIGKILLed sweep resumes to the uninterrupted result, a store refuses another design
and names a damaged file, and the Dataset round-trips through netCDF with its types."""

import concurrent.futures as cf
import dataclasses
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import xarray as xr

from grokphase.results import flag_labels, load_dataset, save_dataset
from grokphase.sweep import Dask, Grid, StoreError, design_of, run_sweep
from grokphase.validation.experiments import attention_hysteresis as H

DESIGN = H.Hysteresis(alphas=(11.0, 13.0, 15.0), n_iter=60)
GRID = Grid.product(N=[8, 16, 32, 64], seed=[0, 1])          # 8 finite-N points


@pytest.fixture(scope="module")
def reference():
    return run_sweep(H.point, GRID, design=DESIGN)


def test_grid_product_zip_and_errors():
    g = Grid.product(N=[8, 16]) * Grid.zip(seed=[0, 1, 2], n_iter=[10, 20, 30], dim="run")
    pts = list(g)
    assert g.dims == ("N", "run") and g.shape == (2, 3) and len(pts) == 6
    assert pts[0] == {"N": 8, "seed": 0, "n_iter": 10} and pts[4] == {"N": 16, "seed": 1, "n_iter": 20}
    assert g.coords["n_iter"][0] == "run" and list(g.coords["N"][1]) == [8, 16]
    assert list(Grid.product()) == [{}]
    assert type(next(iter(Grid.product(x=np.array([1.5]))))["x"]) is float
    with pytest.raises(ValueError, match="'seed'.*empty"):
        Grid.product(seed=[])
    with pytest.raises(ValueError, match="equal lengths"):
        Grid.zip(a=[1, 2], b=[1])
    with pytest.raises(ValueError, match=r"\['N'\] more than once"):
        Grid.product(N=[1]) * Grid.product(N=[2])
    with pytest.raises(ValueError, match="distinct"):
        Grid.product(N=[1, 1])
    with pytest.raises(ValueError, match="finite"):
        Grid.product(x=[float("nan")])


def test_sweep_dataset_is_labelled(reference):
    ds = reference
    assert ds.c.dims == ("N", "seed", "alpha", "start") and ds.c.shape == (4, 2, 3, 2)
    assert list(ds.N.values) == [8, 16, 32, 64] and list(ds.start.values) == ["uniform", "copy"]
    assert ds.attrs["n_iter"] == 60 and ds.attrs["s_uv"] == 9.0 and list(ds.attrs["alphas"]) == [11.0, 13.0, 15.0]
    assert ds.c.attrs["long_name"] == "posterior mean copy weight"
    assert design_of(ds) == DESIGN
    # each grid point is the point function at its values (seeds differ, so do the draws)
    one = H.point(DESIGN, N=32, seed=1)
    xr.testing.assert_identical(ds.sel(N=32, seed=1, drop=True).drop_attrs(), one.drop_attrs())
    assert not np.allclose(ds.c.sel(seed=0), ds.c.sel(seed=1))


@pytest.mark.parametrize("how", ["process-pool", "dask-threads", "dask-processes"])
def test_every_executor_gives_the_serial_dataset(reference, how, tmp_path):
    if how == "process-pool":
        with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
            ds = run_sweep(H.point, GRID, design=DESIGN, executor=ex, chunk=3)
    else:
        pytest.importorskip("distributed")
        ds = run_sweep(H.point, GRID, design=DESIGN, store=tmp_path / "s", chunk=1 if how == "dask-threads" else 2,
                       executor=Dask(n_workers=2, processes=how == "dask-processes"))
        xr.testing.assert_identical(ds, run_sweep(H.point, GRID, design=DESIGN, store=tmp_path / "s"))
    xr.testing.assert_identical(ds, reference)


KILLED_SWEEP = """
import sys
from grokphase.sweep import Grid, run_sweep
from grokphase.validation.experiments import attention_hysteresis as H
run_sweep(H.point, Grid.product(N=[8, 16, 32, 64], seed=[0, 1]), design=H.Hysteresis(alphas=(11.0, 13.0, 15.0),
          n_iter=60), store=sys.argv[1])
"""


def test_sigkill_then_resume_gives_the_uninterrupted_dataset(reference, tmp_path, caplog):
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILLED_SWEEP), str(store)])
    deadline = time.monotonic() + 120
    done = lambda: len(list((store / "points").glob("[!.]*.json"))) if (store / "points").exists() else 0
    while done() < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = done()
    assert proc.returncode == -signal.SIGKILL and 3 <= n_before < len(GRID), "the sweep must die mid-way"
    with caplog.at_level("INFO", logger="grokphase.sweep"):
        ds = run_sweep(H.point, GRID, design=DESIGN, store=store)
    assert f"{n_before} from the store, {len(GRID) - n_before} to compute" in caplog.text
    xr.testing.assert_identical(ds, reference)


def test_store_refuses_another_design_naming_the_field(tmp_path):
    small = Grid.product(N=[8], seed=[0])
    run_sweep(H.point, small, design=DESIGN, store=tmp_path)
    with pytest.raises(StoreError, match=r"n_iter: 60 != 100.*another store folder"):
        run_sweep(H.point, small, design=dataclasses.replace(DESIGN, n_iter=100), store=tmp_path)
    # a larger grid over the same design reuses the finished point
    ds = run_sweep(H.point, Grid.product(N=[8, 16], seed=[0]), design=DESIGN, store=tmp_path)
    assert ds.c.shape[:2] == (2, 1)


def test_damaged_point_file_is_an_error_naming_file_and_remedy(tmp_path):
    small = Grid.product(N=[8], seed=[0, 1])
    run_sweep(H.point, small, design=DESIGN, store=tmp_path)
    victim = sorted((tmp_path / "points").glob("*.nc"))[1]
    victim.write_bytes(victim.read_bytes()[:200])
    with pytest.raises(StoreError, match=rf"{victim.name} is damaged.*delete .*{victim.name} and .*json to recompute"):
        run_sweep(H.point, small, design=DESIGN, store=tmp_path)


def test_netcdf_round_trip_keeps_types(reference, tmp_path):
    ds = reference.assign_attrs(flag=True)
    back = load_dataset(save_dataset(ds, tmp_path / "h.nc"))
    xr.testing.assert_identical(back, ds)
    assert back.N.dtype == np.int64 and back.start.dtype.kind == "U" and back.attrs["flag"] is True
    assert back.branch.dtype == np.int8 and set(flag_labels(back.branch).values.ravel()) <= set(H.BRANCHES)
    assert type(back.attrs["n_iter"]) is int and type(back.attrs["s_qk"]) is float
    assert design_of(back) == DESIGN and "flag" not in reference.attrs


def test_plan_toml_round_trip_and_overrides(tmp_path):
    from grokphase.validation.experiments import presets

    plan = presets.plan("hysteresis", overrides=["n_iter=100", "alphas=[12, 13.5]", "s_uv=4", "N=[16, 32]"])
    assert plan.design == dataclasses.replace(H.Hysteresis(), n_iter=100, alphas=(12.0, 13.5), s_uv=4.0)
    assert dict(plan.axes) == {"N": (16, 32), "seed": (0,)} and plan.grid.shape == (2, 1)
    assert presets.plan("hysteresis", plan.to_toml(tmp_path / "run.toml")) == plan
    # a stored plan with another n_iter is another store folder (never the 2000-iteration cache)
    assert plan.key != presets.PRESETS["hysteresis"].key
    assert presets.plan("hysteresis", overrides=["N=[8]"]).key == presets.PRESETS["hysteresis"].key
    with pytest.raises(ValueError, match=r"'n_steps' is neither a field of Hysteresis nor a grid axis; fields: \['L'"):
        presets.plan("hysteresis", overrides=["n_steps=3"])
    with pytest.raises(ValueError, match="n_iter must be int, got 1.5"):
        presets.plan("hysteresis", overrides=["n_iter=1.5"])
    with pytest.raises(ValueError, match="n_iter >= 20, got 2, 5"):
        presets.plan("hysteresis", overrides=["n_iter=5"])
    (tmp_path / "bad.toml").write_text("[design]\nn_iter = 100\n[grid]\nbeta = [1.0]\n")
    with pytest.raises(ValueError, match=r"bad.toml: \['beta'\] are not grid axes"):
        presets.plan("hysteresis", tmp_path / "bad.toml")


_calls = []


def flaky(design, x):
    """Fails on its first call, then returns x (for the retry test; serial only)."""
    _calls.append(x)
    if len(_calls) == 1:
        raise RuntimeError("transient")
    return {"y": float(x)}


@dataclasses.dataclass(frozen=True)
class Toy:
    pass


def test_retries_and_failure_names_the_point():
    _calls.clear()
    ds = run_sweep(flaky, Grid.product(x=[1, 2]), design=Toy(), retries=1)
    assert list(ds.y.values) == [1.0, 2.0] and _calls == [1, 1, 2]
    _calls.clear()
    with pytest.raises(RuntimeError, match="transient") as e:
        run_sweep(flaky, Grid.product(x=[1, 2]), design=Toy())
    assert "{'x': 1}" in "".join(e.value.__notes__)
    with pytest.raises(TypeError, match="frozen"):
        run_sweep(flaky, Grid.product(x=[1]), design=dataclasses.make_dataclass("D", [])())


@pytest.mark.parametrize("module", ["grokphase.sweep", "grokphase.sweep.grid", "grokphase.sweep.run",
                                    "grokphase.sweep.design", "grokphase.sweep.plan", "grokphase.sweep.store"])
def test_docstring_examples(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module), raise_on_error=True).failed == 0


def test_progress_bar_only_when_asked_and_the_points_samplers_stay_quiet(reference, capsys, monkeypatch):
    """progress=False writes nothing; True shows the sweep's bar (counting points) but not the bars
    of the HMC runs inside its points (progress None there, stderr a terminal); the Dataset is the same."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    grid = Grid.product(N=[8], seed=[0, 1])
    quiet = run_sweep(H.point, grid, design=DESIGN, progress=False)
    assert capsys.readouterr().err == ""
    shown = run_sweep(H.point, grid, design=DESIGN, progress=True)
    err = capsys.readouterr().err
    assert "Hysteresis" in err and "2/2" in err and "HMC" not in err
    assert shown.identical(quiet) and quiet.identical(reference.sel(N=[8]))
