"""The finite-N figures draw what the presets' sweeps computed (tiny variants here) and, without
stores, redraw the committed numbers; the plotted numbers are written as strict JSON."""

import json
from pathlib import Path

import numpy as np
import pytest

from grokphase.paper_figs import (fig_attention_dynamics, fig_attention_finite_n, fig_attention_onehot_finite_n,
                                  fig_transformer_copy_langevin)
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


def test_onehot_finite_n_figure_from_sweeps(tmp_path):
    tiny = ["n_iter=40", "chains_per=2", "N=[12, 16]"]
    h = presets.plan("onehot-hysteresis", overrides=[*tiny, "beta=[15.0, 21.0]"]).run(progress=False)
    r = presets.plan("onehot-hysteresis-random", overrides=[*tiny, "beta=[15.0, 21.0]"]).run(progress=False)
    lin = presets.plan("onehot-linear", overrides=[*tiny, "beta=[0.5, 1.0]"]).run(progress=False)
    e = presets.plan("onehot-equilibrium", overrides=["n_iter=60", "n_boot=3", "N=[12, 16]", "seed=[0, 1]"]).run(
        progress=False)
    d = fig_attention_onehot_finite_n.numbers(h, r, lin, e)
    assert [x["N"] for x in d["hysteresis"]] == [12, 16] and d["hysteresis"][0]["n_points"] == 4
    row = d["hysteresis_random"][1]["rows"][3]
    assert (row["start"], row["beta"]) == ("copy", 21.0)
    assert row["c"] == pytest.approx(float(r.c.sel(N=16, start="copy", beta=21.0).isel(seed=0)))
    assert d["equilibrium"]["alpha_c_seed_mean"] == pytest.approx(e.alpha_c.mean("seed").values)
    assert [x["beta"] for x in d["linear"]["rows"]] == [0.5, 1.0] and len(d["linear"]["rows"][0]["w_c"]) == 2
    # the large-N branches: two stable states only between the spinodals
    g, cu, cc = (np.array(d[k], float) if k == "theory_grid" else np.array(d["theory_c"][k], float)
                 for k in ("theory_grid", "uniform", "copy"))
    both = np.isfinite(cu) & np.isfinite(cc)
    lo, hi = d["beta_sp"]
    assert g[both].min() >= lo - 0.05 and g[both].max() <= hi + 0.05 and np.all(cc[both] > cu[both])
    paths = fig_attention_onehot_finite_n.draw(d, tmp_path / "o.png")
    assert _strict(paths[2])["beta_c"] == pytest.approx(17.3121, abs=1e-4)


@pytest.mark.parametrize("fig", [fig_attention_finite_n, fig_attention_dynamics, fig_transformer_copy_langevin,
                                 fig_attention_onehot_finite_n])
def test_without_stores_the_committed_numbers_redraw(fig, tmp_path, monkeypatch):
    name = fig.__name__.rsplit(".", 1)[1]
    monkeypatch.chdir(ROOT)  # stored_numbers reads figures/<name>.json
    paths = fig.main(["--out", str(tmp_path / f"{name}.png"), "--runs", str(tmp_path / "no-runs")])
    assert [p.suffix for p in paths] == [".png", ".pdf", ".json"] and not (tmp_path / "no-runs").exists()
    _strict(paths[2])
