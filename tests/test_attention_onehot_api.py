"""The one-hot token model through the public facade (``tokens="onehot"``): equal to the direct
solver calls, V = 2 equal to the Gaussian-token facade at beta / 2 (docs/attention_onehot.md §5),
phase-diagram flag semantics and round trip, and invalid keyword combinations."""

import numpy as np
import pytest
import xarray as xr

from grokphase import attention as A
from grokphase.numerics import attention_onehot as N
from grokphase.results import flag_labels, load_dataset, save_dataset

REF = dict(s_qk=0.25, s_uv=9.0)
OH = dict(tokens="onehot", V=4)


# --------------------------------------------------------------------------- facade == solver

@pytest.mark.parametrize("prior", N.PRIORS)
def test_softmax_transition_and_states_are_the_solvers(prior):
    t = A.transition(L=8, **REF, **OH, score_prior=prior)
    assert t == N.softmax_transition(8, 4, 0.25, 9.0, prior)
    assert isinstance(t, A.OneHotSoftmaxTransition) and t.kind == "softmax"
    if prior == "product":   # docs §9 anchors through the facade
        assert t.order == "first" and round(t.beta_c, 4) == 17.3121
        assert t.jump == (t.copy.c - t.uniform.c, t.copy.g - t.uniform.g, t.copy.eps - t.uniform.eps)
    else:
        assert t.order == "crossover" and t.jump is None
    for beta in (1.0, 17.0, 18.0, 40.0):
        states = N.softmax_stable_states(beta, 8, 4, 0.25, 9.0, prior)
        for init, st in (("uniform", states[0]), ("copy", states[-1])):
            r = A.solve(beta, L=8, **REF, **OH, score_prior=prior, init=init)
            assert r == st and r.converged and r.stable and r.w == r.g * r.c


def test_softmax_solve_reproduces_the_transition_states():
    """An independent route: the branch states that softmax_transition finds by Brent at beta_c."""
    t = A.transition(L=8, **REF, **OH)
    for init, st in (("uniform", t.uniform), ("copy", t.copy)):
        r = A.solve(t.beta_c, L=8, **REF, **OH, init=init)
        assert (r.kappa, r.g, r.m, r.free_energy) == pytest.approx((st.kappa, st.g, st.m, st.free_energy), rel=1e-9)
    # between the spinodals two minima, outside one
    lo, hi = t.beta_spinodal
    assert len(N.softmax_stable_states(0.5 * (lo + hi), 8, 4, 0.25, 9.0)) == 2
    assert len(N.softmax_stable_states(0.99 * lo, 8, 4, 0.25, 9.0)) == 1
    assert len(N.softmax_stable_states(1.01 * hi, 8, 4, 0.25, 9.0)) == 1


def test_solve_tol_decides_converged():
    r = A.solve(17.0, L=8, **REF, **OH, tol=1e-30)
    assert not r.converged and r.residual > 1e-30
    lin = A.solve(1.0, L=8, kind="linear", **REF, **OH, init="copy", tol=1e-30, max_iter=3)
    assert not lin.converged and 1 <= lin.iterations <= 3


def test_linear_transition_and_states_are_the_solvers():
    t = A.transition(L=8, kind="linear", **REF, **OH)
    assert t == N.linear_transition(8, 4, 0.25, 9.0)
    assert t.order == t.primary_order == "second" and t.beta_onset == t.beta_c and t.kind == "linear"
    assert t.secondary == "crossover" and round(t.beta_c, 4) == 0.2151
    for beta in (0.5 * t.beta_c, 0.4013, 3.0):
        for init in ("uniform", "copy"):
            r = A.solve(beta, L=8, kind="linear", **REF, **OH, init=init)
            assert r == N.linear_state(beta, 8, 4, 0.25, 9.0, init=init) and r.converged
    below = A.solve(0.5 * t.beta_c, L=8, kind="linear", **REF, **OH, init="copy")
    assert below.kappa == below.g == below.a == below.m == 0.0 and below.stable
    # at the steepest point of the crossover the solver's state is the transition's
    st = A.solve(t.beta_steepest, L=8, kind="linear", **REF, **OH, init="copy")
    assert st.w_c == pytest.approx(t.w_c_steepest, rel=1e-9) and st.stable
    assert not A.solve(3.0, L=8, kind="linear", **REF, **OH, init="uniform").stable   # the origin, unstable


