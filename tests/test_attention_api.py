"""Public attention API: validation, honesty, and hypothesis properties over the parameter range."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xarray as xr

from grokphase import attention as A
from grokphase.numerics import _attention_kernels as K
from grokphase.results import flag_labels, load_dataset, save_dataset
from grokphase.testing import assert_power_law

REF = dict(s_qk=0.25, s_uv=9.0)


@pytest.mark.parametrize("bad,name", [(dict(L=1.5), "L"), (dict(s_qk=0.0), "s_qk"), (dict(s_uv=-1.0), "s_uv"),
                                      (dict(beta=-0.1), "beta"), (dict(kind="relu"), "kind"),
                                      (dict(init="sideways"), "init")])
def test_invalid_parameters_name_the_parameter(bad, name):
    kw = dict(beta=1.0, L=8, kind="softmax", s_qk=0.25, s_uv=9.0) | bad
    beta = kw.pop("beta")
    with pytest.raises(ValueError, match=name):
        A.solve(beta, **kw)


def test_impossible_solve_reports_not_converged():
    r = A.solve(12.97, L=8, **REF, init=(0.6, 1.5), tol=1e-30, max_iter=5)
    assert not r.converged and r.residual > 1e-30 and r.iterations == 5


def test_solve_branches_at_beta_c_and_their_stability():
    t = A.transition(L=8, **REF)
    u = A.solve(t.beta_c, L=8, **REF, init="uniform")
    c = A.solve(t.beta_c, L=8, **REF, init="copy")
    assert u.converged and c.converged and u.stable and c.stable
    assert u.free_energy == pytest.approx(c.free_energy, abs=1e-10)
    assert (c.c - u.c, c.g - u.g, c.eps - u.eps) == pytest.approx(t.jump, abs=1e-10)
    mid = A.solve(t.beta_c, L=8, **REF, init=(0.6, 1.5))  # converges to the unstable middle branch
    assert mid.converged and not mid.stable
    assert mid.free_energy - u.free_energy == pytest.approx(t.barrier, rel=1e-9)


def test_trace_reports_hysteresis_window():
    b = A.trace([12.0, 13.0, 14.0, 14.5], L=8, **REF)
    br = b.branches
    assert np.isnan(br["copy"]["c"][0]) and not np.isnan(br["uniform"]["c"][0])
    assert not np.isnan(br["copy"]["c"][1]) and not np.isnan(br["unstable"]["c"][1])
    assert np.isnan(br["uniform"]["c"][3])
    assert np.all(br["unstable"]["min_hessian_eig"][1:3] < 0)


def test_map_threshold_is_the_closed_form_and_above_the_bayesian_transition():
    m = A.map_transition(L=8, **REF)
    assert m.beta_local == pytest.approx(8 / 0.25 + 1 / 9.0, rel=1e-14)
    t = A.transition(L=8, **REF)
    assert t.beta_c < m.beta_switch < m.beta_local
    assert math.isinf(A.map_transition(L=8, kind="linear", **REF).beta_local)
    assert m.converged and 0 < m.iterations < 100 and m.residual < 1e-10


@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_map_state_is_a_frozen_result_and_switches_at_beta_switch(kind):
    """map_state: a MapState (frozen), w = g c as in ``solve``, its objective the minimum of an
    independent dense scan of the MAP profile, and the copy state becomes global at beta_switch."""
    import dataclasses

    from grokphase.numerics.attention_map import map_profile
    from grokphase.numerics.attention_saddle import KIND_CODES

    m = A.map_transition(L=8, kind=kind, **REF)
    for factor, is_global in ((0.99, False), (1.01, True)):
        b = m.beta_switch * factor
        s = A.map_state(b, L=8, kind=kind, **REF)
        assert isinstance(s, A.MapState) and s.converged and s.copy_is_global is is_global
        assert s.w == s.g * s.c and s.kind == kind and s.beta == b
        # the copy state: the lowest point of the profile on kappa >= kappa_max / 2000 (an interior
        # local minimum; towards kappa -> 0 the profile returns to the uniform point)
        phi = [map_profile(KIND_CODES[kind], k, b, 8.0, 0.25, 9.0)[0]
               for k in np.linspace(s.kappa_max / 2000, s.kappa_max, 4001)]
        assert s.objective <= min(phi) + 1e-12
        if is_global:   # a genuine copy state: an interior local minimum
            assert s.kappa > 1e-3
            for d in (1e-4, -1e-4):
                assert map_profile(KIND_CODES[kind], s.kappa + d, b, 8.0, 0.25, 9.0)[0] > s.objective
        assert s.objective_uniform == map_profile(KIND_CODES[kind], 0.0, b, 8.0, 0.25, 9.0)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.w = 0.0


def test_critical_end_point_and_mean_field_exponents():
    cep = A.critical_end_point(**REF, vary="L")
    L_c, beta_star = cep
    assert cep.converged and 5.0 < L_c < 6.0  # spec §6: between 5 and 6 for REF
    assert cep.jump_exponent == pytest.approx(0.5, abs=0.02)
    assert cep.width_exponent == pytest.approx(1.5, abs=0.02)
    assert A.transition(L=L_c + 1e-3, **REF).order == "first"
    assert A.transition(L=L_c - 1e-3, **REF).order == "crossover"
    assert A.transition(L=L_c - 1e-3, **REF).beta_c == pytest.approx(beta_star, rel=1e-2)


# ----------------------------------------------------------------------- hypothesis properties

kappas = st.floats(-3.0, 3.0, allow_nan=False)
gains = st.floats(-20.0, 20.0, allow_nan=False)
scales = st.floats(0.05, 5.0)


@given(k=kappas, g=gains, b=st.floats(0.0, 50.0), L=st.integers(2, 40), sq=scales, su=st.floats(0.5, 20.0))
def test_linear_free_energy_is_z2_even(k, g, b, L, sq, su):
    f1 = K.linear_f(k, g, b, float(L), sq, su)
    f2 = K.linear_f(-k, -g, b, float(L), sq, su)
    assert f1 == pytest.approx(f2, rel=1e-13, abs=1e-13)


@settings(max_examples=25)
@given(b=st.floats(1e-3, 60.0), L=st.integers(2, 30), sq=st.floats(0.1, 2.0), su=st.floats(1.0, 15.0))
def test_softmax_uniform_branch_is_never_exactly_kappa_zero(b, L, sq, su):
    r = A.solve(b, L=L, s_qk=sq, s_uv=su, init="uniform")
    assert r.converged and r.stable
    assert r.kappa > 0.0 and r.c > 1.0 / L and r.g > 0.0
    assert all(np.isfinite([r.kappa, r.g, r.c, r.eps, r.free_energy]))


log_uniform = lambda lo, hi: st.floats(np.log(lo), np.log(hi)).map(np.exp)  # noqa: E731


@settings(max_examples=40)
@given(L=st.floats(2.0, 64.0), sq=log_uniform(0.01, 5.0), su=log_uniform(0.1, 100.0))
def test_softmax_transition_and_branches_are_consistent(L, sq, su):
    """Over decades of the priors: finite results, beta_c inside the spinodals, and the traced
    continuation (an independent route) shows folds exactly when ``transition`` says first order."""
    t = A.transition(L=L, s_qk=sq, s_uv=su)
    assert t.order in ("first", "crossover", "critical") and np.isfinite(t.beta_c) and t.beta_c > 0
    assert t.converged
    assert (t.order in ("first", "critical")) == (t.min_slope < 0)
    top = t.beta_c
    if t.order == "first":
        lo, hi = t.beta_spinodal
        assert lo < t.beta_c < hi
        assert t.jump[0] > 0 and t.jump[2] < 0 and t.barrier > 0
        top = hi
    b = A.trace(np.linspace(0.0, 1.5 * top, 7), L=L, s_qk=sq, s_uv=su)
    assert b.converged
    if t.order == "first":
        assert set(b.branches) == {"uniform", "unstable", "copy"}
        # the curve's turning points are the spinodals
        cb = b.curve["beta"]
        assert cb.max() >= t.beta_spinodal[1] * (1 - 1e-3) or cb[-1] > t.beta_spinodal[1]
    else:
        assert not np.any(np.isnan(b.branches["crossover"]["c"]))


@settings(max_examples=30)
@given(L=st.integers(2, 64), sq=log_uniform(0.01, 5.0), ratio=st.floats(0.3, 3.0).filter(lambda r: abs(r - 1) > 0.02))
def test_linear_order_follows_the_tricritical_condition(L, sq, ratio):
    s = ratio * K.linear_s_tc(float(L))
    t = A.transition(L=L, kind="linear", s_qk=sq, s_uv=s / sq)
    assert t.converged
    if ratio > 1:
        assert t.order == "second" and t.beta_spinodal is None
        assert t.exponent == pytest.approx(0.5, abs=0.02)
    else:
        assert t.order == "first"
        lo, hi = t.beta_spinodal
        assert lo < t.beta_c < hi == pytest.approx(K.linear_beta_c(float(L), sq, s / sq))
        assert t.copy.free_energy == pytest.approx(t.uniform.free_energy, rel=1e-9)


@pytest.mark.parametrize("rel", [-1e-3, -1e-5, -1e-7, 0.0, 1e-7, 1e-5])
def test_linear_near_the_tricritical_point(rel):
    """The first-order window shrinks like B2^2: below 1e-9 relative it is reported as tricritical
    (exponent 1/4); no failure anywhere on the way."""
    s = K.linear_s_tc(8.0) * (1 + rel)
    t = A.transition(L=8, kind="linear", s_qk=0.25, s_uv=s / 0.25)
    assert t.converged
    if rel <= -1e-4:
        assert t.order == "first"
    elif abs(rel) <= 1e-6:
        assert t.order == "tricritical" and t.exponent == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize("d", [1e-14, 1e-10, 1e-6, 1e-3])
def test_softmax_just_above_the_end_point(d):
    L_c, beta_star = A.critical_end_point(**REF, fit_exponents=False)
    t = A.transition(L=L_c + d, **REF)
    assert t.converged and t.order in ("critical", "first")
    assert t.beta_c == pytest.approx(beta_star, rel=1e-3)
    pd = A.phase_diagram(np.linspace(1, 20, 12), [L_c + d], **REF)
    assert pd.converged and not np.any(np.isnan(pd.c.values))


def test_out_of_range_requests_raise():
    with pytest.raises(ValueError, match="beta"):
        A.solve(1e8, kind="linear", L=8, **REF, init="copy")
    with pytest.raises(ValueError, match="bracket"):
        A.critical_end_point(**REF, bracket=(1.0, 64.0))
    with pytest.raises(ValueError, match="Ls"):
        A.phase_diagram([1.0, 2.0], [], **REF)


def test_linear_map_switch_against_a_brute_force_scan():
    m = A.map_transition(L=2, kind="linear", s_qk=0.01, s_uv=0.1)
    # independent: phi(kappa) = min_g f_MAP on a dense grid of (kappa, g), global switch in beta
    ks = np.linspace(1e-4, 1.0, 2001)[:, None]
    gs = np.linspace(0.0, 40.0, 4001)[None, :]

    def gap(beta):
        f = 2 * ks / 0.01 + gs / 0.1 + beta * (1 - gs * ks) ** 2
        return f.min() - beta
    assert gap(m.beta_switch * 0.99) > 0 > gap(m.beta_switch * 1.01)


def test_jump_and_spinodal_width_vanish_at_the_end_point_with_mean_field_exponents():
    """Spec §5.3: Delta c ~ (L - L_c)^(1/2) and beta_sp^+ - beta_sp^- ~ (L - L_c)^(3/2), checked on
    local log-log slopes over L - L_c = 1e-1 .. 1e-4 (independently of critical_end_point's fit)."""
    L_c, _ = A.critical_end_point(**REF, fit_exponents=False)
    d = np.logspace(-1, -4, 7)                       # towards the end point
    ts = [A.transition(L=L_c + di, **REF) for di in d]
    jumps = np.array([t.jump[0] for t in ts])
    widths = np.array([t.beta_spinodal[1] - t.beta_spinodal[0] for t in ts])
    assert np.all(np.diff(jumps) < 0) and jumps[2] < 0.05
    assert_power_law(d, jumps, 0.5, atol=0.01, window=d.size, monotone=True)
    assert_power_law(d, widths, 1.5, atol=0.01, window=d.size, monotone=True)


@pytest.mark.parametrize("s_uv,observable,exponent", [(9.0, "kappa", 0.5), (9.0, "w", 1.0),
                                                      ("tricritical", "kappa", 0.25)])
def test_linear_pitchfork_exponents_from_the_solver(s_uv, observable, exponent):
    """Spec §4: above the continuous pitchfork kappa ~ ((beta - beta_c)/B2)^(1/2) and w = g kappa ~
    beta - beta_c (mean field); at the tricritical point kappa ~ (beta - beta_c)^(1/4).  Local slopes
    of the minima found by ``solve`` (not the exponent ``transition`` fits) within 1e-3 over
    (beta - beta_c)/beta_c = 1e-4 .. 1e-8, converging monotonically."""
    if s_uv == "tricritical":
        s_uv = K.linear_s_tc(8.0) / REF["s_qk"]
    p = dict(L=8, kind="linear", s_qk=REF["s_qk"], s_uv=s_uv)
    bc = A.transition(**p).beta_c
    d = np.logspace(-4, -8, 5)
    rs = [A.solve(bc * (1 + di), **p, init="copy") for di in d]
    assert all(r.converged and r.stable for r in rs)
    r = assert_power_law(d, [getattr(r, observable) for r in rs], exponent, atol=1e-3, window=d.size,
                         monotone=True)
    if exponent == 0.5:   # the prefactor of the pitchfork law: kappa ~ (beta_c d / B2)^(1/2)
        assert r.prefactor == pytest.approx((bc / A.transition(**p).B2) ** 0.5, rel=1e-3)


def test_phase_diagram_labelled_and_saved_atomically(tmp_path):
    pd = A.phase_diagram(np.linspace(1, 30, 25), [4, 8, 12], **REF)
    assert pd.converged and not np.any(np.isnan(pd.c))
    assert list(flag_labels(pd.order).values) == ["crossover", "first", "first"]
    assert float(pd.beta_c[1]) == pytest.approx(A.transition(L=8, **REF).beta_c, rel=1e-12)
    # equilibrium c jumps across beta_c at L = 8, and there are metastable minima inside the window
    row = pd.c.values[1]
    assert np.all(np.diff(row) > 0)
    inside = (pd.beta.values > float(pd.beta_sp_lo[1])) & (pd.beta.values < float(pd.beta_sp_hi[1]))
    assert np.all(np.isfinite(pd.c_metastable.values[1][inside]))
    path = save_dataset(pd, tmp_path / "pd.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pd.nc"]     # no temporary left behind
    back = load_dataset(path)
    xr.testing.assert_identical(back, pd)
    np.testing.assert_array_equal(back.c, pd.c)
    # typed parameters: s_uv = 9.0 stays the float 9.0 (it used to come back as the string '9.0')
    assert back.attrs == pd.attrs == dict(kind="softmax", varied="L", s_uv=9.0, s_qk=0.25, residual_tol=1e-10,
                                          converged=True, title=pd.attrs["title"])
    assert [type(back.attrs[k]) for k in ("s_uv", "s_qk", "converged", "kind")] == [float, float, bool, str]
    assert back.order.dtype == np.int8 and list(flag_labels(back.order).values) == ["crossover", "first", "first"]


def test_phase_diagram_selects_and_plots_by_name():
    """``pd.c.sel(L=8, beta=13, method='nearest')`` is the solver's state at the nearest grid point, on
    the branch the diagram says is the global minimum; ``pd.c.plot()`` labels its axes from the CF
    attributes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pd = A.phase_diagram(np.linspace(1, 30, 25), [4, 8, 12], **REF)
    pt = pd.c.sel(L=8, beta=13, method="nearest")
    beta = float(pt.beta)
    assert beta == pytest.approx(1 + 10 * 29 / 24) and float(pt.L) == 8.0
    branch = str(flag_labels(pd.branch).sel(L=8, beta=13, method="nearest").values)
    assert branch == ("copy" if beta > A.transition(L=8, **REF).beta_c else "uniform")
    r = A.solve(beta, L=8, **REF, init="copy" if branch == "copy" else "uniform")
    assert float(pt) == pytest.approx(r.c, rel=1e-9)
    assert float(pd.w.sel(L=8, beta=13, method="nearest")) == pytest.approx(r.w, rel=1e-9)
    labels = flag_labels(pd.branch).values
    below = pd.beta.values[None, :] < pd.beta_c.values[:, None]
    assert np.all(labels[1:][below[1:]] == "uniform") and np.all(labels[1:][~below[1:]] == "copy")
    assert np.all(labels[0] == "crossover")
    mesh = pd.c.plot()
    ax = mesh.axes
    assert ax.get_xlabel().startswith("amount of data beta") and ax.get_ylabel().startswith("sequence length")
    np.testing.assert_array_equal(mesh.get_array().reshape(3, 25), pd.c.values)
    plt.close(ax.figure)


def test_phase_diagram_linear_and_vary_s_qk_are_labelled():
    """Linear kind: order flags match ``transition``; w on the grid is the solver's w (g c).  Varying
    s_qk: the dimension is named s_qk and L becomes a typed (float) attribute."""
    lin = A.phase_diagram(np.linspace(0.05, 1.0, 9), [4, 8], kind="linear", **REF)
    assert list(flag_labels(lin.order).values) == [A.transition(L=L, kind="linear", **REF).order for L in (4, 8)]
    for b in (0.05, 0.5, 1.0):
        pt = lin.w.sel(L=8, beta=b, method="nearest")
        r = A.solve(float(pt.beta), L=8, kind="linear", **REF, init="copy")
        assert float(pt) == pytest.approx(r.w, rel=1e-9, abs=1e-14)
    assert set(flag_labels(lin.branch).values.ravel()) <= {"trivial", "copy"}
    sq = A.phase_diagram([5.0, 13.0], [0.2, 0.25], vary="s_qk", L=8, s_qk=0.25, s_uv=9.0)
    assert sq.c.dims == ("s_qk", "beta") and sq.attrs["L"] == 8.0 and type(sq.attrs["L"]) is float
    assert "s_qk" not in sq.attrs and sq.attrs["varied"] == "s_qk"
    assert float(sq.c.sel(s_qk=0.25, beta=13.0)) == pytest.approx(A.solve(13.0, L=8, **REF, init="copy").c,
                                                                  rel=1e-9)


@pytest.mark.parametrize("kind,beta", [("softmax", 12.9682), ("softmax", 14.35), ("linear", 0.5)])
def test_every_full_minimum_is_a_copy_ansatz_minimum(kind, beta):
    """Spec §5.5 through the public API: uniform, copy and 6 random starts over all L^2 + 1 variables."""
    r = A.check_copy_ansatz(beta, L=8, kind=kind, **REF, n_random=6, seed=1)
    assert r.n_converged >= 7 and r.all_on_ansatz
    assert r.max_free_energy_gap < 1e-9 and r.max_row_spread < 1e-9


def test_solve_full_from_the_copy_branch_stays_on_it():
    red = A.solve(13.5, L=8, **REF, init="copy")
    full = A.solve_full(13.5, L=8, **REF, init="copy")
    assert full.converged and full.min_hessian_eig > 0
    assert (full.c, full.g, full.eps) == pytest.approx((red.c, red.g, red.eps), abs=1e-10)
