"""The one-hot attention copy model (docs/attention_onehot.md): derivation, solvers, anchors, asymptotics.

Reference values (REF: L = 8, V = 4, s_qk = 0.25, s_uv = 9) are the ones of §9, given there to four
decimals; they are compared to half a unit of the last digit (plus rounding of our own value).
"""

import doctest
import itertools
import math

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import brentq, minimize, minimize_scalar

from grokphase.numerics import attention_onehot as N
from grokphase.numerics import attention_onehot_codegen as CG
from grokphase.numerics.attention_phase_diagram import critical_end_point
from grokphase.numerics.attention_transition import analyse_softmax
from grokphase.testing import assert_ratio_tends_to, assert_tends_to
from grokphase.theory import attention_copy as TG
from grokphase.theory import attention_onehot as T

S = T.symbols()
k, a, g, m, beta, L, V, sqk, suv = (S[n] for n in ("kappa", "a", "g", "m", "beta", "L", "V", "s_qk", "s_uv"))
REF = dict(L=8, V=4, s_qk=0.25, s_uv=9.0)
ANCHOR = 5e-5 + 1e-12   # half a unit of the fourth decimal


def close4(value, ref):
    return abs(value - ref) <= ANCHOR


# --------------------------------------------------------------------------- derivation (theory module)

def test_doctests():
    assert doctest.testmod(T).failed == 0


def _rational_matrix(rng, n, q=7):
    return sp.Matrix(n, n, lambda i, j: sp.Rational(int(rng.integers(-q, q + 1)), int(rng.integers(1, q + 1))))


@pytest.mark.parametrize("LV", [(2, 2), (3, 2), (2, 3), (3, 3), (4, 2)])
def test_population_loss_closed_form_equals_enumeration(LV):
    """§3: the row formula against all V^L sequences, exactly, for random rational A and W."""
    Lv, Vv = LV
    rng = np.random.default_rng(Lv * 10 + Vv)
    for _ in range(3):
        A, W = _rational_matrix(rng, Lv), _rational_matrix(rng, Vv)
        assert T.population_loss_enumerated(A, W) == T.population_loss_rows(A, W)


def test_population_loss_symbolic_at_L2_V2():
    A = sp.Matrix(2, 2, sp.symbols("A0:4", real=True))
    W = sp.Matrix(2, 2, sp.symbols("W0:4", real=True))
    assert sp.expand(T.population_loss_enumerated(A, W) - T.population_loss_rows(A, W)) == 0


def test_token_moments_by_enumeration():
    Vv = 3
    tokens = [sp.Matrix(Vv, 1, lambda i, _j, t=t: int(i == t)) for t in range(Vv)]
    same = sum((x * x.T for x in tokens), sp.zeros(Vv, Vv)) / Vv
    diff = sum((x * y.T for x, y in itertools.product(tokens, tokens)), sp.zeros(Vv, Vv)) / Vv**2
    assert same == T.token_pair_moment(Vv, True) and diff == T.token_pair_moment(Vv, False)


@pytest.mark.parametrize("kind,LV", [("softmax", (3, 3)), ("softmax", (4, 2)), ("linear", (4, 3)), ("linear", (3, 5))])
def test_loss_on_ansatz(kind, LV):
    """§5/§6 reduced losses = the §3 row formula on the §4 ansatz (numerically at 40 digits)."""
    Lv, Vv = LV
    rows = T.loss_on_ansatz_from_rows(kind, Lv, Vv)
    closed = T.loss_on_ansatz(kind).subs({L: Lv, V: Vv})
    rng = np.random.default_rng(1)
    for _ in range(4):
        point = {x: sp.Rational(int(rng.integers(-20, 21)), 7) for x in (k, a, g, m)}
        assert abs(sp.N((rows - closed).subs(point), 40)) < 1e-30