def test_linear_secondary_jump_states_through_the_facade():
    """L = 512 > L_c2(4): at beta_c2 'copy' is the high-w_c state; just below the lower secondary
    spinodal only the low one exists."""
    t = A.transition(L=512, kind="linear", **REF, **OH)
    assert t.secondary == "jump"
    hi = A.solve(t.beta_c2, L=512, kind="linear", **REF, **OH, init="copy")
    assert hi.w_c == pytest.approx(t.high.w_c, rel=1e-8) and hi.stable
    lo = A.solve(0.99 * t.beta_spinodal2[0], L=512, kind="linear", **REF, **OH, init="copy")
    assert lo.w_c < t.low.w_c * 1.01 and lo.stable


def test_end_points_are_the_solvers():
    e = A.critical_end_point(**REF, **OH, fit_exponents=False)
    d = N.softmax_end_point(4, 0.25, 9.0)
    assert (e.x_c, e.beta_star, e.kappa_star, e.residual, e.iterations) == \
        (d.value, d.beta, d.kappa, d.residual, d.iterations)
    assert e.converged and round(e.x_c, 4) == 5.4475
    L_c, beta_star = e
    assert A.transition(L=L_c * 1.01, **REF, **OH).order == "first"
    assert A.transition(L=L_c * 0.99, **REF, **OH).order == "crossover"
    ex = A.critical_end_point(**REF, **OH)   # mean-field exponents of the one-hot end point
    assert ex.jump_exponent == pytest.approx(0.5, abs=0.02) and ex.width_exponent == pytest.approx(1.5, abs=0.02)


# --------------------------------------------------------------------------- V = 2 == Gaussian tokens at beta / 2

def test_v2_equals_gaussian_tokens_at_half_beta():
    for L in (8, 16):
        t2 = A.transition(L=L, **REF, tokens="onehot", V=2)
        tg = A.transition(L=L, **REF)
        assert t2.order == tg.order == "first"
        assert t2.beta_c / 2 == pytest.approx(tg.beta_c, rel=1e-11)
        assert np.allclose(np.array(t2.beta_spinodal) / 2, tg.beta_spinodal, rtol=1e-11)
        assert t2.barrier == pytest.approx(tg.barrier, rel=1e-9)
        assert t2.jump[:2] == pytest.approx(tg.jump[:2], rel=1e-8)
        for beta in (0.5 * t2.beta_c, t2.beta_c, 1.5 * t2.beta_c):
            for init in ("uniform", "copy"):
                r2 = A.solve(beta, L=L, **REF, tokens="onehot", V=2, init=init)
                rg = A.solve(beta / 2, L=L, **REF, init=init)
                assert (r2.kappa, r2.g, r2.c, r2.w) == pytest.approx((rg.kappa, rg.g, rg.c, rg.w), rel=1e-9)
    e2 = A.critical_end_point(**REF, tokens="onehot", V=2, fit_exponents=False)
    eg = A.critical_end_point(**REF, fit_exponents=False)
    assert e2.x_c == pytest.approx(eg.x_c, rel=1e-8) and e2.beta_star / 2 == pytest.approx(eg.beta_star, rel=1e-6)


def test_v2_phase_diagram_equals_the_gaussian_one_at_half_beta():
    betas = np.linspace(2.0, 40.0, 11)
    p2 = A.phase_diagram(betas, [4, 8], **REF, tokens="onehot", V=2)
    pg = A.phase_diagram(betas / 2, [4, 8], **REF)
    assert list(flag_labels(p2.order).values) == list(flag_labels(pg.order).values) == ["crossover", "first"]
    np.testing.assert_array_equal(flag_labels(p2.branch).values, flag_labels(pg.branch).values)
    np.testing.assert_allclose(p2.beta_c.values / 2, pg.beta_c.values, rtol=1e-9)
    for n in ("kappa", "g", "c", "w", "c_metastable"):
        np.testing.assert_allclose(p2[n].values, pg[n].values, rtol=1e-8, equal_nan=True)


# --------------------------------------------------------------------------- phase diagrams

