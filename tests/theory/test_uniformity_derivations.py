"""Symbolic checks of grokphase.theory.uniformity: exact arithmetic at small p, and checks that fail
when a derivation is wrong."""

import doctest
import math

import pytest
import sympy as sp

from grokphase.theory import uniformity as T

S = T.symbols()
p, f, A, eta, lam, W, n = (S[k] for k in ("p", "f", "A", "eta", "lam", "W", "n"))


def test_doctests():
    assert doctest.testmod(T).failed == 0


def test_second_difference_eigenvalues_shift_factor_and_periodicity():
    assert T.shift_eigen_residual() == (0, 0, 0)


def test_fourier_orthogonality_is_p_or_zero():
    expr = T.fourier_orthogonality()
    m = next(s for s in expr.free_symbols if s.name == "m")
    assert expr.subs(m, 0) == p
    for P, mv in ((5, 2), (7, 3), (11, 10)):
        assert sp.simplify(expr.subs({p: P, m: mv})) == 0
    assert sp.simplify(expr.subs({p: 7, m: 14})) == 7


@pytest.mark.parametrize("P", [3, 5, 7])
def test_parseval_form_exact_in_the_cyclotomic_field(P):
    assert T.parseval_cyclotomic_residual(P) == 0


def test_parseval_form_needs_the_wrap_around_pair():
    e = sp.symbols("e0:5", real=True)
    assert sp.expand(T.parseval_cyclotomic_residual(5, wrap=False) - 5 * (e[0] - e[4]) ** 2) == 0


def test_parseval_residual_rejects_non_primes():
    with pytest.raises(ValueError, match="p_value"):
        T.parseval_cyclotomic_residual(9)


def test_spectral_weight_symmetric_and_matches_the_shift_factor():
    w = T.adjacent_spectral_weight()
    for P in (5, 7, 13):
        for fv in range(1, P):
            assert sp.simplify(w.subs({p: P, f: fv}) - w.subs({p: P, f: P - fv})) == 0
            omega = sp.exp(2 * sp.pi * sp.I * fv / P)
            shift = sp.N(sp.Abs(1 - omega) ** 2 / P**2, 30)
            assert abs(sp.N(w.subs({p: P, f: fv}), 30) - shift) < 1e-25


def test_mean_from_rms_and_med_boundary_form():
    mu, r, s = T.mean_from_rms()
    ds = [1.0, 2.0, 2.5, 4.0, 0.5]
    m = sum(ds) / 5
    sd = math.sqrt(sum((d - m) ** 2 for d in ds) / 5)
    rms = math.sqrt(sum(d * d for d in ds) / 5)
    assert float(mu.subs({r: rms, s: sd / m})) == pytest.approx(m, rel=1e-14)
    med, (mu_s, da, db) = T.med_boundary_form()
    # p = 5: distances d_0..d_4 (d_4 the wrap-around); MED averages d_0..d_2
    assert float(med.subs({p: 5, mu_s: m, da: ds[3], db: ds[4]})) == pytest.approx(sum(ds[:3]) / 3, rel=1e-14)


@pytest.mark.parametrize("K,m", [(1, 1), (2, 1), (2, 3)])
def test_clock_norms_and_distances_closed_forms(K, m):
    amps, _, _ = T._plane_symbols(K)
    assert sp.simplify(T.clock_norm2(K) - sum(a**2 for a in amps)) == 0
    d = T.clock_distance2(K, m)
    assert S["t"] not in d.free_symbols
    assert sp.simplify((d - T.clock_distance2_closed(K, m)).rewrite(sp.exp)) == 0


def test_clock_distance_closed_form_can_fail():
    # a wrong claim (sin^2(2 pi k/p) instead of sin^2(pi k/p)) is caught
    amps, freqs, _ = T._plane_symbols(1)
    wrong = 4 * amps[0] ** 2 * sp.sin(2 * sp.pi * freqs[0] / p) ** 2
    assert sp.simplify((T.clock_distance2(1, 1) - wrong).rewrite(sp.exp)) != 0


def test_clock_power_is_consistent_with_the_parseval_form():
    K = 3
    amps, freqs, _ = T._plane_symbols(K)
    w = T.adjacent_spectral_weight()
    via_spectrum = sum(w.subs(f, kj) * P for kj, P in zip(freqs, T.clock_merged_power(K)))
    assert sp.simplify(via_spectrum - T.clock_distance2_closed(K, 1)) == 0


def test_quadratic_network_phase_free_harmonic():
    h = T.quadratic_neuron_harmonics()
    ta, tb, tc = sp.symbols("theta_a theta_b theta_c", real=True)
    assert sp.simplify((h[(0, 0)] - A**3 / 2 * sp.cos(ta + tb - tc)).rewrite(sp.exp)) == 0
    assert set(h) == {(0, 0), (1, 1), (-1, -1), (3, 1), (-3, -1), (1, 3), (-1, -3), (1, -1), (-1, 1),
                      (2, 2), (-2, -2), (2, 0), (-2, 0), (0, 2), (0, -2)}