def test_ansatz_singular_values():
    sv = T.ansatz_singular_values(T.value_path_ansatz(sp.Integer(3), sp.Integer(-2), 4))
    assert sorted(sv) == [2, 3, 3, 3]
    sv = T.ansatz_singular_values(T.linear_score_ansatz(sp.Rational(5, 2), sp.Integer(-1), 5))
    assert sorted(sv) == [1] + [sp.Rational(5, 2)] * 4


def test_softmax_split_and_gaussian_token_map():
    for prior in T.PRIORS:
        f = T.free_energy("softmax", prior)
        assert sp.simplify(T.softmax_copy_part(prior) + T.softmax_mean_part() - f) == 0
        assert sp.simplify(T.softmax_copy_part(prior) / (V - 1) - T.softmax_generalised_gaussian_form(prior)) == 0
    assert T.softmax_v2_minus_gaussian_tokens() == 0


def test_linear_hessian_and_beta_c():
    H = T.linear_hessian_at_origin()
    assert H[0, 2] == -beta * (L - 1) * (V - 1) / V and sp.simplify(H[1, 3] + beta * L / V) == 0
    assert sp.simplify(H - T.linear_hessian_at_origin("gaussian")) == sp.zeros(4, 4)
    roots = T.linear_beta_c_from_det()
    bc = T.linear_beta_c()
    for Lv, Vv, a_, b_ in [(8, 4, 0.25, 9), (3, 7, 1, 1), (100, 2, 0.5, 3), (2, 50, 2, 0.1)]:
        sub = {L: Lv, V: Vv, sqk: a_, suv: b_}
        vals = sorted(float(sp.N(r.subs(sub), 30)) for r in roots)
        assert vals[0] == pytest.approx(float(sp.N(bc.subs(sub), 30)), rel=1e-14)
        # det H changes sign at beta_c: the origin loses stability there
        Hn = np.array(H.subs(sub).subs(beta, vals[0] * (1 - 1e-6)), dtype=float)
        assert np.linalg.eigvalsh(Hn)[0] > 0
        Hn = np.array(H.subs(sub).subs(beta, vals[0] * (1 + 1e-6)), dtype=float)
        assert np.linalg.eigvalsh(Hn)[0] < 0


def test_null_vector_and_quartic_against_direct_series():
    """Q4 and the absent cubic, checked by a series of f_l itself along the null vector (L=8, V=4, REF)."""
    nv = T.linear_null_vector()
    assert nv["last_row"].subs(nv["x"], nv["x_c"]).subs({L: 8, V: 4}).equals(0)
    t = sp.Symbol("t")
    sub = {L: 8, V: 4, sqk: sp.Rational(1, 4), suv: 9}
    u = [sp.Float(sp.N(e.subs(nv["x"], nv["x_c"]).subs(sub), 50), 50) for e in nv["u"]]
    scales = [sqk, sqk, suv, suv]
    for prior in T.PRIORS:
        f = T.free_energy("linear", prior).subs(beta, sp.Float(sp.N(T.linear_beta_c().subs(sub), 50), 50)).subs(sub)
        along = f.subs({x: t * ui * si.subs(sub) for x, ui, si in zip((k, a, g, m), u, scales)})
        along = along.replace(sp.codegen.cfunctions.log1p, lambda z: sp.log(1 + z))
        ser = sp.series(along, t, 0, 5).removeO()
        assert abs(sp.N(ser.coeff(t, 1), 30)) < 1e-25 and abs(sp.N(ser.coeff(t, 2), 30)) < 1e-20
        assert abs(sp.N(ser.coeff(t, 3), 30)) < 1e-25
        Q4 = T.linear_landau_quartic(prior).subs({L: 8, V: 4, sp.Symbol("s", positive=True): sp.Rational(9, 4)})
        assert sp.N(ser.coeff(t, 4) - Q4, 30) == pytest.approx(0, abs=1e-20)
        stc = T.linear_tricritical_s(prior).subs({L: 8, V: 4})
        assert abs(sp.N(T.linear_landau_quartic(prior).subs({L: 8, V: 4}).subs(
            sp.Symbol("s", positive=True), stc), 30)) < 1e-25


