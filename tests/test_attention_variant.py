"""``attention.Variant``: one object per model variant, accepted by the facade in place of the keywords,
and carrying the variant's theory, kernels, order parameters and finite-N posterior."""

import math

import numpy as np
import pytest

from grokphase import attention as A

REF = dict(s_qk=0.25, s_uv=9.0)


@pytest.mark.parametrize("kw", [dict(kind="softmax"), dict(kind="linear"), dict(kind="softmax", tokens="onehot", V=4),
                                dict(kind="linear", tokens="onehot", V=4),
                                dict(kind="softmax", tokens="onehot", V=4, score_prior="gaussian")])
def test_facade_gives_the_same_results_for_a_variant_and_the_keywords(kw):
    v = A.Variant(**kw)
    t_kw, t_v = A.transition(L=8, **REF, **kw), A.transition(L=8, kind=v, **REF)
    assert t_v == t_kw
    assert A.solve(13.0, L=8, kind=v, **REF, init="copy") == A.solve(13.0, L=8, **REF, **kw, init="copy")


def test_gaussian_token_functions_take_a_gaussian_variant():
    v = A.Variant("linear")
    np.testing.assert_array_equal(A.trace([0.1, 0.3], L=8, kind=v, **REF).branches["copy"]["w"],
                                  A.trace([0.1, 0.3], L=8, kind="linear", **REF).branches["copy"]["w"])
    assert A.map_transition(L=8, kind=A.Variant(), **REF) == A.map_transition(L=8, **REF)
    assert A.solve_full(13.0, L=4, kind=A.Variant(), **REF).free_energy == A.solve_full(13.0, L=4, **REF).free_energy
    with pytest.raises(ValueError, match="kind"):
        A.trace([1.0], L=8, kind=A.Variant(tokens="onehot", V=4), **REF)


def test_end_point_and_phase_diagram_take_a_variant():
    v = A.Variant("softmax", tokens="onehot", V=4)
    e = A.critical_end_point(kind=v, **REF, fit_exponents=False)
    assert e == A.critical_end_point(**REF, tokens="onehot", V=4, fit_exponents=False)
    assert round(e.x_c, 4) == 5.4475                                   # the pinned one-hot anchor
    pd_v = A.phase_diagram([10.0, 20.0], [4.0, 8.0], kind=v, **REF)
    pd_k = A.phase_diagram([10.0, 20.0], [4.0, 8.0], **REF, tokens="onehot", V=4)
    assert pd_v.identical(pd_k)
    pv = A.phase_diagram([10.0, 20.0], [2.0, 4.0], vary="V", kind=A.Variant("softmax", tokens="onehot"), **REF)
    assert np.round(pv.beta_c.values, 4).tolist() == [25.9364, 17.3121]


@pytest.mark.parametrize("make, name", [
    (lambda: A.Variant("cubic"), "kind"),
    (lambda: A.Variant(tokens="binary"), "tokens"),
    (lambda: A.Variant(V=4), "V"),
    (lambda: A.Variant(score_prior="gaussian"), "score_prior"),
    (lambda: A.Variant(tokens="onehot", V=1.0), "V"),
    (lambda: A.transition(L=8, kind=A.Variant(), **REF, tokens="onehot", V=4), "tokens, V, score_prior"),
    (lambda: A.transition(L=8, kind=A.Variant(tokens="onehot"), **REF), "V"),
    (lambda: A.Variant(tokens="onehot", V=4, score_prior="gaussian").finite_n, "score_prior"),
    (lambda: A.Variant(tokens="onehot", V=2.5).finite_n_model(4, 8), "V"),
])
def test_invalid_variants_name_the_parameter(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_variant_carries_its_theory_and_kernels():
    """The generated kernel bundle evaluates the variant's SymPy free energy (Gaussian tokens, §4)."""
    for kind in ("softmax", "linear"):
        v = A.Variant(kind)
        f = v.free_energy()
        at = dict(kappa=1.15, g=1.89, beta=12.97, L=8, s_qk=0.25, s_uv=9.0)
        ref = float(f.subs({s: at[s.name] for s in f.free_symbols}))
        assert getattr(v.kernels, f"{kind}_f")(1.15, 1.89, 12.97, 8.0, 0.25, 9.0) == pytest.approx(ref, rel=1e-12)
        assert v.order_parameters == ("kappa", "g")
    assert A.Variant("linear", tokens="onehot", V=3).order_parameters == ("kappa", "a", "g", "m")


@pytest.mark.parametrize("kw", [dict(), dict(kind="linear"), dict(tokens="onehot", V=3),
                                dict(kind="linear", tokens="onehot", V=3)])
def test_finite_n_energy_of_whitened_data_is_the_population_loss(kw, rng):
    """U(theta) - prior(theta) = P l(theta) / (2 sigma^2) with l = L eps, the population loss per
    sequence read off the observables (an independent route: the observables compute it from A and
    the value path directly)."""
    v = A.Variant(**kw)
    model = v.finite_n_model(4, 6, sigma2=2.0)
    theta = v.finite_n.prior_draw(model, 3, rng)
    P = 30
    U = v.finite_n.neg_log_posterior(model, theta, v.finite_n_data(4, P), with_grad=False)[0]
    U0 = v.finite_n.neg_log_posterior(model, theta, v.finite_n_data(4, 0), with_grad=False)[0]
    eps = v.finite_n.observables(model, theta)["eps"]
    np.testing.assert_allclose(U - U0, P * 4 * eps / (2 * 2.0), rtol=1e-11)
    assert math.isclose(model.s_q**2, 0.25) and set(v.finite_n.OBSERVABLE_NAMES) >= {"c", "g", "eps", "w"}


def test_finite_n_start_sits_on_the_large_n_state(rng):
    """One-hot tokens: the exact ansatz, read back by the observables (kappa_hat, a_hat, g, m)."""
    for kind in ("softmax", "linear"):
        v = A.Variant(kind, tokens="onehot", V=3)
        st = A.solve(40.0 if kind == "softmax" else 2.0, L=4, kind=v, **REF, init="copy")
        model = v.finite_n_model(4, 12)
        o = v.finite_n.observables(model, v.finite_n_start(model, 2, rng, st))
        a = st.a if kind == "linear" else 0.0
        np.testing.assert_allclose(o["kappa_hat"], st.kappa, rtol=1e-10)
        np.testing.assert_allclose(o["g"], st.g, rtol=1e-10)
        np.testing.assert_allclose(o["m"], st.m, rtol=1e-10)
        np.testing.assert_allclose(o["a_hat"], a, atol=1e-10)


def test_copy_profile_is_the_reduced_free_energy():
    v = A.Variant()
    assert v.copy_profile(12.97, 8, 0.25, 9.0)(1.15, 1.89) == v.kernels.softmax_f(1.15, 1.89, 12.97, 8.0, 0.25, 9.0)
    oh = A.Variant(tokens="onehot", V=2)
    # V = 2 one-hot tokens are Gaussian tokens at beta / 2 (copy part; docs/attention_onehot.md §5)
    assert oh.copy_profile(2 * 12.97, 8, 0.25, 9.0)(1.15, 1.89) == pytest.approx(
        v.copy_profile(12.97, 8, 0.25, 9.0)(1.15, 1.89), rel=1e-12)
    with pytest.raises(ValueError, match="kind"):
        A.Variant("linear").copy_profile(1.0, 8, 0.25, 9.0)