def test_onehot_phase_diagram_flags_and_round_trip(tmp_path):
    betas = np.linspace(10.0, 25.0, 31)
    pd = A.phase_diagram(betas, [4, 8, 12], **REF, **OH)
    assert pd.converged and pd.c.dims == ("L", "beta")
    assert list(flag_labels(pd.order).values) == ["crossover", "first", "first"]   # L_c(4) = 5.4475
    labels = flag_labels(pd.branch).values
    assert np.all(labels[0] == "crossover") and np.all(np.isnan(pd.c_metastable.values[0]))
    for i, L in ((1, 8), (2, 12)):
        t = A.transition(L=L, **REF, **OH)
        assert float(pd.beta_c[i]) == t.beta_c
        assert (float(pd.beta_sp_lo[i]), float(pd.beta_sp_hi[i])) == t.beta_spinodal
        below = betas < t.beta_c
        assert np.all(labels[i][below] == "uniform") and np.all(labels[i][~below] == "copy")
        inside = (betas > t.beta_spinodal[0]) & (betas < t.beta_spinodal[1])
        meta = pd.c_metastable.values[i]
        assert np.all(np.isfinite(meta[inside])) and np.all(np.isnan(meta[~inside]))
        # the equilibrium c jumps up across beta_c; metastable copy weight above it below beta_c
        j = int(np.argmax(~below))
        assert pd.c.values[i, j] - pd.c.values[i, j - 1] > 0.1
        assert np.all(meta[inside & below] > pd.c.values[i][inside & below])
        for b in (betas[3], betas[-2]):
            init = "uniform" if b < t.beta_c else "copy"
            assert float(pd.c.sel(L=L, beta=b)) == A.solve(b, L=L, **REF, **OH, init=init).c
    back = load_dataset(save_dataset(pd, tmp_path / "onehot.nc"))
    xr.testing.assert_identical(back, pd)
    assert back.attrs == pd.attrs
    assert {k: back.attrs[k] for k in ("tokens", "score_prior", "V", "s_qk", "varied")} == \
        dict(tokens="onehot", score_prior="product", V=4.0, s_qk=0.25, varied="L")
    assert type(back.attrs["V"]) is float and list(flag_labels(back.order).values) == ["crossover", "first", "first"]


def test_onehot_phase_diagram_in_V_at_fixed_L():
    pv = A.phase_diagram([10.0, 20.0], [2.0, 4.0, 16.0], vary="V", L=8, **REF, tokens="onehot",
                         score_prior="gaussian")
    assert pv.c.dims == ("V", "beta") and pv.attrs["L"] == 8.0 and "V" not in pv.attrs
    assert pv.attrs["score_prior"] == "gaussian"
    for i, V in enumerate((2.0, 4.0, 16.0)):
        t = A.transition(L=8, **REF, tokens="onehot", V=V, score_prior="gaussian")
        assert float(pv.beta_c[i]) == t.beta_c and str(flag_labels(pv.order).values[i]) == t.order


# --------------------------------------------------------------------------- invalid combinations

@pytest.mark.parametrize("call,name,detail", [
    (lambda: A.transition(L=8, **REF, V=4), "V", "tokens='onehot'"),
    (lambda: A.solve(1.0, L=8, **REF, score_prior="gaussian"), "score_prior", "'product'"),
    (lambda: A.transition(L=8, **REF, tokens="onehot"), "V", r"\[2, 1e\+08\]"),
    (lambda: A.transition(L=8, **REF, tokens="onehot", V=1.5), "V", r"\[2, 1e\+08\]"),
    (lambda: A.transition(L=8, **REF, tokens="onehot", V=float("inf")), "V", "finite"),
    (lambda: A.transition(L=8, **REF, tokens="bpe"), "tokens", "onehot"),
    (lambda: A.transition(L=8, **REF, tokens="onehot", V=4, score_prior="flat"), "score_prior", "gaussian"),
    (lambda: A.transition(L=1e7, **REF, **OH), "L", r"\[2, 1e\+06\]"),
    (lambda: A.solve(1.0, L=8, **REF, **OH, init=(0.5, 1.0)), "init", "'copy'"),
    (lambda: A.phase_diagram([1.0], [4], vary="V", **REF), "vary", "'s_qk'"),
    (lambda: A.phase_diagram([1.0], [4], vary="V", **REF, **OH), "V", "second argument"),
    (lambda: A.phase_diagram([1.0], [1.0], vary="V", **REF, tokens="onehot"), r"Ls\[0\] \(V\) must", r"\[2, 1e\+08\]"),
    (lambda: A.critical_end_point(**REF, **OH, vary="s_qk"), "vary", "'L'"),
    (lambda: A.critical_end_point(kind="linear", **REF), "kind", "tricritical"),
])
def test_invalid_combinations_name_the_parameter(call, name, detail):
    with pytest.raises(ValueError, match=rf"^{name}\b.*{detail}"):
        call()


