"""The finite-N figures draw what the presets' sweeps computed (tiny variants here) and, without
stores, redraw the committed numbers; the plotted numbers are written as strict JSON."""

import json
from pathlib import Path

import numpy as np
import pytest

from grokphase.paper_figs import fig_attention_dynamics, fig_attention_finite_n, fig_transformer_copy_langevin
from grokphase.validation.experiments import presets

ROOT = Path(__file__).resolve().parents[1]


def _strict(path):
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path}: bare {c}"))


def test_finite_n_figure_from_sweeps(tmp_path):
    h = presets.plan("hysteresis", overrides=["n_iter=60", "N=[16, 32]", "alphas=[11.0, 13.0, 15.0]"]).run()
    e = presets.plan("equilibrium", overrides=["n_iter=100", "n_boot=3", "N=[16, 32]"]).run()
    lin = presets.plan("linear", overrides=["n_iter=60", "n_chains=2", "ratios=[0.5, 2.0]", "N=[16, 32]",
                                            'sampler=["hmc", "reduced"]']).run()
    d = fig_attention_finite_n.numbers(h, e, lin)
    assert [r["N"] for r in d["hysteresis"]] == [16, 32] and len(d["hysteresis"][0]["rows"]) == 6
    assert d["hysteresis"][0]["rows"][0]["start"] == "uniform" and d["hysteresis"][0]["rows"][3]["start"] == "copy"
    assert [r["alpha_c"] for r in d["equilibrium"]["rows"]] == pytest.approx(e.alpha_c.isel(seed=0).values)
    assert np.all(np.isfinite(d["equilibrium"]["rows"][0]["profile"]))
    assert [(r["N"], r["sampler"]) for r in d["linear"]] == [(16, "hmc"), (32, "reduced")]
    paths = fig_attention_finite_n.draw(d, tmp_path / "f.png")
    assert [p.suffix for p in paths] == [".png", ".pdf", ".json"] and _strict(paths[2])["beta_c"] == d["beta_c"]


def test_dynamics_and_copy_figures_from_sweeps(tmp_path):
    s = presets.plan("dynamics-softmax", overrides=["T=1.0", "N=[16]", "n_rep=2", "beta=[13.5, 16.0]"]).run()
    lin = presets.plan("dynamics-linear", overrides=["T=1.0", "N=[16]", "n_rep=1", "beta=[2.0]"]).run()
    m = presets.plan("map", overrides=["steps=100", "N=[16]", "beta=[20.0, 40.0]"]).run()
    d = fig_attention_dynamics.numbers(s, lin, m)
    assert d["softmax"]["betas"] == [13.5, 13.5, 16.0, 16.0] and np.array(d["softmax"]["c"]).shape == (4, 11)
    assert d["linear"]["betas"] == pytest.approx([2.0 * d["beta_c_linear"]]) and "w" in d["linear"]
    assert d["map"]["betas"] == [20.0, 40.0] and d["map"]["beta_local"] == pytest.approx(8 / 0.25 + 1 / 9)
    _strict(fig_attention_dynamics.draw(d, tmp_path / "d.png")[2])
    c = presets.plan("transformer-copy-langevin", overrides=["steps=20", "P=[2, 4]", "seed=[0, 1, 2]"]).run()
    d = fig_transformer_copy_langevin.numbers(c)
    assert d["P"] == [2, 4] and np.array(d["linear"]["test_acc"]).shape == (3, 2)
    _strict(fig_transformer_copy_langevin.draw(d, tmp_path / "c.png")[2])


@pytest.mark.parametrize("fig", [fig_attention_finite_n, fig_attention_dynamics, fig_transformer_copy_langevin])
def test_without_stores_the_committed_numbers_redraw(fig, tmp_path, monkeypatch):
    name = fig.__name__.rsplit(".", 1)[1]
    monkeypatch.chdir(ROOT)  # stored_numbers reads figures/<name>.json
    paths = fig.main(["--out", str(tmp_path / f"{name}.png"), "--runs", str(tmp_path / "no-runs")])
    assert [p.suffix for p in paths] == [".png", ".pdf", ".json"] and not (tmp_path / "no-runs").exists()
    _strict(paths[2])
