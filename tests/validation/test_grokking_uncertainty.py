"""Event times, the label-free monitor, and the post-hoc posterior study on known cases."""

import json

import numpy as np
import pytest

from grokphase.validation.bayes.grokking_times import EUMonitor, detect, eu_peak, threshold_time


def test_threshold_time_on_a_logistic_jump():
    steps = np.arange(0, 10001, 50)
    acc = 0.1 + 0.8 / (1 + np.exp(-(steps - 4000) / 200))
    assert abs(threshold_time(steps, acc, chance=0.1) - 4000) <= 50
    t90 = threshold_time(steps, acc, chance=0.1, fraction=0.9)
    assert abs(t90 - (4000 + 200 * np.log(9))) <= 50
    assert threshold_time(steps, np.full(steps.shape, 0.05), chance=0.1) is None
    with pytest.raises(ValueError, match="fraction"):
        threshold_time(steps, acc, 0.1, fraction=0)


def test_monitor_fires_after_rise_and_fall_only():
    steps = np.arange(100)
    eu = np.concatenate([np.linspace(0.1, 1.0, 40), np.geomspace(1.0, 0.01, 60)])
    peak_step, collapse = eu_peak(steps, eu)
    assert peak_step == 39 and collapse == pytest.approx(100.0)
    det = detect(steps, eu)
    assert det == steps[np.flatnonzero((eu <= 0.5) & (steps > 39))[0]]
    assert detect(steps, np.geomspace(1.0, 0.01, 100)) is None   # no rise: falling from the start never fires
    blip = eu.copy()
    blip[10] = 0.01                                              # one low evaluation during the rise
    assert detect(steps, blip) == det
    assert detect(steps, blip, patience=1) == 10
    mon = EUMonitor()
    fired = [mon.update(s, e) for s, e in zip(steps, eu)]
    assert sum(fired) == 1 and mon.detected_step == det
    with pytest.raises(ValueError, match="drop"):
        EUMonitor(drop=1.0)


def test_study_known_cases(tmp_path):
    """Identical snapshots: SWAG has zero covariance, so EU = 0 exactly; IVON with h -> infinity
    (sigma -> 0) gives EU ~ 0; last-layer Laplace with a weak prior gives EU > 0."""
    from grokphase.validation.experiments.modular_grokking import ModularRun
    from grokphase.validation.experiments.uncertainty_study import evaluate_snapshots, modular_setup, summarise
    from grokphase.validation.nn import Transformer

    run = ModularRun(p=11, frac=0.5, d_model=16, n_heads=2, d_mlp=32, weight_decay=1e-3)
    setup = modular_setup(run)
    params = Transformer(setup.config).params
    (tmp_path / "snapshots").mkdir()
    for step in (0, 10, 20):
        np.savez(tmp_path / "snapshots" / f"step_{step:08d}.npz", step=np.asarray(step),
                 **{"param/" + k: v for k, v in params.items()},
                 **{"opt/h/" + k: np.full_like(v, 1e12) for k, v in params.items()})
    rows = evaluate_snapshots(setup, tmp_path, samples=4)
    assert [r["step"] for r in rows] == [0, 10, 20]
    last = rows[-1]["test"]
    assert last["swag"]["eu"] == 0.0
    assert last["ivon"]["eu"] < 1e-8
    assert last["laplace"]["eu"] > 1e-4 and last["laplace_wd"]["eu"] > 1e-4
    assert json.loads((tmp_path / "uncertainty.json").read_text())["rows"] == rows
    s = summarise(rows, setup)
    assert set(s["estimators"]) == {"ivon", "laplace", "laplace_wd", "swag"}


