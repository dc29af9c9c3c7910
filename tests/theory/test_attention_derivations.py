"""Symbolic checks of grokphase.theory.attention_copy: derivatives, series, limits, integrals."""

import doctest

import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import log1p

from grokphase.numerics import attention_codegen
from grokphase.theory import attention_copy as T

S = T.symbols()
k, g, beta, L, sqk, suv = (S[n] for n in ("kappa", "g", "beta", "L", "s_qk", "s_uv"))
x, s = sp.symbols("x s", positive=True)


def as_log(expr):
    return expr.replace(log1p, lambda a: sp.log(1 + a))


def test_doctests():
    assert doctest.testmod(T).failed == 0


def test_gram_minimisation_gives_the_cramer_rate():
    r = T.gram_rate_2x2()
    A, B, sa, sb, xx, t, ss = r["symbols"]
    # On the ansatz A = s_a^2 t, B = s_b^2 t both stationarity conditions reduce to t^2 - t = x^2/s^2.
    for e in r["on_ansatz"]:
        assert sp.simplify(e.subs(xx, sa * sb * sp.sqrt(t**2 - t))) == 0
    assert sp.simplify(r["h_of_t"] - (t - 1 - sp.log(t) / 2)) == 0
    assert sp.simplify(r["t"] - (1 + sp.sqrt(1 + 4 * xx**2 / ss**2)) / 2) == 0


def test_cramer_rate_forms_and_derivatives():
    h = T.cramer_rate(x, s)
    # h = u - log(1+u)/2 with u = t - 1 exactly; SymPy does not merge the logs, so check u = t - 1
    # symbolically and the full identity numerically at 40 digits.
    u = 2 * x**2 / (s**2 * (1 + sp.sqrt(1 + 4 * x**2 / s**2)))
    t = (1 + sp.sqrt(1 + 4 * x**2 / s**2)) / 2
    assert sp.simplify(u - (t - 1)) == 0
    for xv, sv in [(sp.Rational(1, 1000), 1), (3, sp.Rational(1, 4)), (50, 9)]:
        assert abs(sp.N((as_log(h) - T.cramer_rate_spec_form(x, s)).subs({x: xv, s: sv}), 40)) < 1e-35
    assert sp.simplify(sp.diff(as_log(h), x) - T.cramer_rate_derivative(x, s)) == 0
    assert sp.simplify(sp.diff(T.cramer_rate_derivative(x, s), x) - T.cramer_rate_second_derivative(x, s)) == 0


def test_cramer_rate_series_has_negative_quartic():
    ser = sp.series(as_log(T.cramer_rate(x, s)), x, 0, 7).removeO()
    assert sp.simplify(ser.coeff(x, 2) - 1 / (2 * s**2)) == 0
    assert sp.simplify(ser.coeff(x, 4) + 1 / (4 * s**4)) == 0


def test_cramer_rate_large_x_form():
    diff = as_log(T.cramer_rate(x, s)) - T.cramer_rate_large_x(x, s)
    assert sp.limit(diff.subs(s, 1), x, sp.oo) == 0
    assert sp.limit(diff.subs(s, 3), x, sp.oo) == 0


@pytest.mark.parametrize("n", [3, 4])
def test_population_loss_trace_equals_expectation_and_row_form(n):
    A = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"a{i}{j}", real=True))
    from_def = T.population_loss_matrix(A, g)
    Pi = T.cyclic_shift(n)
    R = Pi - g * A
    assert sp.expand(from_def - (R * R.T).trace()) == 0
    assert sp.expand(from_def - T.population_loss_rows(A, g)) == 0


def test_softmax_copy_ansatz_singular_values_and_weights():
    n = 5
    Sm = T.copy_ansatz_softmax_scores(sp.Symbol("kk", positive=True), n)
    M = (Sm.T * Sm) / sp.Symbol("kk", positive=True) ** 2
    ev = M.eigenvals()
    assert ev == {1: n - 1, 0: 1}
    row = [sp.exp(Sm[1, j]) for j in range(n)]
    c_row = row[0] / sum(row)
    c, d = T.softmax_copy_weight(sp.Symbol("kk", positive=True), n)
    assert sp.simplify(c_row - c) == 0 and sp.simplify(c + d - 1) == 0
    r_row = sum(v**2 for v in row) / sum(row) ** 2
    assert sp.simplify(r_row - T.softmax_row_square_sum(sp.Symbol("kk", positive=True), n)) == 0


@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_gradient_equals_the_spec_saddle_equations(kind):
    for ours, spec in zip(T.gradient(kind), T.saddle_equations_spec(kind)):
        expr = as_log(ours - spec)
        # exact symbolic zero, checked at random rational points too (guards simplify failures)
        vals = {k: sp.Rational(7, 10), g: sp.Rational(13, 10), beta: 3, L: 6, sqk: sp.Rational(1, 3), suv: 2}
        assert abs(sp.N(expr.subs(vals), 30)) < 1e-25
        assert sp.simplify(expr) == 0