@pytest.mark.parametrize("m", [3, 4, 5])
def test_quadratic_logit_identity_on_phase_grids(m):
    grid, claim = T.quadratic_logit_identity(m)
    assert sp.simplify((grid - claim).rewrite(sp.exp)) == 0


def test_quadratic_logit_identity_fails_on_the_2x2_grid():
    grid, claim = T.quadratic_logit_identity(2)
    assert sp.simplify((grid - claim).rewrite(sp.exp)) != 0


def test_quadratic_grid_logit_by_explicit_phases():
    """Independent of the harmonic bookkeeping: sum the 9 neurons with numeric phases."""
    ta, tb, tc = 0.37, 1.91, -0.52
    Av, m = 0.8, 3
    total = 0.0
    for j1 in range(m):
        for j2 in range(m):
            p1, p2 = 2 * math.pi * j1 / m, 2 * math.pi * j2 / m
            U, V = Av * math.cos(ta + p1), Av * math.cos(tb + p2)
            total += Av * math.cos(tc + p1 + p2) * (U + V) ** 2
    grid = T.quadratic_grid_logit(m)
    sym = {s.name: s for s in grid.free_symbols}
    val = float(grid.subs({sym["theta_a"]: ta, sym["theta_b"]: tb, sym["theta_c"]: tc, sym["A"]: Av}))
    assert val == pytest.approx(total, rel=1e-12)
    assert val == pytest.approx(m**2 * Av**3 / 2 * math.cos(ta + tb - tc), rel=1e-12)


def test_quadratic_first_layer_gram_is_a_clock_gram():
    ta, tb = sp.symbols("theta_a theta_b", real=True)
    assert sp.simplify((T.quadratic_grid_gram(3) - sp.Rational(9, 2) * A**2 * sp.cos(ta - tb)).rewrite(sp.exp)) == 0
    assert sp.simplify((T.quadratic_grid_gram(2) - 2 * A**2 * sp.cos(ta - tb)).rewrite(sp.exp)) != 0


def test_quadratic_argmax_is_the_sum_mod_p():
    """sum_k cos(w_k (a + b - c)) over any non-empty frequency set peaks only at c = a + b (p prime)."""
    P = 11
    grid, _ = T.quadratic_logit_identity(3)
    for freqs in ((1,), (2, 5), (1, 3, 4)):
        a, b = 4, 9
        vals = []
        for c in range(P):
            z = sum(grid.subs(T.theta_substitution(kk, a, b, c)).subs({A: 1, p: P}) for kk in freqs)
            vals.append(float(z))
        assert max(range(P), key=vals.__getitem__) == (a + b) % P
        assert sorted(vals)[-1] - sorted(vals)[-2] > 1e-3


def test_untrained_row_factor_exact_rationals():
    F = T.untrained_row_factor()
    ev, lv, Wv = sp.Rational(1, 10), sp.Rational(3, 2), 4
    direct = sp.Integer(1)
    for nv in range(0, 12):
        got = sp.nsimplify(F.subs({eta: ev, lam: lv, W: Wv, n: nv}))
        assert sp.simplify(got - direct) == 0, nv
        mult = sp.Min(sp.Rational(nv, Wv), 1)
        direct *= 1 - ev * lv * mult
    F0 = T.untrained_row_factor(warmup=False)
    assert F0.subs({eta: ev, lam: lv, n: 5}) == (1 - ev * lv) ** 5


def test_untrained_row_first_order_is_the_linear_term():
    eps = sp.Symbol("eps", positive=True)
    for Wv, nv in ((4, 10), (10, 37)):
        F = T.untrained_row_factor().subs({W: Wv, n: nv, lam: 1, eta: eps})
        poly = sp.Poly(sp.expand(sp.simplify(sp.expand_func(F))), eps)   # a polynomial in eta, F(0) = 1
        assert poly.coeff_monomial(1) == 1
        slope = poly.coeff_monomial(eps)                                 # d log F / d eta at eta = 0
        first = sp.diff(T.untrained_row_first_order().subs({W: Wv, n: nv, lam: 1, eta: eps}), eps)
        assert sp.simplify(slope - first) == 0


@pytest.mark.parametrize("kv,expected", [(40, 0.396), (50, 0.249), (60, 0.116), (67, 0.118)])
def test_strip_ceiling_reproduces_the_spec_numbers(kv, expected):
    ceil, (kk, d, ntr) = T.strip_ceiling()
    val = float(ceil.subs({p: 97, kk: kv, d: 60, ntr: math.floor(0.3 * 97**2)}))
    assert val == pytest.approx(expected, abs=6e-4)
    assert float(ceil.subs({p: 97, kk: kv, d: 0, ntr: 2822})) == 1.0
    col, _ = T.strip_collapsed_ceiling()
    assert float(col.subs({p: 97, kk: kv, d: 60, ntr: 2822})) > val
