"""Figure: grokking beyond transformers — the 4-slot polygon-sum task, symbolic (embedding + MLP) and
rendered (2 x 2 grids of outlines, small NumPy CNN): accuracy, test loss and the uniformity of the
slot embeddings of the polygons 3..12 (chain MED and spacing spread).

Runs: the presets ``polygon-symbolic`` and ``polygon-rendered`` of
``grokphase.validation.experiments.uniformity_presets``, trained into ``runs/polygon/<key>``.  The paper's
ImageNet-pretrained ResNet-18 on 224 x 224 images is out of reach on CPU.  Model:
``docs/uniformity_med.md`` (§5).
"""

from __future__ import annotations

from pathlib import Path

from grokphase.paper_figs._uniformity import curves, draw_curves, figure_main, finished
from grokphase.validation.experiments.polygon_sum import load_run
from grokphase.validation.experiments.uniformity_presets import runs_of

NAME = "fig_uniformity_polygon"
KEYS = ("train_acc", "test_acc", "test_loss", "chain_spacing_mean", "chain_spacing_spread", "chain_norm_spread")
PANELS = (("(a) accuracy", ["test_acc", "train_acc"], "accuracy (solid test, dashed train)", False),
          ("(b) test loss", ["test_loss"], "test cross-entropy", True),
          ("(c) chain MED", ["chain_spacing_mean"], "mean distance of adjacent polygons", False),
          ("(d) uniformity defect", ["chain_spacing_spread", "chain_norm_spread"], "spread (solid spacing, dashed norms)", True))


def compute(runs) -> dict:
    return {"runs": [{"label": f"{run.version}, wd {run.weight_decay:g}, seed {run.seed}",
                      "summary": {k: got["summary"][k] for k in ("memorisation_step", "grokking_step")},
                      "curves": curves(got["rows"], KEYS)} for run, got in finished(runs, load_run)]}


def draw(data, path):
    return draw_curves(data, PANELS, "4-slot polygon sum (11^4 combinations, 25% for training)", path)


def main(argv=None, runs=None) -> list[Path]:
    return figure_main(NAME, __doc__, compute, draw, lambda: runs_of("polygon-symbolic") + runs_of("polygon-rendered"), "the polygon presets", argv, runs)


if __name__ == "__main__":
    main()
