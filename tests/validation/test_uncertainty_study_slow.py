"""The uncertainty study end to end on a small grokking run (p = 31, ~2 min each): training with
snapshots, posteriors after the fact, event times.  Slow; ``pytest -m slow``.

Expectations (measured once with these seeds, 2026-11-30; the full study's numbers are in
figures/fig_uncertainty_modular.json): the AdamW run groks (half-gain time ~425 of 1,500 steps); the
moving-window SWAG EU on the test pairs collapses by orders of magnitude after grokking (5.5e5);
IVON's own EU falls from its peak (factor 2.3) and its half-gain time precedes its 90 % time.
"""

import dataclasses

import pytest

from grokphase.validation.bayes.ivon import IVONSettings
from grokphase.validation.experiments.modular_grokking import PRESETS, run_modular
from grokphase.validation.experiments.uncertainty_study import evaluate_snapshots, modular_setup, summarise

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("optimizer", ["adamw", "ivon"])
def test_small_grokking_run_uncertainty(tmp_path, optimizer):
    run = dataclasses.replace(PRESETS["smoke31"], snapshots=True, steps=1500)
    if optimizer == "ivon":
        run = dataclasses.replace(run, optimizer="ivon", weight_decay=1e-3,
                                  ivon=IVONSettings(lr=1.0, hess_init=1.0, beta2=0.9999, clip_radius=1e-2))
    run_modular(run, tmp_path, resume=False, progress=False)
    setup = modular_setup(run)
    s = summarise(evaluate_snapshots(setup, tmp_path, samples=16, every=2), setup)
    assert s["grokking_time"] is not None and s["grokking_time"] < s["grokking_time_90"] < 1500
    assert s["final_acc"] > 0.9
    est = s["estimators"]
    if optimizer == "adamw":
        assert est["swag"]["eu_collapse_factor"] > 100
        assert est["swag"]["eu_peak_step"] < s["grokking_time_90"]
    else:
        assert est["ivon"]["eu_collapse_factor"] > 1.5
        assert est["ivon"]["eu_peak_step"] < s["grokking_time_90"]
