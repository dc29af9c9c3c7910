"""Figure: weight decay drives the embedding towards uniformity (claim i) — spacing spread,
token-norm spread, MED and test accuracy through training for wd in {0, 0.1, 1} (random split).

Runs: the preset ``uniformity-weight-decay`` of ``grokphase.validation.experiments.uniformity_presets``
(1-layer transformer, p = 97, frac 0.3, d = 0, full batch), trained into ``runs/uniformity/<key>``.
Model: ``docs/uniformity_med.md`` (§1).
"""

from __future__ import annotations

from pathlib import Path

from grokphase.paper_figs._uniformity import curves, draw_curves, figure_main, finished
from grokphase.validation.experiments.uniformity_presets import runs_of
from grokphase.validation.experiments.uniformity_splits import load_run

NAME = "fig_uniformity_weight_decay"
KEYS = ("train_acc", "test_acc", "spacing_spread", "token_norm_spread", "med", "weight_norm")
PANELS = (("(a) accuracy", ["test_acc", "train_acc"], "accuracy (solid test, dashed train)", False),
          ("(b) uniformity defect", ["spacing_spread"], "spacing spread (sd/mean of adjacent distances)", True),
          ("(c) norm spread", ["token_norm_spread"], "token-norm spread (sd/mean)", True),
          ("(d) MED", ["med"], "MED", False))


def compute(runs) -> dict:
    return {"runs": [{"label": f"wd {run.weight_decay:g}, seed {run.seed}", "weight_decay": run.weight_decay,
                      "summary": {k: got["summary"][k] for k in ("memorisation_step", "grokking_step")},
                      "curves": curves(got["rows"], KEYS)} for run, got in finished(runs, load_run)]}


def draw(data, path):
    return draw_curves(data, PANELS, "Weight decay and uniformity (random split, p = 97)", path)


def main(argv=None, runs=None) -> list[Path]:
    return figure_main(NAME, __doc__, compute, draw, lambda: runs_of("uniformity-weight-decay"), "the uniformity-weight-decay preset", argv, runs)


if __name__ == "__main__":
    main()