def test_study_driver_and_figure(tmp_path):
    """evaluate_study finds the run folders by name, stores its points (a sweep store), summarises, and the
    figure draws from its trimmed numbers (PNG, PDF, JSON)."""
    from grokphase.paper_figs._uncertainty import draw, theory_curve, trim
    from grokphase.validation.experiments.uncertainty_runs import evaluate_study, study_run
    from grokphase.validation.experiments.uncertainty_study import modular_setup
    from grokphase.validation.nn import Transformer

    run, run_dir = study_run("modular", "ivon", 1, tmp_path)
    from grokphase.validation.experiments.modular_grokking import config_id

    assert run_dir == tmp_path / f"mod_ivon_s1_{config_id(run)}" and run.optimizer == "ivon" and run.seed == 1
    assert len(config_id(run)) == 10 and study_run("modular", "ivon", 2, tmp_path)[1] != run_dir
    params = Transformer(modular_setup(run).config).params
    (run_dir / "snapshots").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for step in (0, 50, 100):
        np.savez(run_dir / "snapshots" / f"step_{step:08d}.npz", step=np.asarray(step),
                 **{"param/" + k: v + 0.01 * rng.standard_normal(v.shape).astype(v.dtype) for k, v in params.items()},
                 **{"opt/h/" + k: np.ones_like(v) for k, v in params.items()})
    res = evaluate_study("modular", (0, 1), tmp_path, samples=3)
    assert [(r["optimizer"], r["seed"]) for r in res["runs"]] == [("ivon", 1)]
    (store,) = (tmp_path / "sweeps").iterdir()                               # the sweep's point store
    assert store.name.startswith("evaluate_modular-") and len(list((store / "points").glob("*.nc"))) == 2
    mtimes = {p: p.stat().st_mtime_ns for p in store.rglob("*")}
    assert evaluate_study("modular", (1,), tmp_path, samples=3)["runs"][0]["trajectory"] == res["runs"][0]["trajectory"]
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*")} == mtimes     # read back, nothing rewritten
    evaluate_study("modular", (1,), tmp_path, samples=2)                      # other settings: another store
    assert len(list((tmp_path / "sweeps").iterdir())) == 2
    summ = res["runs"][0]["summary"]
    assert set(summ["estimators"]) == {"ivon", "laplace", "laplace_wd", "swag"}
    th = theory_curve()
    i = np.searchsorted(th["x"], 1.0)
    assert th["acc"][i - 1] < 0.5 <= th["acc"][i] and max(th["eu"]) == 1.0     # normalised at the half gain
    written = draw(trim(res) | {"theory": th}, tmp_path / "fig.png", target="test", logx=False, title="t")
    assert all(p.stat().st_size > 1000 for p in written)
    with pytest.raises(ValueError, match="task"):
        study_run("cifar", "ivon", 0)


def test_icl_sweeps_and_their_figures(tmp_path):
    """The sweep sets hold k + 1 examples with the clean query label at the last position; the sweep
    and diversity figures draw from the driver's output (fabricated snapshots at initialisation)."""
    from grokphase.paper_figs import fig_icl_context_noise, fig_icl_diversity
    from grokphase.validation.experiments.uncertainty_runs import context_noise_sweeps, study_run
    from grokphase.validation.experiments.uncertainty_study import icl_setup, icl_sweep_sets
    from grokphase.validation.nn import Transformer

    run, run_dir = study_run("icl", "adamw", 0, tmp_path)
    sets = icl_sweep_sets(run, ks=(0, 3), noises=(0.0, 1.0))
    assert set(sets) == {f"{s}/{n}" for s in ("id_train", "ood_val") for n in ("k0", "k3", "noise0", "noise1")}
    n_rows = {"id_train": 64 * 40, "ood_val": 64 * 9}            # 64 sequences x all tasks (p = 7, T = 40)
    for name, s in sets.items():
        m = 1 if name.endswith("k0") else 4 if name.endswith("k3") else run.n_ctx
        assert s.tokens.shape == (n_rows[name.split("/")[0]], 3 * m) and np.all(s.pos == 3 * m - 2)
        assert np.array_equal(s.tokens[:, -1], s.labels)                  # the query's z stays clean
    setup = icl_setup(run)
    params = Transformer(setup.config).params
    (run_dir / "snapshots").mkdir(parents=True)
    for step in (0, 250):
        np.savez(run_dir / "snapshots" / f"step_{step:08d}.npz", step=np.asarray(step),
                 **{"param/" + k: v + np.float32(0.01 * step / 250) for k, v in params.items()})
    res = context_noise_sweeps((0,), tmp_path, samples=2, ks=(0, 3), noises=(0.0, 0.5, 1.0))
    assert len(res["runs"]) == 1 and res["runs"][0]["step"] == 250
    assert set(res["runs"][0]["sets"]) == {f"{s}/{n}" for s in ("id_train", "ood_val")
                                           for n in ("k0", "k3", "noise0", "noise0.5", "noise1")}
    data = {"ks": [0, 3], "noises": [0.0, 0.5, 1.0], **res}
    assert all(p.stat().st_size > 1000 for p in fig_icl_context_noise.draw(data, tmp_path / "a.png"))
    cell = {"T": 40, "alpha": 0.8, "seed": 0, "step": 250, "sets": {s: res["runs"][0]["sets"][f"{s}/noise0"]
                                                                     for s in ("id_train", "ood_val")}}
    cell["sets"] |= {"id_val": cell["sets"]["id_train"], "ood_train": cell["sets"]["ood_val"]}
    assert all(p.stat().st_size > 1000 for p in fig_icl_diversity.draw({"cells": [cell]}, tmp_path / "b.png"))