def test_generated_kernels_are_current():
    assert CG.TARGET.read_text() == CG.generate_source()


# --------------------------------------------------------------------------- softmax (§5, §9)

@pytest.fixture(scope="module")
def soft_ref():
    return N.softmax_transition(**REF)


def test_softmax_anchors(soft_ref):
    r = soft_ref
    assert r.order == "first" and r.converged
    lo, hi = r.beta_spinodal
    assert close4(lo, 16.3651) and close4(r.beta_c, 17.3121) and close4(hi, 19.0466)
    u, c = r.uniform, r.copy
    assert close4(u.kappa, 0.1789) and close4(u.c, 0.1459) and close4(u.g, 1.1594)
    assert close4(c.kappa, 1.1529) and close4(c.c, 0.3115) and close4(c.g, 1.8868)
    assert close4(r.barrier, 0.4944)
    assert u.free_energy == pytest.approx(c.free_energy, rel=1e-13)
    assert u.min_hessian_eig > 0 and c.min_hessian_eig > 0
    assert r.unstable.min_hessian_eig < 0
    assert abs(u.m - 1) < 1e-3 and u.m == c.m  # the mean gain decouples (m ~ 1)


def _lambdified_softmax(prior="product"):
    f = T.free_energy("softmax", prior).subs({L: REF["L"], V: REF["V"], sqk: REF["s_qk"], suv: REF["s_uv"]})
    return sp.lambdify((k, g, m, beta), f, "numpy")


def test_softmax_states_are_minima_of_the_full_reduced_free_energy(soft_ref):
    """Nelder-Mead on the lambdified f_s(kappa, g, m) (independent of the kernels) from perturbed starts."""
    f = _lambdified_softmax()
    for st in (soft_ref.uniform, soft_ref.copy):
        x0 = np.array([st.kappa, st.g, st.m]) * 1.05
        r = minimize(lambda x: f(*x, st.beta), x0, method="Nelder-Mead",
                     options=dict(xatol=1e-10, fatol=1e-14, maxiter=20000))
        assert np.allclose(r.x, [st.kappa, st.g, st.m], atol=1e-6)
        assert r.fun == pytest.approx(st.free_energy, rel=1e-12)


def test_softmax_v2_equals_gaussian_tokens_at_half_beta():
    """§5: V = 2 is the Gaussian-token model at beta/2: the two solvers agree to rounding."""
    for Lv in (8.0, 16.0):
        r = N.softmax_transition(Lv, 2, 0.25, 9.0)
        q = analyse_softmax(Lv, 0.25, 9.0)
        assert r.beta_c / 2 == pytest.approx(q.beta_c, rel=1e-11)
        assert np.allclose(np.array(r.beta_spinodal) / 2, q.beta_spinodal, rtol=1e-11)
        for ours, theirs in ((r.uniform, q.uniform), (r.copy, q.copy)):
            assert ours.kappa == pytest.approx(theirs.kappa, rel=1e-9)
            assert ours.g == pytest.approx(theirs.g, rel=1e-9)
        assert r.barrier == pytest.approx(q.barrier, rel=1e-9)
    e = N.softmax_end_point(2, 0.25, 9.0)
    c = critical_end_point("L", 8.0, 0.25, 9.0, (4.0, 8.0), fit_exponents=False)
    assert e.converged and e.value == pytest.approx(c.x_c, rel=1e-8)
    assert e.beta / 2 == pytest.approx(c.beta_star, rel=1e-6)


def test_softmax_end_point_versus_V():
    """L_c(V) at REF priors: a critical end point for every V, first order above, crossover below."""
    for Vv in (3.0, 4.0, 16.0):
        e = N.softmax_end_point(Vv, 0.25, 9.0)
        assert e.converged and 5.0 < e.value < 6.0
        assert N.softmax_transition(e.value * 1.02, Vv, 0.25, 9.0).order == "first"
        assert N.softmax_transition(e.value * 0.98, Vv, 0.25, 9.0).order == "crossover"


