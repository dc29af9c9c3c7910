"""Symbolic checks of grokphase.theory.linear_vi: substitute solutions back, take limits."""

import doctest

import sympy as sp

from grokphase.theory import linear_vi as T

S = T.symbols()
lam, Nbar, iota = S["lam"], S["Nbar"], S["iota_p"]
EDGE = T.edge_substitution()


def in_lam(expr):
    """Replace the lower-edge symbol nu_minus by (1 - sqrt lam)^2."""
    return expr.subs(EDGE)


def test_doctests():
    assert doctest.testmod(T).failed == 0


def test_mode_solution_satisfies_odes_and_initial_values():
    assert [sp.simplify(r) for r in T.flow_residuals_mode()] == [0, 0, 0, 0]


def test_matrix_solution_satisfies_odes_2x2():
    r_mu, r_S = T.flow_residuals_matrix_2x2()
    assert r_mu == sp.zeros(2, 1)
    assert r_S == sp.zeros(2, 2)


def test_wrong_solution_is_caught():
    # The check must be able to fail: a covariance relaxing at rate a (not 2a) violates [4].
    mu_t, s_t = T.flow_solution_mode()
    a, t = S["a"], S["t"]
    wrong = s_t.subs(sp.exp(-2 * a * t), sp.exp(-a * t))
    assert sp.simplify(sp.diff(wrong, t) - (2 - 2 * a * wrong)) != 0


def test_general_spectral_risks_equal_matrix_risks_2x2():
    assert T.spectral_risk_identity_2x2() == (0, 0)


def test_theta_substitution_jacobian():
    nu_th, jac, th = T.mp_theta_substitution()
    claimed = 2 / sp.pi * sp.sin(th) ** 2 / nu_th
    for lv in (sp.Rational(1, 5), sp.Rational(3, 5), sp.Rational(99, 100)):
        for tv in (sp.Rational(1, 10), 1, 3):
            val = (jac - claimed).subs({lam: lv, th: tv})
            assert abs(sp.N(val, 30)) < 1e-25


def test_mp_density_normalised_with_unit_mean():
    lo, hi = T.mp_edges()
    p = T.mp_density()
    for lv in (sp.Rational(1, 4), sp.Rational(9, 16)):
        f = sp.lambdify(S["nu"], p.subs(lam, lv), "mpmath")
        import mpmath as mp
        a, b = float(lo.subs(lam, lv)), float(hi.subs(lam, lv))
        assert abs(mp.quad(f, [a, b]) - 1) < 1e-12
        assert abs(mp.quad(lambda v: v * f(v), [a, b]) - 1) < 1e-12


def test_edge_prefactor_ratio_is_inverse_lower_edge():
    assert sp.simplify(T.K_gen() / T.K_emp() - 1 / S["nu_minus"]) == 0
    assert _in_unit_interval(in_lam(T.K_gen() / T.K_emp()) - 1 / T.mp_edges()[0]) == 0
    # K_emp explicitly: C0 lam^{-3/4} / (2 sqrt(pi) (2 Nbar)^{3/2})
    stated = S["C0"] * lam ** sp.Rational(-3, 4) / (2 * sp.sqrt(sp.pi) * (2 * Nbar) ** sp.Rational(3, 2))
    assert sp.simplify(T.K_emp() - stated) == 0


def _in_unit_interval(expr):
    """Max |expr| over a grid of the domain (0 < lam < 1, Nbar > 0, iota >= 0, ...), at 50 digits.

    SymPy cannot cancel log((1 - sqrt lam)^2) - 2 log(1 - sqrt lam) without knowing lam < 1,
    so log identities are checked numerically at high precision instead (returns 0 if < 1e-40).
    """
    others = sorted(expr.free_symbols - {lam}, key=str)
    worst = 0
    for k, lv in enumerate(("0.013", "0.2", "0.5", "0.77", "0.999")):
        vals = {lam: sp.Rational(lv)}
        vals.update({s: sp.Rational(3 + k + j, 7 + j) for j, s in enumerate(others)})
        worst = max(worst, abs(sp.N(expr.subs(vals), 50)))
    return 0 if worst < 1e-40 else worst


def test_delay_equals_stated_formula_80():
    stated = sp.log(1 / (1 - sp.sqrt(lam))) / (Nbar * (1 - sp.sqrt(lam)) ** 2 + iota)
    assert _in_unit_interval(in_lam(T.delay_asymptotic()) - stated) == 0
    # and a wrong formula is caught
    assert _in_unit_interval(in_lam(T.delay_asymptotic()) - stated * 1.01) != 0


def test_delay_limits():
    d = in_lam(T.delay_asymptotic())
    # lam -> 0: no delay, d ~ sqrt(lam) / (Nbar + iota)
    assert sp.limit(d.subs(iota, 0), lam, 0) == 0
    assert sp.simplify(sp.limit(d / sp.sqrt(lam), lam, 0) - 1 / (Nbar + iota)) == 0
    # lam -> 1 with a flat prior: diverges like log(1/(1-sqrt lam))/(Nbar (1-sqrt lam)^2)
    assert sp.limit(d.subs(iota, 0), lam, 1, "-") == sp.oo
    # lam -> 1 with a finite prior: capped near tau^2 log(1/(1 - sqrt lam))
    capped = d / (sp.log(1 / (1 - sp.sqrt(lam))) / iota)
    assert sp.limit(capped, lam, 1, "-") == 1


def test_accuracy_closure_and_levels():
    acc = T.accuracy_closure()
    assert sp.simplify(acc - sp.erf(sp.sqrt(S["eps"] / (4 * S["L"])))) == 0
    # the 95% level is eps/8 and A(eps/8) = erf(sqrt 2)
    assert sp.simplify(T.accuracy_level_for(sp.erf(sp.sqrt(2))) - S["eps"] / 8) == 0
    p_star, level = T.eu_peak_level()
    assert p_star == sp.Rational(1, 2)
    assert abs(float(level) - 1.0990546691588663) < 1e-14
    assert sp.simplify(acc.subs(S["L"], level * S["eps"]) - p_star) == 0


def test_laplace_crossing_time_solves_its_equation():
    K, level = sp.symbols("K level", positive=True)
    t_star = T.laplace_crossing_time(K, level)
    vals = {lam: sp.Rational(3, 5), Nbar: 10**6, iota: 3, K: sp.Rational(1, 10**9), level: sp.Rational(1, 8000)}
    curve = K * T.t ** sp.Rational(-3, 2) * sp.exp(-in_lam(T.kappa()) * T.t)
    ts = sp.N(in_lam(t_star).subs(vals), 40)
    assert abs(sp.N(curve.subs(vals).subs(T.t, ts) / level.subs(vals), 30) - 1) < 1e-25


def test_levi_gd_delay_matches_their_formula():
    expr, eta0 = T.levi_gd_delay()
    theirs = sp.log(1 / (1 - sp.sqrt(lam))) / (2 * eta0 * (1 - sp.sqrt(lam)) ** 2)
    assert _in_unit_interval(in_lam(expr) - theirs) == 0


def test_regression_eu_is_increasing_in_variance():
    expr, v, se2 = T.eu_regression()
    assert sp.simplify(sp.diff(expr, v) - 1 / (2 * (se2 + v))) == 0
