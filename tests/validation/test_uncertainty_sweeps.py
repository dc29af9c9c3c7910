"""The uncertainty study's evaluations through grokphase.sweep: the same numbers as the direct
loops, labelled Datasets, a store keyed by the full configuration; progress bars on request only."""

import numpy as np
import pytest

from grokphase.validation.experiments import uncertainty_runs as ur
from grokphase.validation.experiments.uncertainty_study import (evaluate_final, evaluate_snapshots, icl_setup,
                                                                icl_sweep_sets, modular_setup)
from grokphase.validation.nn import Transformer


def _snapshots(run_dir, params, steps, *, ivon=False, seed=0):
    (run_dir / "snapshots").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, *steps])
    for step in steps:
        np.savez(run_dir / "snapshots" / f"step_{step:08d}.npz", step=np.asarray(step),
                 **{"param/" + k: v + 0.02 * rng.standard_normal(v.shape).astype(v.dtype) for k, v in params.items()},
                 **({"opt/h/" + k: np.ones_like(v) for k, v in params.items()} if ivon else {}))


@pytest.fixture
def modular_runs(tmp_path):
    """Two fabricated mod-97 study runs (AdamW seed 0 with 4 snapshots, IVON seed 1 with 3)."""
    out = {}
    for opt, seed, steps in (("adamw", 0, (0, 50, 100, 150)), ("ivon", 1, (0, 50, 100))):
        run, run_dir = ur.study_run("modular", opt, seed, tmp_path)
        _snapshots(run_dir, Transformer(modular_setup(run).config).params, steps, ivon=opt == "ivon", seed=seed)
        out[opt, seed] = run, run_dir
    return out


def test_evaluate_study_equals_the_direct_loop_and_is_labelled(tmp_path, modular_runs):
    res = ur.evaluate_study("modular", (0, 1), tmp_path, samples=2, every=2)
    assert [(r["optimizer"], r["seed"]) for r in res["runs"]] == [("adamw", 0), ("ivon", 1)]
    for r in res["runs"]:
        run, run_dir = modular_runs[r["optimizer"], r["seed"]]
        direct = evaluate_snapshots(modular_setup(run), run_dir, samples=2, every=2, seed=r["seed"])
        assert r["trajectory"] == direct                       # the one-loop evaluation, number for number
    assert [t["step"] for t in res["runs"][0]["trajectory"]] == [0, 100, 150]
    assert "ivon" in res["runs"][1]["trajectory"][-1]["test"] and "ivon" not in res["runs"][0]["trajectory"][-1]["test"]
    ds = ur.study_dataset("modular", (0, 1), tmp_path, samples=2, every=2)
    assert ds.eu.dims == ("snapshot", "set", "estimator") and ds.sizes["snapshot"] == 5
    assert ds.step.values.tolist() == [0, 100, 150, 0, 100] and ds.optimizer.values.tolist()[-1] == "ivon"
    assert ds.eu.attrs["units"] == "nat" and "epistemic" in ds.eu.attrs["long_name"]
    assert ds.acc.attrs["units"] == "1" and ds.step.attrs["long_name"].startswith("optimiser step")
    assert ds.attrs["samples"] == 2 and ds.attrs["task"] == "modular"
    assert np.isnan(ds.eu.sel(estimator="ivon").isel(snapshot=0)).all()        # AdamW run: no IVON state


def test_the_store_reuses_only_identical_configurations(tmp_path, modular_runs, monkeypatch):
    calls = []
    row = ur.snapshot_row

    def counting(setup, window, **kw):
        calls.append((window[-1][0], kw["samples"]))
        return row(setup, window, **kw)

    monkeypatch.setattr(ur, "snapshot_row", counting)
    first = ur.evaluate_study("modular", (0,), tmp_path, samples=2, every=2)
    assert sorted(calls) == [(0, 2), (100, 2), (150, 2)]
    calls.clear()
    assert ur.evaluate_study("modular", (0,), tmp_path, samples=2, every=2) == first and calls == []
    assert ur.evaluate_study("modular", (0,), tmp_path, samples=2, every=3)["runs"][0]["trajectory"] == [
        first["runs"][0]["trajectory"][i] for i in (0, 2)]                   # steps 0, 150: both stored
    assert calls == []
    run, run_dir = modular_runs["adamw", 0]
    _snapshots(run_dir, Transformer(modular_setup(run).config).params, (200,))  # the run trained further
    again = ur.evaluate_study("modular", (0,), tmp_path, samples=2, every=2)
    assert calls == [(200, 2)]                                               # only the new snapshot
    assert again["runs"][0]["trajectory"][:2] == first["runs"][0]["trajectory"][:2]
    calls.clear()
    ur.evaluate_study("modular", (0,), tmp_path, samples=3, every=2)      # another setting: a new store
    assert sorted(calls) == [(0, 3), (100, 3), (200, 3)]
    stores = sorted(p.name for p in (tmp_path / "sweeps").iterdir())
    assert len(stores) == 2 and all(s.startswith("evaluate_modular-") for s in stores)
    calls.clear()
    ur.evaluate_study("modular", (0,), tmp_path, samples=2, every=2, store=False)
    assert len(calls) == 3                                                   # no store: computed afresh
    with pytest.raises(ValueError, match="samples"):
        ur.evaluate_study("modular", (0,), tmp_path, samples=1)
    with pytest.raises(ValueError, match="every"):
        ur.evaluate_study("modular", (0,), tmp_path, every=0)


def test_context_noise_sweeps_equal_the_direct_evaluation(tmp_path):
    run, run_dir = ur.study_run("icl", "adamw", 0, tmp_path)
    _snapshots(run_dir, Transformer(icl_setup(run).config).params, (0, 250))
    ks, noises = (0, 7), (0.0, 0.5)
    res = ur.context_noise_sweeps((0, 1), tmp_path, samples=2, ks=ks, noises=noises)
    sets = icl_sweep_sets(run, ks=ks, noises=noises)
    direct = evaluate_final(icl_setup(run), run_dir, sets, samples=2, seed=0)    # the former loop's body
    assert len(res["runs"]) == 1
    r = res["runs"][0]
    assert (r["optimizer"], r["seed"], r["step"]) == ("adamw", 0, direct.pop("step"))
    assert r["sets"] == direct
    ds = ur.context_noise_dataset((0,), tmp_path, samples=2, ks=ks, noises=noises)
    assert ds.eu_k.dims == ("run", "split", "k", "estimator") and ds.k.values.tolist() == list(ks)
    assert ds.acc_noise.dims == ("run", "split", "p_noise") and ds.p_noise.values.tolist() == list(noises)
    assert ds.eu_noise.attrs["units"] == "nat" and ds.p_noise.attrs["units"] == "1"
    assert ds.sel(split="ood_val").acc_k.isel(run=0, k=-1).item() == direct["ood_val/k7"]["acc"]
    with pytest.raises(ValueError, match="n_seqs"):
        ur.context_noise_dataset((0,), tmp_path, n_seqs=16)
    (store,) = (tmp_path / "sweeps").iterdir()
    assert store.name.startswith("context_sweeps-") and len(list((store / "points").glob("*.nc"))) == 1
