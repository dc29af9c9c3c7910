"""The finite-N one-hot experiment (validation/experiments/attention_onehot_finite_n.py) through
grokphase.sweep: a tiny fast run, and the acceptance runs of the presets (slow)."""

import numpy as np
import pytest

from grokphase.results import flag_labels
from grokphase.sweep import Plan
from grokphase.validation.experiments import attention_onehot_finite_n as E
from grokphase.validation.experiments import presets


def test_theory_states_are_the_anchor_branches():
    """At beta_c of REF both branches are stable, with the anchor values of the spec (§9)."""
    st = E.theory_states(E.OneHotFiniteN(), 17.3121)
    assert set(st) == {"uniform", "copy"}
    assert st["uniform"].kappa == pytest.approx(0.1789, abs=2e-4) and st["copy"].c == pytest.approx(0.3115, abs=2e-4)
    assert set(E.theory_states(E.OneHotFiniteN(), 21.0)) == {"copy"}
    lin = E.OneHotFiniteN(kind="linear", sigma2=10.0)
    assert set(E.theory_states(lin, 0.1)) == {"origin"} and set(E.theory_states(lin, 0.5)) == {"ordered"}


def test_tiny_sweep_far_from_the_transition(tmp_path):
    """N = 24, one beta on each side of the coexistence window, each from the start of the other
    branch (zipped beta/start): the chains relax to the only stable state, c within 0.02 of its
    large-N value (measured shift ~5e-3 at N = 24)."""
    p = presets.plan("onehot-hysteresis", overrides=["N=[24]", "beta=[12.0, 26.0]", 'start=["copy", "uniform"]',
                                                     "n_iter=600", "chains_per=2"])
    p = Plan(p.point, p.design, p.axes, zipped=("beta", "start"))
    ds = p.run(store=tmp_path, progress=False).isel(N=0, seed=0)
    labels = flag_labels(ds.branch)
    assert list(labels.values) == ["uniform", "copy"]
    np.testing.assert_allclose(ds.c.values, ds.c_theory.values, atol=0.02)
    assert (ds.c_rhat < 1.3).all()


def test_design_validates():
    with pytest.raises(ValueError, match="kind"):
        E.OneHotFiniteN(kind="relu")
    with pytest.raises(ValueError, match="start"):
        E.point(E.OneHotFiniteN(n_iter=20, chains_per=2), 8, 1.0, "middle", 0)


@pytest.mark.slow
def test_softmax_branch_means_approach_theory_with_both_branches_coexisting(tmp_path):
    """Preset onehot-hysteresis at N = 64, 128, 256: inside the spinodals each start stays on its own
    branch, and the rms |c_HMC - c_theory| falls with N to below 5e-3 at N = 256."""
    ds = presets.plan("onehot-hysteresis", overrides=["N=[64, 128, 256]"]).run(store=tmp_path, progress=False)
    inside = flag_labels(ds.branch).sel(beta=17.3121, N=256).isel(seed=0)
    assert inside.sel(start="uniform").item() == "uniform" and inside.sel(start="copy").item() == "copy"
    rms = E.summarize(ds).rms_dc
    assert float(rms.sel(N=256)) < 0.005 and float(rms.sel(N=256)) < float(rms.sel(N=64))


@pytest.mark.slow
def test_softmax_hysteresis_on_random_data(tmp_path):
    """Preset onehot-hysteresis-random (P random sequences per point) at N = 128, 256: inside the
    spinodals each start stays on its own branch, outside both reach the one stable state, and
    |c_HMC - c_theory| < 0.02 at every point (measured max 0.017 at N = 128, 0.013 at 256, both the
    copy start at beta = 16.8 next to the lower spinodal)."""
    ds = presets.plan("onehot-hysteresis-random", overrides=["N=[128, 256]"]).run(store=tmp_path, progress=False)
    labels = flag_labels(ds.branch).isel(seed=0)
    inside = [16.8, 17.3121, 18.5]
    assert (labels.sel(beta=inside, start="uniform") == "uniform").all()
    assert (labels.sel(beta=inside, start="copy") == "copy").all()
    assert (labels.sel(beta=15.0) == "uniform").all() and (labels.sel(beta=21.0) == "copy").all()
    assert float(abs(ds.c - ds.c_theory).max()) < 0.02


@pytest.mark.slow
def test_linear_order_parameters_at_n_1024(tmp_path):
    """Preset onehot-linear at N = 512, 1024 above the onset: the deviations from the large-N state
    shrink like 1/N (measured at beta = 0.5: w_c 0.24, 0.33 at N = 128, 512 against 0.366), so
    the 1/N (Richardson) extrapolation from (512, 1024) is within 2% and N = 1024 within 6%."""
    ds = presets.plan("onehot-linear", overrides=["N=[512, 1024]", "beta=[0.5, 1.0]"]).run(store=tmp_path,
                                                                                            progress=False)
    r = ds.isel(seed=0, start=0)
    for o in ("w_c", "w_a", "w_m"):
        x, ref = r[o], r[o + "_theory"].sel(N=1024)
        assert (r[o + "_rhat"] < 1.1).all()
        np.testing.assert_allclose(x.sel(N=1024).values, ref.values, rtol=0.06)
        extrapolated = 2 * x.sel(N=1024) - x.sel(N=512)
        np.testing.assert_allclose(extrapolated.values, ref.values, rtol=0.02)


def test_onehot_umbrella_curvature_bound_at_v2_is_the_gaussian_one_at_half_beta():
    """§5: at V = 2 the one-hot copy free energy is the Gaussian-token one at beta / 2."""
    from grokphase.validation.umbrella import profile_curvature_bound

    a = profile_curvature_bound(8, 0.25, 9.0, beta=30.0, V=2)
    b = profile_curvature_bound(8, 0.25, 9.0, beta=15.0)
    assert a == pytest.approx(b, rel=1e-6) and a > 0


def test_onehot_umbrella_windows_follow_their_centres():
    from grokphase.validation.umbrella import sample_windows

    run = sample_windows(16, n_iter=200, kappa0=[0.0, 0.6, 1.2], k_b=200.0, V=4, progress=False)
    p = run.posterior
    np.testing.assert_allclose(p.loss.values, 8 * p.eps.values)
    means = p.kappa_hat.mean("draw").values
    assert np.all(np.diff(means) > 0.4) and np.allclose(means, [0.0, 0.6, 1.2], atol=0.1)
    assert {"m", "a_hat"} <= set(p.data_vars)


@pytest.mark.slow
def test_onehot_equal_mass_point_approaches_beta_c():
    """Umbrella + MBAR at N = 32, 64, 128 (V = 4): alpha_c(N) approaches beta_c = 17.3121 and its
    1/N extrapolation lands within 2% of it."""
    from grokphase import attention
    from grokphase.validation.umbrella import equal_mass_point, sample_windows

    Ns = np.array([32, 64, 128])
    ac = np.array([equal_mass_point(sample_windows(int(N), n_iter=1000, V=4, progress=False), n_boot=4)["alpha_c"]
                   for N in Ns])
    beta_c = attention.transition(L=8, s_qk=0.25, s_uv=9.0, tokens="onehot", V=4).beta_c
    assert abs(ac[-1] - beta_c) < abs(ac[0] - beta_c)
    a1, a_inf = np.polyfit(1.0 / Ns, ac, 1)
    assert a_inf == pytest.approx(beta_c, rel=0.02)