def test_softmax_precursor_measures(soft_ref):
    """§5 'no precursor': L c on the metastable uniform branch stays near 1 up to beta_c."""
    p = soft_ref.precursor
    assert 1.0 < p["Lc_half"] < p["Lc_at_beta_c"] < 1.2
    assert p["stiffness_at_beta_c"] > 0 and p["stiffness_half"] > p["stiffness_at_beta_c"]


LS = np.array([1e2, 1e3, 1e4, 1e5, 1e6])


@pytest.fixture(scope="module")
def large_L():
    return {prior: [N.softmax_transition(Lv, 4, 0.25, 9.0, prior) for Lv in LS] for prior in N.PRIORS}


def test_softmax_large_L_product_prior(large_L):
    res = large_L["product"]
    assert all(r.converged and r.order == "first" for r in res)
    bc = np.array([r.beta_c for r in res])
    assert_ratio_tends_to(bc, N.softmax_beta_c_asymptotic(LS, 4, 0.25), rtol=2e-3)
    kap = np.array([r.copy.kappa for r in res])
    assert_ratio_tends_to(kap, N.kappa_star_asymptotic(LS), rtol=0.2, monotone=True)
    assert_ratio_tends_to(kap, N.kappa_star_asymptotic(LS, "refined"), rtol=5e-3, monotone=False)


def test_softmax_large_L_gaussian_prior(large_L):
    res = large_L["gaussian"]
    assert all(r.converged and r.order == "first" for r in res)
    bc = np.array([r.beta_c for r in res])
    # leading law: the ratio decreases towards 1 only slowly (ln ln L corrections)
    ratio = bc / N.softmax_beta_c_asymptotic(LS, 4, 0.25, "gaussian")
    assert np.all(np.diff(ratio) < 0) and ratio[-1] > 1
    assert_ratio_tends_to(bc, N.softmax_beta_c_asymptotic(LS, 4, 0.25, "gaussian", "refined"), rtol=0.06)
    # P* / (L ln^2 L) = sigma^2 N beta_c / ln^2 L levels off for Gaussian logits (to within the slow
    # corrections above) but keeps falling like 1/ln L for the product prior
    bp = np.array([r.beta_c for r in large_L["product"]])
    flat, falling = bc / np.log(LS) ** 2, bp / np.log(LS) ** 2
    assert flat[-1] / flat[0] > 0.7 and falling[-1] / falling[0] < 0.45


def test_softmax_value_limited_regime():
    """V >> s_uv^2 L h(kappa*): g << 1 and beta_c ~ sqrt(V).  Limit problem (independent, SciPy):
    with g eliminated at small g, f -> (L-1) h(kappa) - (b^2 L^2 s_uv^2 / 2) c(kappa)^2 with beta = b sqrt(V)."""
    Lv, s1, s2 = 8, 0.25, 9.0
    hh = lambda x: (lambda t: t - 1 - np.log(t) / 2)((1 + np.sqrt(1 + 4 * x * x / s1**2)) / 2)  # noqa: E731
    cc = lambda x: 1 / (1 + (Lv - 1) * np.exp(-x))  # noqa: E731
    phi = lambda x, b: (Lv - 1) * hh(x) - b**2 * Lv**2 * s2**2 / 2 * cc(x) ** 2  # noqa: E731

    def gap(b):
        lo = minimize_scalar(lambda x: phi(x, b), bounds=(0, 1.0), method="bounded", options=dict(xatol=1e-12))
        hi = minimize_scalar(lambda x: phi(x, b), bounds=(1.5, 8.0), method="bounded", options=dict(xatol=1e-12))
        return hi.fun - lo.fun

    b_inf = brentq(gap, 0.2, 0.25, xtol=1e-12)
    Vs = np.array([1e5, 1e6, 1e7, 1e8])
    res = [N.softmax_transition(Lv, Vv, s1, s2) for Vv in Vs]
    assert all(r.converged for r in res)
    assert np.all(np.diff([r.copy.g for r in res]) < 0) and res[-1].copy.g < 0.02
    assert_tends_to(np.array([r.beta_c for r in res]) / np.sqrt(Vs), b_inf, rtol=1e-2)


