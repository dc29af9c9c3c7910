"""MBAR against an analytic truth, the one-loop basins against the reduced theory, the dynamics'
onset detector, and a tiny umbrella run."""

import math

import numpy as np
import pytest

from grokphase.validation.experiments.attention_dynamics import onset_times
from grokphase.validation.one_loop import GramFreeEnergy, one_loop_shift
from grokphase.validation.umbrella import mbar_free_energies


def test_mbar_recovers_free_energies_of_gaussian_windows(rng):
    """Samples from N(mu_k, 1) written as biased states of a flat reference: u_k(x) = (x - mu_k)^2/2;
    every state has the same normalisation, so all f_k must vanish (within sampling noise ~ 1/sqrt(n))."""
    mu = np.array([0.0, 0.5, 1.0, 1.5])
    n = 4000
    x = np.concatenate([m + rng.standard_normal(n) for m in mu])
    u = 0.5 * (x[None, :] - mu[:, None]) ** 2
    f = mbar_free_energies(u, np.full(4, float(n)))
    assert np.max(np.abs(f)) < 5 / math.sqrt(n)
    # an unsampled state with another normalisation: u_t = x^2 (variance 1/2) has
    # f_t - f_0 = -log(sqrt(pi) / sqrt(2 pi)) = 0.5 log 2 (MBAR estimate from the pooled samples)
    from scipy.special import logsumexp

    log_denom = logsumexp(f[:, None] - u + math.log(n), axis=0)
    f_t = -logsumexp(-x**2 - log_denom)
    assert f_t - f[0] == pytest.approx(0.5 * math.log(2), abs=0.03)


@pytest.mark.parametrize("V", [None, 3])
def test_gram_free_energy_gradient(rng, V):
    Fg = GramFreeEnergy(3, 5.0, 0.25, 9.0, V)
    w = Fg.state_point(0.7, 1.5, 0.9)
    w = w + 0.01 * rng.standard_normal(w.size)
    F, G = Fg.value_grad(w)
    h = 1e-6
    num = [(Fg.value_grad(w + h * e)[0] - Fg.value_grad(w - h * e)[0]) / (2 * h) for e in np.eye(w.size)]
    np.testing.assert_allclose(num, G, atol=1e-7)


def test_gram_point_at_zero_is_the_prior():
    """S = 0, W = 0: Omega = Lam (t = 1), and the loss is L per sequence (both token models)."""
    for V in (None, 4):
        Fg = GramFreeEnergy(5, 2.0, 0.25, 9.0, V)
        O = Fg.omega(Fg.state_point(0.0, 0.0, 0.0))
        np.testing.assert_allclose(O, np.diag(1 / Fg.lam_inv))
        assert Fg.loss(np.zeros((5, 5)), np.zeros((Fg.nv, Fg.nv)))[0] == pytest.approx(5.0)


def test_one_hot_gram_loss_is_the_population_loss(rng):
    """The Gram route's one-hot loss (count-tensor data term at the pair moment) equals the closed
    form l(A, W) of docs/attention_onehot.md §3 (an independent formula) at random S, W."""
    from grokphase.numerics.copy_loss import SOFTMAX, attention_weights
    from grokphase.validation.onehot_attention import population_loss

    Fg = GramFreeEnergy(6, 1.0, 0.25, 9.0, V=5)
    S, W = rng.standard_normal((6, 6)), rng.standard_normal((5, 5))
    A = attention_weights(SOFTMAX, S[None])
    assert Fg.loss(S, W)[0] == pytest.approx(population_loss(A, W[None])[0], rel=1e-12)


def test_one_loop_basins_are_the_reduced_minima():
    r = one_loop_shift()
    for b in ("uniform", "copy"):
        assert abs(r[b]["F_minus_reduced"]) < 1e-9      # Gram-space minimum = reduced free energy (spec §3)
        assert r[b]["min_eig_H"] > 0 and r[b]["grad_norm"] < 1e-8
    # the copy basin is narrower (delta < 0), so finite N needs more data: alpha_c(N) > beta_c
    assert r["delta"] < 0 and r["a1"] > 0
    assert r["a1"] == pytest.approx(13.53, abs=0.05)


