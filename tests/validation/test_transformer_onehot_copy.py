"""The transformer copy experiment on one-hot data (validation/experiments/transformer_copy_langevin.py,
docs/attention_onehot.md §1, §6): the Gaussian-likelihood energy, the planted copy start, the
order parameters on constructed models, Adam, the presets and the invalid inputs."""

import math

import numpy as np
import pytest

from grokphase.validation.experiments import presets
from grokphase.validation.experiments import transformer_copy_langevin as E
from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.tasks import copy_batch

SMALL = dict(V=4, L=8, d_model=16, loss="mse", train_mlp=False, steps=20, record_every=10)


def _data(P=5, seed=0, L=8, V=4):
    return copy_batch(np.random.default_rng(seed), P, L, V)


def test_mse_energy_is_the_gaussian_likelihood_sum():
    """U = sum_{mu, l >= 1} |f_l - onehot(y_l)|^2 / (2 sigma^2) + |theta_trained|^2 / (2 s^2), with the
    MLP (held at zero) outside the prior; summed directly over sequences and positions."""
    d = E.CopyLangevin(**SMALL, sigma2=0.7, prior_std=0.4)
    model = E.build(d, "softmax", "uniform", seed=3)
    for k in model.params:
        model.params[k] += 0.3 * np.random.default_rng(1).standard_normal(model.params[k].shape) * (".mlp." not in k)
    tok, tg, mask = _data()
    U, grads = E.energy(d, model, tok, tg, mask)
    f = model.logits(tok)
    direct = sum(np.sum((f[mu, l] - np.eye(4)[tg[mu, l]]) ** 2) for mu in range(5) for l in range(1, 8)) / (2 * 0.7)
    prior = sum(np.sum(v ** 2) for k, v in model.params.items() if ".mlp." not in k) / (2 * 0.16)
    assert U == pytest.approx(direct + prior, rel=1e-12)
    assert set(grads) == {k for k in model.params if ".mlp." not in k}
    assert E.data_weight(d, 5) == pytest.approx(5 * 7 * 4 / (2 * 0.7))
    assert E.beta(d, 5) == pytest.approx(5 / (16 * 0.7))