# --------------------------------------------------------------------------- linear attention (§6, §9)

@pytest.fixture(scope="module")
def lin_ref():
    return N.linear_transition(REF["L"], REF["V"], REF["s_qk"], 2.25 / REF["s_qk"])


def test_linear_anchor(lin_ref):
    r = lin_ref
    assert close4(r.beta_c, 0.2151) and r.beta_c == pytest.approx(0.2150643499330544, rel=1e-13)
    assert r.primary_order == "second" and r.s_qk * r.s_uv > r.s_tc
    assert r.secondary == "crossover" and r.converged
    assert r.onset_channel == "mean"
    assert r.beta_c < r.beta_steepest < 3 * r.beta_c and 0 < r.w_c_steepest < 1


def _lambdified_linear(Lv, Vv, s1, s2, prior="product"):
    """f_l and its gradient from SymPy (independent of the generated kernels), as f(x, beta), df(x, beta)."""
    f = T.free_energy("linear", prior).subs({L: Lv, V: Vv, sqk: s1, suv: s2})
    xs = (k, a, g, m)
    fn = sp.lambdify((xs, beta), f, "numpy")
    dfn = sp.lambdify((xs, beta), [sp.diff(f, x) for x in xs], "numpy")
    return fn, (lambda x, b: np.array(dfn(x, b), dtype=float))


def _minimise_linear(fns, x0, b):
    f, df = fns
    return minimize(f, x0, args=(b,), jac=df, method="BFGS", options=dict(gtol=1e-12, maxiter=10000))


@pytest.mark.parametrize("prior", N.PRIORS)
def test_linear_branch_against_direct_minimisation(prior):
    """Points of the traced branch (beta = 1.5 .. 100 beta_c) are minima of the SymPy f_l (BFGS from a
    perturbed start)."""
    fns = _lambdified_linear(8, 4, 0.25, 9.0, prior)
    br = N._Branch(N.PRIOR_CODES[prior], 8.0, 4.0, 0.25, 9.0, 1e3)
    betas = np.exp(br.Xs[:br.n_mono, 4])
    for factor in (1.5, 3.0, 10.0, 100.0):
        i = int(np.searchsorted(betas, factor * br.bc))
        st = br.state(br.gs[i])
        x0 = np.array([st.kappa, st.a, st.g, st.m])
        r = _minimise_linear(fns, x0 * 1.03, st.beta)
        assert np.allclose(r.x, x0, rtol=1e-6, atol=1e-9) and st.min_hessian_eig > 0 and st.converged


@pytest.mark.parametrize("prior", N.PRIORS)
def test_linear_tricritical_point(prior):
    """The primary onset bends forward (beta'(g) > 0) above s_tc and backward below it."""
    Lv, Vv, s1 = 8.0, 4.0, 0.25
    stc = N.linear_s_tc(Lv, Vv, prior)
    for factor, sign in ((1.05, 1), (0.95, -1)):
        br = N._Branch(N.PRIOR_CODES[prior], Lv, Vv, s1, factor * stc / s1, 20.0)
        assert sign * br.dB[5] > 0
    assert N.linear_transition(Lv, Vv, s1, 0.95 * stc / s1, prior).primary_order == "first"