def test_one_loop_one_hot_basins_are_the_reduced_minima():
    """One-hot tokens (V = 4, REF): the Gram minima from the §4-form points are the solver's
    states (F - F(Lam) = f to 1e-9, positive definite Hessians over all 300 Gram entries), and the
    shift has the Gaussian-token sign: alpha_c(N) > beta_c."""
    r = one_loop_shift(V=4)
    for b in ("uniform", "copy"):
        assert abs(r[b]["F_minus_reduced"]) < 1e-9
        assert r[b]["min_eig_H"] > 0 and r[b]["grad_norm"] < 1e-8
    assert r["delta"] < 0 and r["a1"] == pytest.approx(19.447, abs=0.01)


def test_onset_detector():
    t = np.linspace(0, 10, 101)
    x = np.vstack([1 / (1 + np.exp(-(t - 4) * 3)), np.full_like(t, 0.1)])
    on = onset_times(t, x)
    assert on[0] == pytest.approx(4.0, abs=0.11) and math.isnan(on[1])


def test_transformer_copy_langevin_learns_the_copy_at_moderate_data():
    """Position-only softmax attention under SGLD with P = 16 sequences attends to the previous
    position (uniform causal attention gives mean A_{l,l-1} = 0.245 for L = 8) and copies."""
    from grokphase.validation.experiments import transformer_copy_langevin as E

    r = E.point(E.CopyLangevin(steps=2000), kind="softmax", P=16, seed=0)
    assert r["c_final"] > 0.5 and r["test_acc"] > 0.9


def test_equilibrium_summary_pools_the_seeds(rng):
    """attention_equilibrium.summarize on synthetic alpha_c(N) = beta_c + a1/N + noise (three seeds,
    one-hot V = 4): the pooled fit uses the seed means and between-seed errors and recovers the
    planted limit and slope; the per-seed fits use the bootstrap errors."""
    import json

    import xarray as xr

    from grokphase.sweep.design import design_config, qualified_name
    from grokphase.validation.experiments import attention_equilibrium as E

    design = E.Equilibrium(V=4.0)
    assert design.V == 4 and isinstance(design.V, int)
    with pytest.raises(ValueError, match="V must be an integer >= 2"):
        E.Equilibrium(V=1)
    Ns = np.array([32, 64, 128, 256])
    beta_c, a1 = 17.3121, 19.45
    ac = beta_c + a1 / Ns[:, None] + 0.02 * rng.standard_normal((4, 3))
    ds = xr.Dataset({"alpha_c": (("N", "seed"), ac), "alpha_c_se": (("N", "seed"), np.full((4, 3), 0.02))},
                    coords={"N": Ns, "seed": [0, 1, 2]},
                    attrs={"design": qualified_name(design), "design_config": json.dumps(design_config(design))})
    r = E.summarize(ds)
    assert float(r.beta_c) == pytest.approx(beta_c, abs=1e-3) and float(r.a1_one_loop) == pytest.approx(a1, abs=0.01)
    np.testing.assert_allclose(r.alpha_c_seed_mean, ac.mean(1))
    np.testing.assert_allclose(r.alpha_c_seed_se, ac.std(1, ddof=1) / np.sqrt(3))
    limit, se = float(r.pooled_alpha_c_extrapolated), float(r.pooled_alpha_c_extrapolated_se)
    assert abs(limit - beta_c) < 4 * se and int(r.pooled_dof) == 2 and 0 < float(r.pooled_p_claim) <= 1
    (slope, icpt), _ = np.polyfit(1 / Ns, ac[:, 1], 1, w=np.full(4, 50.0), cov="unscaled")
    assert float(r.alpha_c_extrapolated.sel(seed=1)) == pytest.approx(icpt, rel=1e-12)
    assert float(r.a1_fit.sel(seed=1)) == pytest.approx(slope, rel=1e-10)
    single = E.summarize(ds.isel(seed=[0]))
    assert "pooled_a1_fit" not in single and single.sizes["seed"] == 1