def test_linear_states_coexist_between_the_secondary_spinodals():
    """L = 512: two ordered minima between the secondary spinodals, equal in free energy at beta_c2
    (the transition's low/high states), one outside."""
    t = A.transition(L=512, kind="linear", **REF, **OH)
    lo, hi = t.beta_spinodal2
    both = N.linear_stable_states(t.beta_c2, 512, 4, 0.25, 9.0)
    assert len(both) == 2 and all(s.stable and s.converged for s in both)
    assert (both[0].w_c, both[1].w_c) == pytest.approx((t.low.w_c, t.high.w_c), rel=1e-8)
    assert both[0].free_energy == pytest.approx(both[1].free_energy, rel=1e-12)
    assert len(N.linear_stable_states(0.98 * lo, 512, 4, 0.25, 9.0)) == 1
    assert len(N.linear_stable_states(1.02 * hi, 512, 4, 0.25, 9.0)) == 1
    assert N.linear_stable_states(0.9 * t.beta_c, 512, 4, 0.25, 9.0) == []


def test_linear_secondary_end_point_through_the_facade():
    """L_c2(4) (docs §9: 207.50) is the solver's; the secondary jump vanishes there with the mean-field
    exponents (jump of w_c 1/2, secondary spinodal width 3/2)."""
    e = A.critical_end_point(kind="linear", **REF, **OH, bracket=(128.0, 512.0))
    d = N.linear_end_point(4, 0.25, 9.0, bracket=(128.0, 512.0))
    assert (e.x_c, e.beta_star, e.kappa_star) == (d.value, d.beta, d.kappa) and e.converged
    assert round(e.x_c, 2) == 207.50
    assert e.jump_exponent == pytest.approx(0.5, abs=0.01) and e.width_exponent == pytest.approx(1.5, abs=0.01)


def test_linear_phase_diagram_secondary_jump_and_round_trip(tmp_path):
    """One-hot linear attention on the (L, beta) grid: L = 8 a crossover, L = 512 the secondary jump of
    w_c at beta_c2 (the low state below, the high one above, the other in w_c_metastable between the
    secondary spinodals); every grid point is the facade's solve (or the symmetric point)."""
    betas = np.geomspace(1e-3, 2.0, 41)
    pd = A.phase_diagram(betas, [8, 512], kind="linear", **REF, **OH)
    assert pd.converged and list(flag_labels(pd.order).values) == ["second", "second"]
    assert list(flag_labels(pd.secondary).values) == ["crossover", "jump"]
    t8, t512 = (A.transition(L=L, kind="linear", **REF, **OH) for L in (8, 512))
    assert list(pd.beta_c.values) == [t8.beta_c, t512.beta_c]
    assert float(pd.beta_steepest[0]) == t8.beta_steepest and np.isnan(pd.beta_c2[0])
    assert float(pd.beta_c2[1]) == t512.beta_c2 and (float(pd.beta_sp2_lo[1]), float(pd.beta_sp2_hi[1])) == \
        t512.beta_spinodal2
    labels = flag_labels(pd.branch).values
    for i, t in enumerate((t8, t512)):
        below = betas < t.beta_c
        assert np.all(labels[i][below] == "trivial") and np.all(labels[i][~below] == "copy")
        assert np.all(pd.w_c.values[i][below] == 0) and np.all(pd.w_c.values[i][~below] > 0)
        assert np.all(np.diff(pd.w_c.values[i]) >= 0)
    wc = pd.w_c.values[1]
    lo, hi = t512.beta_spinodal2
    inside = (betas > lo) & (betas < hi)
    assert np.all(np.isfinite(pd.w_c_metastable.values[1][inside]))
    assert np.all(np.isnan(pd.w_c_metastable.values[1][~inside]))
    j = int(np.argmax(betas > t512.beta_c2))
    assert wc[j - 1] <= t512.low.w_c + 1e-12 and wc[j] >= t512.high.w_c - 1e-12
    for i, L in ((0, 8), (1, 512)):
        for jj in (5, 25, 40):
            b = betas[jj]
            if i == 1 and lo < b < t512.beta_c2:
                continue                     # the equilibrium is the low state; 'copy' gives the high one
            r = A.solve(b, L=L, kind="linear", **REF, **OH, init="copy")
            assert (float(pd.w_c[i, jj]), float(pd.w_m[i, jj]), float(pd.a[i, jj])) == (r.w_c, r.w_m, r.a)
            assert float(pd.c[i, jj]) == pytest.approx(r.kappa * (1 - 1 / L) + r.a / L, rel=1e-14)
    back = load_dataset(save_dataset(pd, tmp_path / "linear.nc"))
    xr.testing.assert_identical(back, pd)
    assert list(flag_labels(back.secondary).values) == ["crossover", "jump"]