@pytest.mark.parametrize("prior", N.PRIORS)
def test_linear_first_order_onset(prior):
    """s < s_tc: the ordered branch appears at a fold below beta_c and takes over at beta_c1, where its
    free energy equals the origin's beta L / 2 (checked with the SymPy f_l and an independent minimiser)."""
    Lv, Vv, s1 = 8, 4, 0.25
    s2 = 0.75 * N.linear_s_tc(Lv, Vv, prior) / s1
    r = N.linear_transition(Lv, Vv, s1, s2, prior)
    assert r.primary_order == "first" and r.converged
    assert r.beta_spinodal1 < r.beta_c1 < r.beta_c
    st = r.ordered
    fns = _lambdified_linear(Lv, Vv, s1, s2, prior)
    x = np.array([st.kappa, st.a, st.g, st.m])
    assert fns[0](x, st.beta) == pytest.approx(st.beta * Lv / 2, rel=1e-12)
    o = _minimise_linear(fns, x * 1.01, st.beta)
    assert np.allclose(o.x, x, rtol=1e-6, atol=1e-9)
    o = _minimise_linear(fns, 1e-3 * np.ones(4), st.beta)     # the origin is a minimum too (beta < beta_c)
    assert np.abs(o.x).max() < 1e-6


def test_linear_onset_channel():
    assert N.linear_transition(64, 4, 0.25, 9.0).onset_channel == "mean"
    assert N.linear_transition(4, 64, 0.25, 9.0, "gaussian").onset_channel == "copy"


@pytest.fixture(scope="module")
def lin_jump():
    return N.linear_transition(512, 4, 0.25, 9.0)


def test_linear_secondary_jump(lin_jump):
    r = lin_jump
    assert r.secondary == "jump" and r.converged and r.primary_order == "second"
    lo, hi = r.beta_spinodal2
    assert r.beta_c < lo < r.beta_c2 < hi
    assert r.low.free_energy == pytest.approx(r.high.free_energy, rel=1e-12)
    assert r.low.min_hessian_eig > 0 and r.high.min_hessian_eig > 0 and r.jump_w_c > 0.1
    # both coexisting states are minima of the lambdified f_l
    fns = _lambdified_linear(512, 4, 0.25, 9.0)
    for st in (r.low, r.high):
        x0 = np.array([st.kappa, st.a, st.g, st.m])
        o = _minimise_linear(fns, x0 * 1.01, st.beta)
        assert np.allclose(o.x, x0, rtol=1e-6, atol=1e-9)


def test_linear_secondary_end_point():
    e = N.linear_end_point(4, 0.25, 9.0, bracket=(128.0, 512.0))
    assert e.converged and 150 < e.value < 300
    assert N.linear_transition(e.value * 1.05, 4, 0.25, 9.0).secondary == "jump"
    assert N.linear_transition(e.value * 0.95, 4, 0.25, 9.0).secondary == "crossover"


# --------------------------------------------------------------------------- invalid input

@pytest.mark.parametrize("call,name", [
    (lambda: N.softmax_transition(1.0, 4, 0.25, 9.0), "L"),
    (lambda: N.softmax_transition(8, 0.5, 0.25, 9.0), "V"),
    (lambda: N.softmax_transition(8, 4, -0.25, 9.0), "s_qk"),
    (lambda: N.linear_transition(8, 4, 0.25, float("nan")), "s_uv"),
    (lambda: N.linear_transition(8, 4, 0.25, 9.0, prior="flat"), "prior"),
    (lambda: N.linear_s_tc(8, True), "V"),
    (lambda: N.softmax_end_point(4, 0.25, 9.0, bracket=(8.0, 4.0)), "bracket"),
    (lambda: N.softmax_beta_c_asymptotic(100.0, 4, 0.25, form="exact"), "form"),
    (lambda: T.free_energy("quadratic"), "kind"),
    (lambda: T.score_rate(k, sqk, "uniform"), "prior"),
])
def test_invalid_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call()


# --------------------------------------------------------------------------- unrestricted minimisation (§4)

