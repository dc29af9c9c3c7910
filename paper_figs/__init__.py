"""One script per figure; ``grokphase figs`` runs them all.

The registry holds module names and imports on demand, so that ``python -m
grokphase.paper_figs.<name>`` does not import the module twice (runpy warns about that).
"""

from importlib import import_module

FIGURES = ("fig_linear_vi", "fig_attention_branches", "fig_attention_phase_diagram", "fig_modular_grokking",
           "fig_attention_finite_n", "fig_attention_dynamics", "fig_transformer_copy_langevin", "fig_uncertainty_modular", "fig_uncertainty_icl",
           "fig_icl_context_noise", "fig_icl_diversity", "fig_uniformity_fourier", "fig_uniformity_splits",
           "fig_uniformity_measures", "fig_uniformity_weight_decay", "fig_uniformity_ablations",
           "fig_uniformity_quadratic", "fig_uniformity_polygon", "fig_lm_exposure", "fig_attention_onehot",
           "fig_icl_positive_control", "fig_transformer_onehot", "fig_icl_task_transition",
           "fig_attention_onehot_finite_n")


def load(name: str):
    """The figure module ``name`` (one of FIGURES)."""
    if name not in FIGURES:
        raise ValueError(f"name must be one of {FIGURES}, got {name!r}")
    return import_module(f"{__name__}.{name}")