def test_linear_pitchfork_closed_forms_match_the_spec():
    sx = sqk * suv
    assert sp.simplify(T.linear_beta_c() - 1 / (sp.sqrt(L) * sx)) == 0
    assert sp.simplify(T.linear_branch_B2() - (2 * sp.sqrt(L) * sx - L - 1) / (2 * sp.sqrt(L) * sqk**3 * suv)) == 0
    assert sp.simplify(T.linear_tricritical_s() - (1 + L) / (2 * sp.sqrt(L))) == 0
    q = T.linear_landau_quartic()
    # proportional to (2 L^{3/2} s - L^2 - L)/4 with a positive factor
    ratio = sp.simplify(q / ((2 * L**sp.Rational(3, 2) * sx - L**2 - L) / 4))
    assert ratio.is_positive
    # the linear f is even under (kappa, g) -> (-kappa, -g) (Z2 of spec §2.1)
    f = T.free_energy("linear")
    assert sp.simplify(as_log(f.subs({k: -k, g: -g}, simultaneous=True) - f)) == 0


def test_linear_kappa_scale_is_the_null_direction_at_the_pitchfork():
    """k0^2 = s_qk/(sqrt(L) s_uv), and (kappa, g) = (k0^2, 1) is annihilated by the Hessian at beta_c."""
    k02 = T.linear_kappa_scale2()
    assert sp.simplify(k02 - sqk / (sp.sqrt(L) * suv)) == 0
    H0 = T.hessian("linear").subs({k: 0, g: 0, beta: T.linear_beta_c()})
    assert sp.simplify(H0 * sp.Matrix([k02, 1])) == sp.zeros(2, 1)


def test_value_path_marginal_closed_form():
    r = T.value_path_marginal()
    assert sp.simplify(r["integral"] / r["closed_form"]) == 1
    assert sp.simplify(r["mean"] - r["mean_spec"]) == 0
    assert sp.simplify(r["variance"] - r["variance_spec"]) == 0


def test_linear_reduced_mode_integral():
    r = T.linear_reduced_mode_factor()
    assert sp.simplify(r["integral"] / r["closed_form"]) == 1


def test_linear_reduced_posterior_w_mean_is_the_score_derivative():
    # E[w | lam, g] = (1/L) sum x_i/(1+x_i): per mode, d/d(e_i^2) of the log factor divided by beta N/2.
    r = T.linear_reduced_mode_factor()
    s_i, e_i, gg, b, N, s_k, lam_i = r["symbols"]
    logf = sp.log(r["closed_form"])
    slope = sp.simplify(sp.diff(logf, e_i) / (b * N * e_i))
    assert sp.simplify(slope - r["x_i"] / (1 + r["x_i"])) == 0
    lp = T.linear_reduced_log_posterior(2)
    assert lp["log_posterior"].has(sp.log(sp.Abs(lp["symbols"][0][0] - lp["symbols"][0][1])))


def test_linear_large_n_form_minimum_equals_kappa_form():
    """Spec §4: min over lam of the keys-integrated form = min over kappa of f_l (+ a constant)."""
    from scipy.optimize import minimize_scalar

    r = T.linear_reduced_large_n()
    lam, s_q, s_k = r["symbols"]
    vals = {L: 8, suv: 9, beta: 0.3, s_q: 0.5, s_k: 0.5}
    F = sp.lambdify((lam, g), as_log(r["F"]).subs(vals), "math")
    fl = sp.lambdify((k, g), as_log(T.free_energy("linear")).subs({**vals, sqk: 0.25}), "math")
    const = 8 * (1 - np.log(0.25)) / 2  # F(s_q^2, 0) - f_l(0, 0)
    for gv in (2.0, 6.0, 10.0):
        a = minimize_scalar(lambda t: F(np.exp(t), gv), bounds=(-10, 5), method="bounded",
                            options={"xatol": 1e-12}).fun
        b = minimize_scalar(lambda kk: fl(kk, gv), bounds=(-1, 1), method="bounded",
                            options={"xatol": 1e-12}).fun
        assert a - const == pytest.approx(b, abs=1e-9)


def test_map_threshold_and_optimal_gain():
    r = T.softmax_map_threshold()
    assert sp.simplify(r["beta_map"] - (L / sqk + 1 / suv)) == 0
    for kind in ("softmax", "linear"):
        gs = T.map_optimal_gain(kind)
        assert sp.simplify(sp.diff(T.map_free_energy(kind), g).subs(g, gs)) == 0


def test_generated_kernels_are_current():
    """The committed Numba file is exactly what the theory generates now (one source of truth)."""
    assert attention_codegen.TARGET.read_text() == attention_codegen.generate_source()
