"""The one-hot attention figure (paper_figs/fig_attention_onehot.py): its plotted numbers are the
solver's (checked point by point against independent calls), the laws are the documented ones, and
draw() writes PNG + PDF + strict JSON."""

import json

import numpy as np
import pytest

from grokphase import attention as A
from grokphase.numerics import attention_onehot as N
from grokphase.paper_figs import FIGURES, load
from grokphase.paper_figs import fig_attention_onehot as fo
from grokphase.paper_figs.fig_attention_phase_diagram import _arr

P = dict(s_qk=0.25, s_uv=9.0)


@pytest.fixture(scope="module")
def data():
    return fo.compute(n_beta=30, n_L=8, Ls_large=[30.0, 1e3, 1e6], n_linear=25, fit_exponents=False)


def test_registered():
    assert "fig_attention_onehot" in FIGURES and load("fig_attention_onehot") is fo


def test_panel_a_is_the_one_hot_phase_diagram(data):
    d = data["softmax"]["diagram"]
    assert d["params"] == dict(kind="softmax", V=4.0, tokens="onehot", score_prior="product", **P)
    e = N.softmax_end_point(4, 0.25, 9.0)
    assert d["end_point"]["x_c"] == e.value and d["end_point"]["beta_star"] == e.beta
    xs, order, betas = np.array(d["xs"]), np.array(d["order"]), np.array(d["betas"])
    assert np.all((order == "first") == (xs > e.value))
    c = np.array([_arr(r) for r in d["c"]])
    for i in (1, len(xs) - 1):
        t = N.softmax_transition(xs[i], 4, 0.25, 9.0)
        assert d["beta_c"][i] == t.beta_c and (t.order == "first") == (order[i] == "first")
        for j in (0, len(betas) // 2, len(betas) - 1):
            states = N.softmax_stable_states(betas[j], xs[i], 4, 0.25, 9.0)
            st = states[0] if (t.order == "first" and betas[j] < t.beta_c) else states[-1]
            assert c[i, j] == pytest.approx(st.c, abs=1e-6)     # rounded to 6 digits in the JSON
    assert d["converged"] and np.all(np.diff(c, axis=1) >= -1e-6)
    ref = data["softmax"]["ref"]
    assert round(ref["beta_c"], 4) == 17.3121 and [round(b, 4) for b in ref["beta_spinodal"]] == [16.3651, 19.0466]


def test_panel_b_large_L_and_laws(data):
    ll = data["large_L"]
    Ls = np.array(ll["L"])
    for prior in N.PRIORS:
        r = ll[prior]
        assert r["converged"] and r["order"] == ["first"] * len(Ls)
        assert r["beta_c"] == [N.softmax_transition(L, 4, 0.25, 9.0, prior).beta_c for L in Ls]
        bc, lead, corr = (np.array(r[k]) for k in ("beta_c", "law_leading", "law_corrected"))
        # the ln ln L-corrected law is the closer one, and both ratios fall towards 1
        assert np.all(np.abs(bc / corr - 1) < np.abs(bc / lead - 1))
        assert np.all(np.diff(bc / lead) < 0)
    lnL = np.log(Ls)
    np.testing.assert_allclose(ll["product"]["law_leading"], 4 / 3 * lnL / 0.25, rtol=1e-14)
    np.testing.assert_allclose(ll["product"]["law_corrected"], 4 / 3 * (lnL + np.log(lnL)) / 0.25, rtol=1e-14)
    np.testing.assert_allclose(ll["gaussian"]["law_leading"], 4 / 3 * lnL**2 / (4 * 0.25**2), rtol=1e-14)
    np.testing.assert_allclose(ll["gaussian"]["law_corrected"], 4 / 3 * (lnL + np.log(lnL)) ** 2 / (4 * 0.25**2),
                               rtol=1e-14)
    g = ll["gaussian"]  # docs §5: at L = 1e6 beta_c is 5.0 % above the corrected Gaussian-logit law, 49 % above the leading
    assert g["beta_c"][-1] / g["law_corrected"][-1] == pytest.approx(1.050, abs=1e-3)
    assert g["beta_c"][-1] / g["law_leading"][-1] == pytest.approx(1.49, abs=0.01)


def test_panel_c_linear_order_parameters(data):
    lin = data["linear"]
    assert 200 < lin["L_c2"] < 215      # docs §9: L_c2(4) = 207.50
    small, large = lin["curves"]
    assert small["summary"]["secondary"] == "crossover" and small["summary"]["onset_channel"] == "mean"
    assert large["summary"]["secondary"] == "jump" and large["summary"]["L"] > lin["L_c2"]
    for cv in (small, large):
        s, x = cv["summary"], np.array(cv["x"])
        assert s["converged"]
        wc, wm = np.array(cv["w_c"]), np.array(cv["w_m"])
        assert np.all(wc[x < 1] == 0) and np.all(wm[x < 1] == 0)           # symmetric below the onset
        assert np.all(wm[x > 1] > wc[x > 1])                                # L > V: the mean channel leads
        for j in (int(np.argmax(x > 1)), len(x) // 2, len(x) - 1):         # the facade's equilibrium state
            beta = x[j] * s["beta_c"]
            if s["secondary"] == "jump" and s["beta_spinodal2"][0] < beta < s["beta_c2"]:
                continue        # 'copy' is the metastable high state there
            r = A.solve(beta, L=s["L"], kind="linear", **P, tokens="onehot", V=4, init="copy")
            assert (cv["w_c"][j], cv["w_m"][j], cv["w_a"][j]) == pytest.approx((r.w_c, r.w_m, r.w_a), rel=1e-9)
    s = large["summary"]
    t = A.transition(L=512, kind="linear", **P, tokens="onehot", V=4)
    assert s["jump_w_c"] == t.jump_w_c and s["beta_c2"] == t.beta_c2 and round(s["jump_w_c"], 3) == 0.204
    x, wc = np.array(large["x"]), np.array(large["w_c"])
    below, above = wc[x * s["beta_c"] < s["beta_c2"]][-1], wc[x * s["beta_c"] > s["beta_c2"]][0]
    assert below <= s["w_c_low"] + 1e-12 and above >= s["w_c_high"] - 1e-12   # the jump lies between the samples


def test_draw_writes_files(data, tmp_path):
    paths = fo.draw(data, tmp_path / "fig_attention_onehot.png")
    assert sorted(p.suffix for p in paths) == [".json", ".pdf", ".png"]
    assert all(p.stat().st_size > 0 for p in paths)

    def no_nan(name):
        raise ValueError(f"{name} in the JSON (not strict JSON)")

    back = json.loads(paths[-1].read_text(), parse_constant=no_nan)
    assert back["params"] == dict(V=4.0, **P)
