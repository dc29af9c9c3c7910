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
    """Preset onehot-hysteresis (N = 64, 128, 256): inside the spinodals each start stays on its own
    branch, and the rms |c_HMC - c_theory| falls with N to below 5e-3 at N = 256."""
    ds = presets.plan("onehot-hysteresis").run(store=tmp_path, progress=False)
    inside = flag_labels(ds.branch).sel(beta=17.3121, N=256).isel(seed=0)
    assert str(inside.sel(start="uniform")) == "uniform" and str(inside.sel(start="copy")) == "copy"
    rms = E.summarize(ds).rms_dc
    assert float(rms.sel(N=256)) < 0.005 and float(rms.sel(N=256)) < float(rms.sel(N=64))


@pytest.mark.slow
def test_linear_order_parameters_at_n_1024(tmp_path):
    """Preset onehot-linear: w_c, w_a, w_m within a few percent of the large-N state at N = 1024."""
    ds = presets.plan("onehot-linear", overrides=["N=[1024]", "beta=[0.5, 1.0]"]).run(store=tmp_path, progress=False)
    r = ds.isel(seed=0, N=0, start=0)
    for o in ("w_c", "w_a", "w_m"):
        np.testing.assert_allclose(r[o].values, r[o + "_theory"].values, rtol=0.05, atol=0.01)
