"""Known cases found by trying the package as a new user would: each one once gave a silent NaN,
a wrong but plausible answer, an internal message or a hang, and is now a clear ValueError naming
the parameter or a finite result.  (Heavier independent checks live with their modules:
tests/validation/test_copy_posterior.py (reduced sampler vs full HMC at N = 16),
tests/test_attention_api.py (linear branch beyond its sampled part), tests/numerics/test_mp_quadrature.py
(late-time edge asymptote), tests/validation/test_optim_and_tasks.py (largest parallelogram packing).)
"""

import contextlib
import io
import math

import numpy as np
import pytest

from grokphase import attention as A
from grokphase.cli import main
from grokphase.linear_vi import LinearVIModel
from grokphase.testing import assert_names_parameter
from grokphase.validation import bayes as B
from grokphase.validation import copy_posterior_means
from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.tasks import make_icl_tasks, modular_dataset

REF = dict(L=8, s_qk=0.25, s_uv=9.0)


def _cli(*argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(list(argv))
        except SystemExit as e:
            rc = e.code
    return rc, err.getvalue()


# ------------------------------------------------------------------ wrong but plausible
def test_non_integer_widths_and_lengths_are_not_truncated():
    msg = assert_names_parameter(lambda: copy_posterior_means(13, N=16.9, L=8), "N")
    assert "16.9" in msg and "no truncation" in msg
    assert_names_parameter(lambda: copy_posterior_means(13, N=16, L=8.5), "L")


def test_modular_split_names_only_train_or_test():
    assert "'train', 'test'" in assert_names_parameter(lambda: modular_dataset(7).split("validation"), "which")


def test_negative_n_ood_is_an_error():
    assert_names_parameter(lambda: make_icl_tasks(7, 2, n_ood=-1), "n_ood")


def test_inapplicable_end_point_option_is_an_error():
    rc, err = _cli("attention", "transition", "--kind", "linear", "--end-point")
    assert rc == 2 and "--end-point" in err


# ------------------------------------------------------------------ internal messages
def test_two_dimensional_betas_in_trace():
    assert "1-d" in assert_names_parameter(lambda: A.trace(np.ones((2, 2)), **REF), "betas")


@pytest.mark.parametrize("fn", [lambda: A.solve(1.0, L=8, s_qk=1e-300, s_uv=9.0),
                                lambda: A.transition(L=8, s_qk=1e-300, s_uv=9.0),
                                lambda: A.transition(L=8, kind="linear", s_qk=1e-300, s_uv=9.0)])
def test_tiny_prior_scale_reports_the_resolved_domain(fn):
    assert "[1e-08, 1e+08]" in assert_names_parameter(fn, "s_qk")


@pytest.mark.parametrize("argv, name", [(("--lam", "1e-300"), "lam"), (("--n-over-sigma2", "1e300"), "n_over_sigma2"),
                                        (("--n-over-sigma2", "1e-300"), "n_over_sigma2")])
def test_linear_vi_cli_extremes_exit_2_with_the_real_domain(argv, name):
    rc, err = _cli("linear-vi", *argv)
    assert rc == 2 and name in err and "Traceback" not in err and "resolved" in err


# ------------------------------------------------------------------ silent NaN
def test_reduced_linear_sampler_below_N_25_is_finite():
    out = copy_posterior_means(0.3, N=16, L=8, kind="linear", sampler="reduced", n_chains=4, n_iter=200)
    w = out["w"]
    assert all(math.isfinite(v) for v in (w.mean, w.se, w.rhat)) and out.acceptance > 0.3


def test_nan_in_ivon_and_swag_is_rejected():
    params = {"w": np.ones(3)}
    opt = B.IVON(params, lr=0.1, ess=10.0)
    opt.perturb(params, np.random.default_rng(0))
    h_before = opt.h["w"].copy()
    assert "grads['w']" in assert_names_parameter(lambda: opt.step(params, {"w": np.array([np.nan, 1.0, 1.0])}),
                                                   "grads")
    assert np.array_equal(opt.h["w"], h_before)            # nothing was updated
    s = B.SWAG(rank=2)
    s.collect({"w": np.ones(3)})
    assert_names_parameter(lambda: s.collect({"w": np.array([1.0, np.nan, 1.0])}), "params")
    assert s.n == 1


@pytest.mark.parametrize("structure", ["full", "kfac"])
def test_laplace_on_nan_or_empty_features(structure):
    W = np.ones((3, 4))
    assert_names_parameter(lambda: B.last_layer_laplace(np.full((5, 3), np.nan), W, 1.0, structure), "features")
    assert_names_parameter(lambda: B.last_layer_laplace(np.zeros((0, 3)), W, 1.0, structure), "features")


def test_transformer_laplace_with_an_all_false_mask():
    m = Transformer(TransformerConfig(vocab_size=8, d_model=8, n_heads=2, d_mlp=8, max_len=4))
    assert_names_parameter(lambda: B.fit_transformer_laplace(m, np.zeros((2, 3), int), np.zeros((2, 3), bool), 1.0),
                           "mask")


def test_uncertainty_of_zero_samples():
    assert "empty" in assert_names_parameter(lambda: B.uncertainty_decomposition(np.zeros((0, 3, 4))), "probs")


# ------------------------------------------------------------------ limits
def test_excess_risk_at_t_1e300_is_finite():
    """It used to hang (the quadrature's truncation point was NaN) and give -inf."""
    le, lg = LinearVIModel(0.6, 5e7).log_excess_risk(1e300)
    assert np.isfinite(le) and np.isfinite(lg)


def test_linear_attention_at_large_prior_scales_and_beta():
    r = A.solve(158.0, L=8, kind="linear", s_qk=1.0, s_uv=6e3, init="copy")
    assert r.converged and r.min_hessian_eig > 0 and 0 < 1 - r.w < 1e-3


def test_icl_task_range_is_the_real_one():
    msg = assert_names_parameter(lambda: make_icl_tasks(7, 11), "n_task")
    assert "[1, 10]" in msg
    assert len(make_icl_tasks(7, 10, seed=5).train_tasks) == 40
