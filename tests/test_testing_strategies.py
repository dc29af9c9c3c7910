"""grokphase.testing's strategies draw what their docstrings promise: valid inputs over the stated
ranges, with the stated placement relative to the transition, and working overrides."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grokphase import attention
from grokphase.numerics._attention_kernels import linear_s_tc
from grokphase.testing import (attention_params, attention_points, copy_batches, icl_task_sets,
                               linear_vi_models, modular_datasets, near_end_point, near_tricritical,
                               probability_tensors, transformer_configs, transformer_problems)
from grokphase.validation import uncertainty_decomposition
from grokphase.validation.nn.transformer import Transformer


@given(attention_params())
def test_attention_params_cover_a_solvable_domain(p):
    assert p.kind in ("softmax", "linear") and 2 <= p.L <= 32
    assert 0.01 <= p.s_qk <= 5 and 0.1 <= p.s_uv <= 100
    t = p.transition()
    assert t.converged and np.isfinite(t.beta_c) and t.beta_c > 0


@given(attention_params(kind="linear", L=st.floats(2, 64), s_qk=0.25))
def test_attention_params_overrides(p):
    assert p.kind == "linear" and p.s_qk == 0.25 and isinstance(p.L, float)
    t = p.transition()
    pitchfork = t.beta_c if t.order == "second" else t.beta_spinodal[1]   # first order: the upper spinodal
    assert pitchfork == pytest.approx(1 / (math.sqrt(p.L) * p.s_qk * p.s_uv), rel=1e-12)


@settings(max_examples=20)
@given(attention_points())
def test_points_relative_to_beta_c(pt):
    assert pt.beta == pytest.approx(pt.transition.beta_c * (1 + pt.offset), rel=1e-15)
    assert -0.5 <= pt.offset <= 0.5


@settings(max_examples=20)
@given(attention_points(anchor="window", offset=st.floats(0.05, 0.95)))
def test_window_points_have_two_coexisting_minima(pt):
    lo, hi = pt.transition.beta_spinodal
    assert pt.transition.order == "first" and lo < pt.beta < hi
    u = attention.solve(pt.beta, **pt.params.kwargs, init="uniform")
    c = attention.solve(pt.beta, **pt.params.kwargs, init="copy")
    assert u.converged and c.converged and u.stable and c.stable and c.kappa > u.kappa


@settings(max_examples=20)
@given(attention_points(anchor="spinodal_hi", offset=st.floats(0.01, 0.05)))
def test_beyond_the_upper_spinodal_only_the_copy_minimum_is_left(pt):
    assert pt.beta > pt.transition.beta_spinodal[1]
    u = attention.solve(pt.beta, **pt.params.kwargs, init="uniform")
    c = attention.solve(pt.beta, **pt.params.kwargs, init="copy")
    assert u.kappa == pytest.approx(c.kappa, rel=1e-8) and c.c > pt.transition.copy.c


@settings(max_examples=20)
@given(near_end_point())
def test_just_above_the_end_point_is_first_order(p):
    t = p.transition()
    assert t.converged and t.order in ("first", "critical")
    L_c, beta_star = attention.critical_end_point(s_qk=p.s_qk, s_uv=p.s_uv, fit_exponents=False)
    assert 0 < p.L / L_c - 1 <= 1.01e-2
    assert t.beta_c == pytest.approx(beta_star, rel=0.05)


@settings(max_examples=20)
@given(near_end_point(side="below", distance=st.floats(1e-4, 1e-2)))
def test_just_below_the_end_point_is_a_crossover(p):
    t = p.transition()
    assert t.converged and t.order == "crossover"


@given(near_tricritical(side="above"), near_tricritical(side="below", distance=st.floats(1e-4, 1e-2)))
def test_near_the_tricritical_point(above, below):
    ta, tb = above.transition(), below.transition()
    assert ta.converged and ta.order in ("second", "tricritical")
    assert tb.converged and tb.order == "first"
    assert above.s_qk * above.s_uv > linear_s_tc(float(above.L))
    assert below.s_qk * below.s_uv < linear_s_tc(float(below.L))


def _raises_value_error(strategy, match=None):
    @settings(max_examples=1)
    @given(st.data())
    def draw(data):
        with pytest.raises(ValueError, match=match):
            data.draw(strategy)
    draw()


def test_attention_strategies_reject_bad_arguments():
    for strategy in (attention_points(anchor="somewhere"), near_end_point(side="left"),
                     near_tricritical(side="left"), attention_points(offset=-2.0)):
        _raises_value_error(strategy)


@given(transformer_problems())
def test_transformer_problems_run_forward_and_backward(pr):
    c = pr.config
    assert c.d_model <= 8 and c.n_layers <= 2 and pr.tokens.shape == pr.targets.shape == pr.mask.shape
    assert pr.tokens.max() < c.vocab_size and pr.tokens.shape[1] <= c.max_len
    assert pr.targets[pr.mask].max() < c.outputs and pr.mask.any()
    loss, grads = Transformer(c).loss_and_grad(pr.tokens, pr.targets, pr.mask)
    assert np.isfinite(loss) and set(grads) == set(Transformer(c).params)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


@given(transformer_configs(d_model=12, rope=True))
def test_transformer_config_overrides_keep_the_constraints(c):
    assert c.d_model == 12 and c.rope and (c.d_model // c.n_heads) % 2 == 0


def test_transformer_strategies_reject_unknown_fields():
    _raises_value_error(transformer_configs(width=3), "unknown")
    _raises_value_error(transformer_problems(vocab_size=3), "fixes")


@given(copy_batches(), modular_datasets(), icl_task_sets())
def test_task_strategies(copy, ds, ts):
    tokens, targets, mask = copy
    assert np.array_equal(targets[:, 1:], tokens[:, :-1]) and not mask[:, 0].any()
    assert ds.train_idx.size >= 1 and ds.test_idx.size >= 1
    assert np.intersect1d(ds.train_idx, ds.test_idx).size == 0
    assert len(ts.train_tasks) % 4 == 0 and len(ts.val_pairs) >= 1 and len(ts.train_pairs) >= 1


@given(probability_tensors())
def test_probability_tensors_are_distributions(p):
    assert p.ndim >= 2 and p.dtype == np.float64 and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=1e-14)
    tu, au, eu = uncertainty_decomposition(p)
    assert np.all(eu >= 0) and np.all(tu <= math.log(p.shape[-1]) + 1e-12)


@given(probability_tensors(classes=6, support=st.integers(2, 4), style="dense"))
def test_probability_tensors_support(p):
    nz = (p > 0).sum(axis=-1)
    assert np.all(nz == nz.flat[0]) and 2 <= nz.flat[0] <= 4


@given(probability_tensors(style="ties"))
def test_probability_tensors_ties(p):
    top = p.max(axis=-1, keepdims=True)
    assert np.all((p == top).sum(axis=-1) >= 2)


@given(probability_tensors(classes=8, style="near_one_hot", support=st.integers(2, 8)))
def test_probability_tensors_near_one_hot(p):
    top = p.max(axis=-1)
    assert np.all(top >= 1 - 1e-3) and np.all(top < 1.0)
    tu, au, eu = uncertainty_decomposition(p)      # entropies of nearly pure rows stay finite, >= 0
    assert np.all(np.isfinite(tu)) and np.all(au >= 0)


def test_probability_tensors_reject_bad_support():
    _raises_value_error(probability_tensors(classes=3, support=5), "support")
    _raises_value_error(probability_tensors(style="ties", support=1), "support")


@given(linear_vi_models(lam=0.5, eps=1e-6))
def test_linear_vi_models_accept_fixed_values(m):
    assert m.lam == 0.5 and m.eps == 1e-6