def test_context_sweep_store_key_of_the_study_is_unchanged():
    """The fields added for the positive-control runs (base, steps, splits: OMIT_DEFAULT) leave the
    study design's store identity as it was before them (key recorded then)."""
    from grokphase.sweep.store import identity_key, sweep_identity
    from grokphase.validation.experiments.uncertainty_runs import ContextSweeps, context_point

    assert identity_key(sweep_identity(context_point, ContextSweeps()), 8) == "5e4aa505"
    assert identity_key(sweep_identity(context_point, ContextSweeps(base="positive-control")), 8) != "5e4aa505"


def test_context_sweeps_read_the_positive_control_runs(tmp_path):
    """base='positive-control': the AdamW diversity run at T = 40, alpha 0.6 with the given steps is
    swept, on the splits asked for; the study runs are not looked at; bad options are refused."""
    from grokphase.validation.experiments.uncertainty_runs import (ContextSweeps, context_noise_sweeps,
                                                                   diversity_run)
    from grokphase.validation.experiments.uncertainty_study import icl_setup
    from grokphase.validation.nn import Transformer

    run, run_dir = diversity_run(10, 0.6, 0, tmp_path, steps=500, base="positive-control")
    params = Transformer(icl_setup(run).config).params
    (run_dir / "snapshots").mkdir(parents=True)
    for step in (0, 500):
        np.savez(run_dir / "snapshots" / f"step_{step:08d}.npz", step=np.asarray(step),
                 **{"param/" + k: v + np.float32(0.01 * step / 500) for k, v in params.items()})
    assert context_noise_sweeps((0,), tmp_path, samples=2, ks=(1,), noises=(0.0,))["runs"] == []   # no study runs
    res = context_noise_sweeps((0,), tmp_path, samples=2, ks=(0, 2), noises=(0.0, 1.0), base="positive-control",
                               steps=500, splits=("ood_train",))
    (r,) = res["runs"]
    assert (r["optimizer"], r["seed"], r["step"]) == ("adamw", 0, 500)
    assert set(r["sets"]) == {"ood_train/k0", "ood_train/k2", "ood_train/noise0", "ood_train/noise1"}
    assert 0.0 <= r["sets"]["ood_train/k2"]["acc"] <= 1.0 and r["sets"]["ood_train/k2"]["laplace"]["eu"] >= 0.0
    assert context_noise_sweeps((0,), tmp_path, samples=2, base="positive-control", steps=400)["runs"] == []
    from grokphase.paper_figs import fig_icl_context_noise as fcn

    data = {"base": "positive-control", "splits": ["ood_train"], "ks": [0, 2], "noises": [0.0, 1.0], **res}
    v = fcn.verdict(data)
    assert set(v["claim3"]["ood_train"]) == {"acc_rises", "laplace", "swag"} and set(v["claim4"]) == {"ood_train"}
    assert set(v["claim3"]["ood_train"]["acc_rises"]) == {"adamw"}
    sets = r["sets"]
    assert v["claim4"]["ood_train"]["laplace"]["au_rises"] == (sets["ood_train/noise1"]["laplace"]["au"]
                                                               > sets["ood_train/noise0"]["laplace"]["au"])
    assert all(p.stat().st_size > 1000 for p in fcn.draw(data, tmp_path / "cn.png"))
    with pytest.raises(ValueError, match="base"):
        ContextSweeps(base="pc")
    with pytest.raises(ValueError, match="steps applies only"):
        ContextSweeps(steps=100)
    with pytest.raises(ValueError, match="distinct"):
        ContextSweeps(splits=("ood_val", "ood_val"))
    assert ContextSweeps(base="positive-control").steps == 45000
    with pytest.raises(ValueError, match="splits"):
        ContextSweeps(splits=("ood",))
