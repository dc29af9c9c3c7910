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
    assert last["laplace"]["eu"] > 1e-4
    assert json.loads((tmp_path / "uncertainty.json").read_text()) == rows
    s = summarise(rows, setup)
    assert set(s["estimators"]) == {"ivon", "laplace", "swag"}