def test_linear_phase_diagram_first_order_onset():
    """s = s_qk s_uv = 0.75 < s_tc at L = 8, V = 4 (docs §6: beta_sp1 = 0.6381, beta_c1 = 0.6398,
    pitchfork 0.6452): order 'first' with beta_c = beta_c1, the spinodals (beta_sp1, pitchfork),
    both minima in the window (the other's copy weight in c_metastable)."""
    s_uv = 0.75 / 0.25
    t = A.transition(L=8, kind="linear", s_qk=0.25, s_uv=s_uv, **OH)
    assert t.order == "first" and t.beta_onset == t.beta_c1
    betas = np.linspace(0.637, 0.647, 21)
    pd = A.phase_diagram(betas, [8], kind="linear", s_qk=0.25, s_uv=s_uv, **OH)
    assert str(flag_labels(pd.order).values[0]) == "first" and float(pd.beta_c[0]) == t.beta_c1
    assert (float(pd.beta_sp_lo[0]), float(pd.beta_sp_hi[0])) == (t.beta_spinodal1, t.beta_c)
    assert [round(float(v), 4) for v in (pd.beta_sp_lo[0], pd.beta_c[0], pd.beta_sp_hi[0])] == [0.6381, 0.6398, 0.6452]
    labels, meta, c = flag_labels(pd.branch).values[0], pd.c_metastable.values[0], pd.c.values[0]
    below = betas < t.beta_c1
    assert np.all(labels[below] == "trivial") and np.all(labels[~below] == "copy")
    window = (betas > t.beta_spinodal1) & (betas < t.beta_c)
    assert np.all(np.isfinite(meta[window])) and np.all(np.isnan(meta[~window]))
    assert np.all(meta[window & below] > 0) and np.all(meta[window & ~below] == 0)   # ordered / symmetric
    assert np.all(c[below] == 0) and np.all(c[~below] > 0)


def test_linear_states_beyond_the_maximum_of_g():
    """L = 512: the value gain g peaks near beta = 1.17 and then decreases while beta grows; the
    ordered minimum is still found there (it used to fall back to the unstable origin), w_c -> 1, and
    it is a minimum of f_l: a perturbed start under SciPy's BFGS on the kernel free energy returns to it."""
    from scipy.optimize import minimize

    prev = 0.0
    for beta in (1.0, 1.5, 2.0, 20.0):
        r = A.solve(beta, L=512, kind="linear", **REF, **OH, init="copy")
        assert r.converged and r.stable and prev < r.w_c < 1
        prev = r.w_c
    x0 = np.array([r.kappa, r.a, r.g, r.m])
    o = minimize(lambda x: N.linear_f(0, x, 20.0, 512.0, 4.0, 0.25, 9.0), x0 * 1.01,
                 jac=lambda x: N.linear_grad(0, x, 20.0, 512.0, 4.0, 0.25, 9.0), method="BFGS",
                 options=dict(gtol=1e-12, maxiter=10000))
    assert np.allclose(o.x, x0, rtol=1e-6)
