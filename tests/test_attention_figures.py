"""Fast checks of the attention figure scripts: compute() on small grids gives physically sensible
numbers (docs/attention_copy.md §4-§6, §9), and draw() writes PNG + PDF + JSON."""

import json

import numpy as np
import pytest

from grokphase.paper_figs import FIGURES, load
from grokphase.paper_figs import fig_attention_branches as fb
from grokphase.paper_figs import fig_attention_phase_diagram as fp


@pytest.fixture(scope="module")
def branches():
    return fb.compute(n_kappa=121, n_beta=60)


@pytest.fixture(scope="module")
def diagram():
    return fp.compute(n_beta=40, n_L=12, n_sqk=10, L_values=(3, 5, 6, 8, 12), fit_exponents=False)


def test_registered():
    assert load("fig_attention_branches") is fb and load("fig_attention_phase_diagram") is fp
    assert set(FIGURES) >= {"fig_linear_vi", "fig_attention_branches", "fig_attention_phase_diagram"}
    with pytest.raises(ValueError, match="name"):
        load("fig_nonexistent")


def test_landscape_maxwell_point(branches):
    """At beta_c phi has two minima of equal height (to 1e-6), at the uniform and copy states of
    ``transition``, separated by the barrier; off the window there is only one minimum."""
    tr = branches["transition"]
    land = {c["label"]: c for c in branches["landscape"]}
    mins = land["beta_c"]["minima"]
    assert len(mins) == 2
    (k_u, f_u), (k_c, f_c) = mins
    assert abs(f_u - f_c) < 1e-6 and abs(f_u) < 1e-12          # reference = the uniform minimum
    assert k_u == pytest.approx(tr["uniform"]["kappa"], abs=1e-5)
    assert k_c == pytest.approx(tr["copy"]["kappa"], abs=1e-5)
    kap, phi = np.array(branches["kappa"]), np.array(land["beta_c"]["phi"])
    top = phi[(kap > k_u) & (kap < k_c)].max()
    assert top == pytest.approx(tr["barrier"], rel=2e-2) and top > 0.1
    assert len(land["beta_sp_lo - 1"]["minima"]) == 1 and land["beta_sp_lo - 1"]["minima"][0][0] < k_u
    above = land["beta_sp_hi + 1"]
    assert len(above["minima"]) == 1 and above["minima"][0][0] > k_c and above["reference"] == "phi(0)"
    # at each spinodal the disappearing minimum is a flat inflection point: phi' = 0 there
    L, s_qk, s_uv = (branches["params"][k] for k in ("L", "s_qk", "s_uv"))
    for label in ("beta_sp_lo", "beta_sp_hi"):
        (k_i, _), = land[label]["inflections"]
        assert abs(fb.dphi(k_i, land[label]["beta"], L, s_qk, s_uv)) < 1e-4


def test_softmax_curve_s_shape(branches):
    """Unstable points lie strictly inside the spinodal window; c increases along stable pieces
    and the folds sit at the spinodals."""
    tr, sm = branches["transition"], branches["softmax"]
    b, c, st = np.array(sm["beta"]), np.array(sm["c"]), np.array(sm["stable"])
    assert (~st).any() and st.any()
    lo, hi = tr["beta_sp_lo"], tr["beta_sp_hi"]
    assert b[~st].min() > lo - 1e-6 and b[~st].max() < hi + 1e-6
    for a, z, stable in fb._stable_runs(st):
        if stable:
            assert np.all(np.diff(b[a:z - 1]) > 0) and np.all(np.diff(c[a:z - 1]) > 0)
    folds = sorted(bf for _, bf in fb._folds(sm))
    assert folds == pytest.approx([lo, hi], abs=1e-2)
    assert c.min() >= 1.0 / branches["params"]["L"] - 1e-12 and c.max() < 1.0


def test_linear_branches(branches):
    """REF: supercritical pitchfork (stable non-trivial branch from w = 0 at beta_c, w increasing
    towards 1); s_uv = 4: the branch bends back to a fold below the pitchfork (first order)."""
    ref, sub = branches["linear"]
    assert ref["order"] == "second" and sub["order"] == "first"
    x, w = np.array(ref["x"]), np.array(ref["w"])
    assert all(ref["stable"]) and x[0] == pytest.approx(1.0) and w[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(w) > 0) and np.all(np.diff(x) > 0) and w[-1] < 1.0
    xs, st = np.array(sub["x"]), np.array(sub["stable"])
    x_fold = sub["beta_spinodal"][0] / sub["beta_pitchfork"]
    assert xs[~st].min() >= x_fold - 1e-9 and xs[~st].max() <= 1.0 + 1e-9
    assert x_fold < sub["beta_c"] / sub["beta_pitchfork"] < 1.0 and sub["w_jump"] > 0
    tx, tst = np.array(sub["trivial_x"]), np.array(sub["trivial_stable"])
    assert np.all(tst == (tx < 1.0))   # the trivial point is a minimum up to the pitchfork


def test_phase_diagram_lines(diagram):
    """The first-order line lies between the spinodals; it exists exactly above the end point
    (L > L_c; s_qk < s_qk_c); the equilibrium c is nondecreasing in beta, in [1/L, 1]."""
    for key, first_side in (("beta_L", lambda x, xc: x > xc), ("beta_sqk", lambda x, xc: x < xc)):
        d = diagram[key]
        xs, order = np.array(d["xs"]), np.array(d["order"])
        bc, lo, hi = (fp._arr(d[k]) for k in ("beta_c", "beta_sp_lo", "beta_sp_hi"))
        first = order == "first"
        assert np.all(first == first_side(xs, d["end_point"]["x_c"]))
        assert np.all((lo[first] < bc[first]) & (bc[first] < hi[first]))
        assert np.all(np.isnan(lo[~first]))
        c = np.array([fp._arr(r) for r in d["c"]])
        assert not np.isnan(c).any()
        assert np.all(np.diff(c, axis=1) >= -1e-10)
        assert d["converged"]
    d = diagram["beta_L"]
    c = np.array([fp._arr(r) for r in d["c"]])
    assert np.all(c >= 1.0 / np.array(d["xs"])[:, None] - 1e-12) and np.all(c <= 1.0)
    assert 5.0 < d["end_point"]["x_c"] < 6.0    # spec §6: L_c between 5 and 6 for REF priors


def test_map_vs_bayes_thresholds(diagram):
    """MAP: beta_local = L/s_qk + 1/s_uv (closed form) lies above the global switch; the Bayesian
    transition happens before MAP's local instability."""
    p = diagram["params"]
    for r in diagram["thresholds"]:
        assert r["map_beta_local"] == pytest.approx(r["L"] / p["s_qk"] + 1 / p["s_uv"], rel=1e-12)
        assert r["map_beta_switch"] < r["map_beta_local"]
        assert r["beta_c"] < r["map_beta_local"]
        assert (r["order"] == "first") == (r["L"] > diagram["beta_L"]["end_point"]["x_c"])


def test_draw_writes_files(branches, diagram, tmp_path):
    for mod, data in ((fb, branches), (fp, diagram)):
        paths = mod.draw(data, tmp_path / f"{mod.__name__.rsplit('.', 1)[-1]}.png")
        assert sorted(p.suffix for p in paths) == [".json", ".pdf", ".png"]
        assert all(p.stat().st_size > 0 for p in paths)
        def no_nan(name):
            raise ValueError(f"{name} in the JSON (not strict JSON)")

        back = json.loads(paths[-1].read_text(), parse_constant=no_nan)
        assert back["params"] == json.loads(json.dumps(data["params"]))
