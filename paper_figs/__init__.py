"""One script per figure; ``grokphase figs`` runs them all (registry below)."""

from . import fig_linear_vi

ALL_FIGURES = {"fig_linear_vi": fig_linear_vi}