def _h_and_hp(x, s):
    q = np.sqrt(1 + 4 * x * x / (s * s))
    t = (1 + q) / 2
    return t - 1 - 0.5 * np.log(t), x / (s * s * t)


def _rate(M, s):
    U, sig, Vt = np.linalg.svd(M)
    h, hp = _h_and_hp(sig, s)
    return h.sum(), (U * hp) @ Vt


def _full_F(theta, beta, Lv, Vv, s1, s2, kind):
    """F(T, W) of §3 over all L^2 + V^2 entries (NumPy, the §3 row formula, analytic gradient).

    Softmax: A = rowsoftmax(T) with the rate paid on T itself, so minimising over T also minimises
    over the row-shift gauge.  Linear: A = T."""
    T = theta[:Lv * Lv].reshape(Lv, Lv)
    W = theta[Lv * Lv:].reshape(Vv, Vv)
    if kind == "softmax":
        E = np.exp(T - T.max(1, keepdims=True))
        A = E / E.sum(1, keepdims=True)
    else:
        A = T
    prev = (np.arange(Lv), (np.arange(Lv) - 1) % Lv)
    p, ar, r = A[prev], A.sum(1), (A**2).sum(1)
    one = np.ones(Vv)
    W1 = W @ one
    sW = one @ W1
    tau = np.trace(W) / Vv - sW / Vv**2
    phi = (W**2).sum() / Vv - W1 @ W1 / Vv**2
    psi = W1 @ W1 / Vv**2
    loss = np.sum(1 - 2 * p * tau - 2 * ar * sW / Vv**2 + r * phi + ar**2 * psi)
    dA = 2 * A * phi + 2 * (ar * psi - sW / Vv**2)[:, None]
    dA[prev] -= 2 * tau
    dT = A * (dA - (dA * A).sum(1, keepdims=True)) if kind == "softmax" else dA
    J = np.ones((Vv, Vv))
    dW = (-2 * p.sum() * (np.eye(Vv) / Vv - J / Vv**2) - 2 * ar.sum() * J / Vv**2
          + r.sum() * (2 * W / Vv - 2 * np.outer(W1, one) / Vv**2) + (ar**2).sum() * 2 * np.outer(W1, one) / Vv**2)
    rS, gS = _rate(T, s1)
    rW, gW = _rate(W, s2)
    grad = np.concatenate([(gS + beta / 2 * dT).ravel(), (gW + beta / 2 * dW).ravel()])
    return rS + rW + beta / 2 * loss, grad


def _project(theta, Lv, Vv):
    """(kappa, a, g, m) of the nearest ansatz and the max deviation of T (row-centred for softmax
    is not needed: a is returned separately) and W from it."""
    T = theta[:Lv * Lv].reshape(Lv, Lv)
    W = theta[Lv * Lv:].reshape(Vv, Vv)
    Pi = np.array(TG.cyclic_shift(Lv), dtype=float)
    a_ = T.sum() / Lv
    kap = (np.trace(T @ Pi.T) - a_) / (Lv - 1)
    g_ = (np.trace(W) - W.sum() / Vv) / (Vv - 1)
    m_ = W.sum() / Vv
    devT = np.abs(T - kap * (Pi - 1 / Lv) - a_ / Lv).max()
    devW = np.abs(W - g_ * (np.eye(Vv) - 1 / Vv) - m_ / Vv).max()
    return kap, a_, g_, m_, devT, devW


