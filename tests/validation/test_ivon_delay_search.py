"""The IVON delay search: a tiny IVON preset (p = 11) through the search design; its times agree with a
direct reading of the run's metrics, ess_scale reaches the optimizer, reruns read the finished runs."""

import dataclasses
import json
import math

import numpy as np
import pytest

from grokphase.validation.experiments import ivon_delay_search as ids
from grokphase.validation.experiments import modular_grokking as mg
from grokphase.validation.training import read_metrics


@pytest.fixture
def tiny(monkeypatch):
    run = dataclasses.replace(mg.PRESETS["grok97-ivon"], p=11, frac=0.5, steps=150, d_model=16, d_mlp=32, n_heads=2,
                              log_every=10, checkpoint_every=30, snapshots=False)
    monkeypatch.setitem(mg.PRESETS, "tiny-ivon", run)
    return run


def _first(steps, acc, chance, min_gain):
    acc = np.asarray(acc)
    gain = acc[-1] - chance
    return steps[int(np.flatnonzero(acc >= chance + 0.5 * gain)[0])] if gain > min_gain else math.nan


def test_search_times_match_the_metrics(tiny, tmp_path):
    design = ids.IVONDelaySearch(base="tiny-ivon", root=str(tmp_path))
    ds = ids.search(design, {"ess_scale": (1.0, 100.0), "weight_decay": (1e-3,), "seed": (0,)})
    assert ds.sizes == {"ess_scale": 2, "weight_decay": 1, "seed": 1}
    events = 0
    for e in (1.0, 100.0):
        r = ds.sel(ess_scale=e, weight_decay=1e-3, seed=0)
        rows = read_metrics(str(r.run_dir.values))
        steps = [x["step"] for x in rows]
        noise = {n: 3 * math.sqrt((1 / 11) * (10 / 11) / n) for n in (60, 61)}      # 60 train, 61 test pairs
        mem = _first(steps, [x["train_acc"] for x in rows], 1 / 11, noise[60])
        grok = _first(steps, [x["test_acc"] for x in rows], 1 / 11, noise[61])
        assert np.array_equal([float(r.memorisation_time), float(r.grokking_time)], [mem, grok], equal_nan=True)
        events += not math.isnan(mem)
        assert float(r.final_test_acc) == rows[-1]["test_acc"]
        delay = float(r.delay)
        assert math.isnan(delay) or delay == grok - mem
        qualified = (not math.isnan(delay)) and delay / 10 >= 3 and float(r.final_test_acc) >= 0.95
        assert bool(r.qualified) == qualified
        config = json.loads((tmp_path / r.run_dir.values.item().split("/")[-1] / "config.json").read_text())
        assert config["config"]["run"]["ess_scale"] == e if e != 1.0 else "ess_scale" not in config["config"]["run"]
    assert events >= 1                                           # the times were tested on a real event
    files = {d: (d / "metrics.jsonl").read_bytes() for d in tmp_path.iterdir()}
    again = ids.search(design, {"ess_scale": (1.0, 100.0), "weight_decay": (1e-3,), "seed": (0,)})
    assert {d: (d / "metrics.jsonl").read_bytes() for d in tmp_path.iterdir()} == files   # read back, not retrained
    assert np.array_equal(again.memorisation_time.values, ds.memorisation_time.values, equal_nan=True)


def test_ess_scale_reaches_ivon_and_adamw_refuses_it(tiny):
    model, opt, *_ = mg._build(dataclasses.replace(tiny, ess_scale=10.0))
    base = mg._build(tiny)[1]
    assert opt.ess == pytest.approx(10.0 * base.ess)
    assert "ess_scale" in mg.PRESETS["grok97-adamw"].inapplicable()
    with pytest.raises(ValueError, match="ess_scale"):
        dataclasses.replace(tiny, ess_scale=-1.0)


def test_design_refuses_a_non_ivon_base():
    with pytest.raises(ValueError, match="base must be an IVON preset"):
        ids.IVONDelaySearch(base="grok97-adamw")


def test_the_posterior_uses_the_ess_ivon_trained_with(tiny):
    """The study's IVON posterior (sigma from the saved Hessian) takes the ess of training, so a
    search run with ess_scale 10 is evaluated with 10 x the training pairs, Laplace with the pairs."""
    from grokphase.validation.experiments.uncertainty_study import modular_setup

    run = dataclasses.replace(tiny, ess_scale=10.0)
    setup, opt = modular_setup(run), mg._build(run)[1]
    assert setup.ivon_ess == pytest.approx(opt.ess) and setup.ess == pytest.approx(opt.ess / 10.0)