@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_mse_gradient_matches_finite_differences(kind):
    """The transformer's 'mse' loss gradient (through the energy) against central differences."""
    d = E.CopyLangevin(**SMALL, sigma2=2.0)
    model = E.build(d, kind, "copy", seed=0)
    tok, tg, mask = _data(3)
    _, grads = E.energy(d, model, tok, tg, mask)
    rng = np.random.default_rng(2)
    for k in ("pos_embed", "blocks.0.attn.W_Q", "blocks.0.attn.W_V", "embed", "unembed"):
        p = model.params[k]
        for idx in (tuple(rng.integers(0, s) for s in p.shape) for _ in range(3)):
            h, old = 1e-6, p[idx]
            p[idx] = old + h
            up = E.energy(d, model, tok, tg, mask)[0]
            p[idx] = old - h
            dn = E.energy(d, model, tok, tg, mask)[0]
            p[idx] = old
            assert grads[k][idx] == pytest.approx((up - dn) / (2 * h), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_copy_start_copies(kind):
    """The planted copier (tiny init noise): scores copy_logit (softmax) / 1 (linear) on the previous
    position only, so c = mean_l e^6 / (e^6 + l) (softmax) or 1; value map I, direct path 0; every
    held-out token copied."""
    d = E.CopyLangevin(**SMALL, init_std=1e-6)
    model = E.build(d, kind, "copy", seed=0)
    o = E.order_parameters(model)
    c_exact = np.mean([math.exp(6) / (math.exp(6) + l) for l in range(1, 8)]) if kind == "softmax" else 1.0
    assert o["c"] == pytest.approx(c_exact, abs=1e-5) and o["c"] > 0.95
    assert o["g"] == pytest.approx(1.0, abs=1e-5) and o["m"] == pytest.approx(1.0, abs=1e-5)
    assert abs(o["m_direct"]) < 1e-5
    tok, tg, mask = _data(50)
    assert np.all(model.logits(tok).argmax(-1)[mask] == tg[mask])
    u = E.order_parameters(E.build(d, kind, "uniform", seed=0))
    assert abs(u["w_c"]) < 1e-6 and (u["c"] == pytest.approx(np.mean([1 / (l + 1) for l in range(1, 8)]))
                                     if kind == "softmax" else abs(u["c"]) < 1e-6)


def _constructed(kind, kappa, b, g, m, V=4, L=8, D=16):
    """A model with scores Z = kappa (subdiagonal) + b (every entry) and value map
    W = g (I - J/V) + m J/V, through embed = [I_V 0], W_V = W_O = I, unembed = [W; 0],
    pos_embed = [I_L 0], W_Q = I, W_K with top block sqrt(D) Z^T."""
    cfg = TransformerConfig(vocab_size=V, d_model=D, n_layers=1, n_heads=1, d_mlp=D, max_len=L, attention=kind,
                            position_only=True, dtype="float64", loss="mse")
    model = Transformer(cfg)
    p = model.params
    Z = kappa * np.eye(L, k=-1) + b * np.ones((L, L))
    W = g * (np.eye(V) - 1.0 / V) + m / V
    for k in p:
        p[k][...] = 0.0
    p["embed"][:, :V] = np.eye(V)
    p["blocks.0.attn.W_V"][...] = np.eye(D)
    p["blocks.0.attn.W_O"][...] = np.eye(D)
    p["unembed"][:V] = W
    p["pos_embed"][:, :L] = np.eye(L)
    p["blocks.0.attn.W_Q"][...] = np.eye(D)
    p["blocks.0.attn.W_K"][:L, :L] = math.sqrt(D) * Z.T
    return model


def test_order_parameters_on_a_constructed_linear_model():
    """Linear attention A = causal part of Z: A_{l,l-1} = kappa + b, off-copy entries b, row sums
    kappa + (l + 1) b (mean over l = 1..7: kappa + 5 b); W's gains g, m; w_c = g kappa, w_m = a m;
    here the direct path E W_U = W too, so m_direct = m.  The sign symmetry (W_Q, W_V) -> -(W_Q, W_V)
    leaves c, w_c, w_m unchanged."""
    kappa, b, g, m = 0.7, 0.05, 1.3, 0.4
    model = _constructed("linear", kappa, b, g, m)
    o = E.order_parameters(model)
    a = kappa + 5 * b
    expect = {"c": kappa + b, "kappa": kappa, "a": a, "g": g, "m": m, "w_c": g * kappa, "w_m": a * m, "m_direct": m}
    assert o == pytest.approx(expect, abs=1e-12)
    model.params["blocks.0.attn.W_Q"] *= -1
    model.params["blocks.0.attn.W_V"] *= -1
    f = E.order_parameters(model)
    assert (f["c"], f["w_c"], f["w_m"]) == pytest.approx((o["c"], o["w_c"], o["w_m"]), abs=1e-12)
    assert (f["kappa"], f["g"], f["a"], f["m"]) == pytest.approx((-kappa, -g, -a, -m), abs=1e-12)


def test_order_parameters_on_a_constructed_softmax_model():
    """Softmax rows sum to 1 (a = 1, w_m = m); a constant b drops out: A_{l,l-1} = e^kappa / (e^kappa + l)."""
    kappa, g, m = 1.5, 0.8, 1.1
    o = E.order_parameters(_constructed("softmax", kappa, 0.3, g, m))
    cl = np.array([math.exp(kappa) / (math.exp(kappa) + l) for l in range(1, 8)])
    kap = np.mean(cl - (1 - cl) / np.arange(1, 8))
    assert o["a"] == pytest.approx(1.0) and o["c"] == pytest.approx(cl.mean())
    assert o["w_c"] == pytest.approx(g * kap) and o["w_m"] == pytest.approx(m)


def test_adam_map_from_the_copy_start_stays_a_copier():
    """60 Adam steps on U from the planted copier (P = 32): the prior shrinks the planted scores,
    but the copy stays far above uniform causal attention (0.245) and every held-out token is copied."""
    d = E.CopyLangevin(**(SMALL | {"steps": 60, "record_every": 20}), optimizer="adam", lr=3e-3, sigma2=0.25,
                       prior_std=0.3)
    r = E.point(d, "softmax", 32, 0, "copy")
    assert r["c_final"] > 0.5 and r["test_acc"] == 1.0 and r["beta"] == pytest.approx(32 / 4)
    assert r["step_size"] == pytest.approx(3e-3)


def test_sgld_point_records_every_observable():
    r = E.point(E.CopyLangevin(**SMALL), "linear", 8, 0, "copy")
    assert list(r["step"].values) == [0, 10, 20]
    for k in E.OBSERVABLES:
        assert r[k].shape == (3,) and np.isfinite(r[f"{k}_final"])


def test_onehot_presets_bracket_the_predicted_transitions():
    """beta = P / (d sigma^2) of the presets: softmax through beta_c = 17.31, linear through the onset
    0.215 and the steepest copy rise 0.401 (docs/attention_onehot.md §9)."""
    for name, lo, hi, mid in (("transformer-onehot-softmax", 0.125, 34.0, 17.3121),
                              ("transformer-onehot-linear", 0.00625, 1.0, 0.215064)):
        p = presets.PRESETS[name]
        betas = [E.beta(p.design, P) for P in dict(p.axes)["P"]]
        assert betas[0] == pytest.approx(lo) and betas[-1] == pytest.approx(hi) and min(betas) < mid < max(betas)
        assert dict(p.axes)["start"] == E.STARTS and p.design.d_model == 64 and p.design.loss == "mse"
    assert presets.PRESETS["transformer-onehot-linear-adam"].design.optimizer == "adam"


@pytest.mark.parametrize("field, value", [("loss", "l2"), ("sigma2", 0.0), ("optimizer", "sgd"), ("lr", -1.0),
                                          ("train_mlp", "no"), ("copy_logit", 0.0), ("V", 1), ("d_model", 0),
                                          ("eta_P0", -1.0)])
def test_invalid_design_raises_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        E.CopyLangevin(**{field: value})


def test_invalid_point_inputs_raise_naming_the_parameter():
    d = E.CopyLangevin(**SMALL)
    with pytest.raises(ValueError, match="start"):
        E.point(d, "softmax", 4, 0, "planted")
    with pytest.raises(ValueError, match="kind"):
        E.point(d, "relu", 4, 0)
    with pytest.raises(ValueError, match="P"):
        E.point(d, "softmax", 0, 0)
    with pytest.raises(ValueError, match="d_model"):
        E.build(E.CopyLangevin(**(SMALL | {"d_model": 6})), "softmax", "copy", 0)
    with pytest.raises(ValueError, match="loss"):
        TransformerConfig(vocab_size=4, loss="hinge")


def test_figure_numbers_and_draw_from_tiny_sweeps(tmp_path):
    """fig_transformer_onehot from 20-step sweeps of the four presets: per start and P the final
    observables, beta = P / (d sigma^2), and the model's predictions (softmax beta_c inside its
    spinodals; linear onset before the steepest copy rise, in the mean channel)."""
    from grokphase.paper_figs import FIGURES
    from grokphase.paper_figs import fig_transformer_onehot as F

    res = {n: presets.plan(n, overrides=["steps=20", "record_every=10", "P=[16, 32]"]).run() for n in F.PLANS}
    d = F.numbers(res, theory_betas=([17.3125, 24.0], [0.1, 0.5]))
    s = d["transformer-onehot-softmax"]
    assert s["P"] == [16, 32] and s["beta"] == pytest.approx([1.0, 2.0]) and len(s["copy"]["c_final"]) == 2
    assert d["transformer-onehot-linear"]["beta"] == pytest.approx([16 / 320, 32 / 320])
    t = d["theory"]
    assert t["softmax"]["beta_spinodal"][0] < t["softmax"]["beta_c"] < t["softmax"]["beta_spinodal"][1]
    assert t["softmax"]["c_copy"][0] > t["softmax"]["c_uniform"][0]            # two branches at beta_c
    assert t["linear"]["onset_channel"] == "mean" and t["linear"]["beta_c"] < t["linear"]["beta_steepest"]
    assert t["linear"]["w_c"][0] == 0.0 and t["linear"]["w_m"][1] > t["linear"]["w_c"][1] > 0
    paths = F.draw(d, tmp_path / "f.png")
    assert [p.suffix for p in paths] == [".png", ".pdf", ".json"] and "fig_transformer_onehot" in FIGURES


def test_sgld_step_shrinks_beyond_eta_P0():
    """eta min(1, eta_P0 / P_eff) with P_eff = P / sigma^2 for the Gaussian likelihood."""
    d = E.CopyLangevin(**(SMALL | {"steps": 1}), sigma2=0.5, eta=1e-4, eta_P0=8.0)
    assert E.point(d, "softmax", 2, 0)["step_size"] == pytest.approx(1e-4)
    assert E.point(d, "softmax", 16, 0)["step_size"] == pytest.approx(1e-4 * 8 / 32)


def test_figure_redraws_from_the_committed_numbers(tmp_path, monkeypatch):
    from pathlib import Path

    from grokphase.paper_figs import fig_transformer_onehot as F

    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # stored_numbers reads figures/<name>.json
    paths = F.main(["--out", str(tmp_path / "fig_transformer_onehot.png"), "--runs", str(tmp_path / "no-runs")])
    assert [p.suffix for p in paths] == [".png", ".pdf", ".json"] and not (tmp_path / "no-runs").exists()