def test_unrestricted_softmax_minima_are_copy_form(soft_ref):
    """§4: minimising over all L^2 + V^2 entries at beta_c (uniform, copy and six random starts)
    reaches only the two copy-form branches of the solver."""
    Lv, Vv = REF["L"], REF["V"]
    r = soft_ref
    Pi = np.array(TG.cyclic_shift(Lv), dtype=float)
    rng = np.random.default_rng(7)
    starts = [np.concatenate([0.01 * rng.normal(size=Lv * Lv), np.eye(Vv).ravel()]),
              np.concatenate([(1.15 * (Pi - 1 / Lv)).ravel(), 1.9 * np.eye(Vv).ravel()])]
    starts += [np.concatenate([rng.normal(size=Lv * Lv), 2 * rng.normal(size=Vv * Vv)]) for _ in range(6)]
    found = set()
    for x0 in starts:
        o = minimize(_full_F, x0, args=(r.beta_c, Lv, Vv, REF["s_qk"], REF["s_uv"], "softmax"), jac=True,
                     method="L-BFGS-B", options=dict(gtol=1e-12, ftol=1e-15, maxiter=20000, maxcor=30))
        kap, _, g_, m_, devT, devW = _project(o.x, Lv, Vv)
        assert devT < 1e-6 and devW < 1e-6
        assert o.fun == pytest.approx(r.uniform.free_energy, rel=1e-11)
        branch = min((r.uniform, r.copy), key=lambda st: abs(st.kappa - kap))
        assert kap == pytest.approx(branch.kappa, abs=1e-6) and g_ == pytest.approx(branch.g, abs=1e-6)
        assert m_ == pytest.approx(branch.m, abs=1e-6)
        found.add(branch is r.copy)
    assert found == {True, False}


def test_unrestricted_linear_minima_are_ansatz_states():
    """§4 (linear): from random starts at 3 beta_c every full minimum has the ansatz form; the lowest
    is the traced branch (up to the Z2 flip), the others the metastable anti-aligned state (w_a < 0,
    §6), which is a stationary point of the reduced f_l (Newton at fixed beta from the projection)."""
    Lv, Vv = REF["L"], REF["V"]
    br = N._Branch(N.PRODUCT, float(Lv), float(Vv), REF["s_qk"], REF["s_uv"], 1e2)
    i = int(np.searchsorted(np.exp(br.Xs[:br.n_mono, 4]), 3 * br.bc))
    st = br.state(br.gs[i])
    rng = np.random.default_rng(3)
    kinds = set()
    for _ in range(8):
        x0 = np.concatenate([0.3 * rng.normal(size=Lv * Lv), 3 * rng.normal(size=Vv * Vv)])
        o = minimize(_full_F, x0, args=(st.beta, Lv, Vv, REF["s_qk"], REF["s_uv"], "linear"), jac=True,
                     method="L-BFGS-B", options=dict(gtol=1e-12, ftol=1e-15, maxiter=20000, maxcor=30))
        kap, a_, g_, m_, devT, devW = _project(o.x, Lv, Vv)
        assert devT < 1e-6 and devW < 2e-5
        w = np.array([g_ * kap, g_ * a_, a_ * m_])
        if o.fun <= st.free_energy * (1 + 1e-11):
            assert o.fun == pytest.approx(st.free_energy, rel=1e-11)
            assert np.allclose(w, [st.w_c, st.w_a, st.w_m], atol=2e-5)
            kinds.add("aligned")
        else:
            assert w[1] < 0
            X, res, _, ok = N.linear_solve_fixed(N.PRODUCT, np.array([kap, a_, g_, m_, math.log(st.beta)]), 4,
                                                 float(Lv), float(Vv), REF["s_qk"], REF["s_uv"], 1e-12, 50)
            assert ok and np.allclose(X[:4], [kap, a_, g_, m_], rtol=1e-4, atol=1e-6)
            x = X[:4].copy()
            assert N.linear_f(N.PRODUCT, x, st.beta, float(Lv), float(Vv), REF["s_qk"], REF["s_uv"]) == \
                pytest.approx(o.fun, rel=1e-11)
            kinds.add("anti-aligned")
    assert "aligned" in kinds


def test_one_list_of_score_priors():
    """The derivation's priors are the solver's and the facade's (the generated kernels are indexed by them)."""
    from grokphase import attention

    assert T.PRIORS == N.PRIORS and attention.SCORE_PRIORS is N.PRIORS
