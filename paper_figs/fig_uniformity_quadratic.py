"""Figure: the quadratic network (theory check) — from a perturbed analytic solution, and from random
init with the full (random split) or a strip-restricted training distribution: test accuracy,
spacing spread over all ids and over the seen ids.

Runs: the presets ``uniformity-quadratic-perturbed``, ``-random`` and ``-strip`` of
``grokphase.validation.experiments.uniformity_presets``.  Model: ``docs/uniformity_med.md`` §7 (item 3).
"""

from __future__ import annotations

from pathlib import Path

from grokphase.paper_figs._uniformity import curves, draw_curves, figure_main, finished
from grokphase.validation.experiments.uniformity_presets import runs_of
from grokphase.validation.experiments.uniformity_splits import load_run

NAME = "fig_uniformity_quadratic"
KEYS = ("train_acc", "test_acc", "spacing_spread", "seen_spacing_spread", "token_norm_spread", "fourier_sparsity")
PANELS = (("(a) accuracy", ["test_acc", "train_acc"], "accuracy (solid test, dashed train)", False),
          ("(b) uniformity defect", ["spacing_spread", "seen_spacing_spread"], "spacing spread (solid all, dashed seen)", True),
          ("(c) norm spread", ["token_norm_spread"], "token-norm spread", True),
          ("(d) Fourier sparsity", ["fourier_sparsity"], "top-5 power share", False))


def _label(run) -> str:
    if run.init == "analytic":
        return f"analytic + noise {run.init_noise:g}, wd {run.weight_decay:g}"
    return f"random init, {run.split} split" + (f" k={run.k}" if run.split != "random" else "")


def compute(runs) -> dict:
    return {"runs": [{"label": _label(run), "curves": curves(got["rows"], KEYS)} for run, got in finished(runs, load_run)]}


def draw(data, path):
    return draw_curves(data, PANELS, "Quadratic network for a + b mod p: weight decay and uniformity", path)


def main(argv=None, runs=None) -> list[Path]:
    return figure_main(NAME, __doc__, compute, draw, lambda: [r for n in ("uniformity-quadratic-perturbed", "uniformity-quadratic-random",
                           "uniformity-quadratic-strip") for r in runs_of(n)], "the quadratic presets", argv, runs)


if __name__ == "__main__":
    main()
