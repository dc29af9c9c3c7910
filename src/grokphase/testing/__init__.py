"""Testing helpers for asymptotic claims: hypothesis strategies for every model, and assertions.

Assertions (NumPy/SciPy only)
-----------------------------
assert_tends_to(values, limit, *, rtol/atol, monotone)     a sequence converges (monotonically)
assert_ratio_tends_to(f, g, limit, *, rtol)                f/g converges
assert_rate(xs, values, limit, order)                      |v - limit| ~ C x^-order, Richardson limit
assert_power_law(xs, ys, exponent)                         y ~ C x^exponent over a reported window
assert_finite_size_scaling(Ns, estimates, stderr, limit)   weighted fit limit + a1/N (+ a2/N^2), chi^2
assert_statistically_equal(sample_or_mean, stderr, value)  Monte-Carlo agreement within z stderr
finite_size_fit(Ns, estimates, stderr, limit)              the same fit, chi^2 and claim test, not asserted

Strategies (need the ``test`` extra: hypothesis; imported on first use)
-----------------------------------------------------------------------
linear VI       aspect_ratios, n_over_sigma2s, prior_precisions, thresholds, linear_vi_models,
                discrete_spectra
attention       attention_kinds, sequence_lengths, prior_scales, attention_params, attention_points,
                near_end_point, near_tricritical (AttentionParams, AttentionPoint)
transformer     transformer_configs, copy_batches, modular_datasets, icl_task_sets,
                transformer_problems (TransformerProblem)
uncertainty     probability_tensors
invalid inputs  non_numbers, invalid_reals, invalid_integers, invalid_choices, invalid_arrays,
                assert_names_parameter (a ValueError whose message names the parameter)

Example::

    import numpy as np
    from hypothesis import given
    from grokphase.testing import aspect_ratios, linear_vi_models, assert_ratio_tends_to

    @given(linear_vi_models(lam=aspect_ratios(0.01, 0.95)))
    def test_late_time_ratio(model):
        # L_gen / L_emp -> (1 - sqrt(lam))^{-2} once x = 2 (n/sigma^2) t >> 1 / min(nu_-, Delta)
        x = np.array([1e2, 1e3, 1e4]) / min(model.spectrum.nu_min, 4 * model.lam ** 0.5)
        log_emp, log_gen = model.log_excess_risk(x / (2 * model.n_over_sigma2))
        assert_ratio_tends_to(np.exp(log_gen - log_emp), np.ones(3),
                              (1 - model.lam ** 0.5) ** -2, rtol=1e-3)
"""

from __future__ import annotations

import importlib

from grokphase.testing.asymptotics import (PowerLawCheck, RateCheck, assert_power_law, assert_rate,
                                           assert_ratio_tends_to, assert_tends_to)
from grokphase.testing.statistics import (FiniteSizeFit, assert_finite_size_scaling, assert_statistically_equal,
                                         finite_size_fit)

_STRATEGIES = {
    "vi_strategies": ("aspect_ratios", "n_over_sigma2s", "prior_precisions", "thresholds", "linear_vi_models",
                  "discrete_spectra"),
    "attention_strategies": ("AttentionParams", "AttentionPoint", "attention_kinds", "sequence_lengths",
                         "prior_scales", "attention_params", "attention_points", "near_end_point",
                         "near_tricritical"),
    "transformer_strategies": ("TransformerProblem", "transformer_configs", "copy_batches", "modular_datasets",
                     "icl_task_sets", "transformer_problems"),
    "probability_strategies": ("probability_tensors",),
    "invalid_strategies": ("non_numbers", "invalid_reals", "invalid_integers", "invalid_choices", "invalid_arrays",
                           "assert_names_parameter"),
}
_WHERE = {name: module for module, names in _STRATEGIES.items() for name in names}

__all__ = ["assert_tends_to", "assert_ratio_tends_to", "assert_rate", "assert_power_law",
           "assert_finite_size_scaling", "assert_statistically_equal", "finite_size_fit", "RateCheck", "PowerLawCheck",
           "FiniteSizeFit", *_WHERE]


def __getattr__(name: str):
    """Strategies load hypothesis only when first asked for."""
    if name in _WHERE:
        return getattr(importlib.import_module(f"grokphase.testing.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'grokphase.testing' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
