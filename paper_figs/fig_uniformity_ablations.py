"""Figure: the MLP variant and the README ablations — MLP (concatenated embeddings -> 512 -> 512
-> p) on strip splits and the random split, MSE loss on one-hot targets, frozen one-hot embeddings
(MED on the first hidden layer): test accuracy on the seen pairs and MED through training.

Runs: the presets ``uniformity-mlp-strip``, ``uniformity-mlp``, ``uniformity-mse`` and
``uniformity-one-hot`` of ``grokphase.validation.experiments.uniformity_presets``.  Model: ``docs/uniformity_med.md``.
"""

from __future__ import annotations

from pathlib import Path

from grokphase.paper_figs._uniformity import curves, draw_curves, figure_main, finished
from grokphase.validation.experiments.uniformity_presets import runs_of
from grokphase.validation.experiments.uniformity_splits import load_run

NAME = "fig_uniformity_ablations"
KEYS = ("train_acc", "test_acc", "acc_seen", "med", "spacing_spread", "test_loss")
PANELS = (("(a) accuracy on seen pairs", ["acc_seen", "train_acc"], "accuracy (solid seen-pair test, dashed train)", False),
          ("(b) test loss", ["test_loss"], "test loss (the run's own loss)", True),
          ("(c) MED", ["med"], "MED (first hidden layer for one-hot)", False),
          ("(d) uniformity defect", ["spacing_spread"], "spacing spread", True))


def default_runs() -> list:
    return [r for name in ("uniformity-mlp-strip", "uniformity-mlp", "uniformity-mse", "uniformity-one-hot")
            for r in runs_of(name)]


def _label(run) -> str:
    extra = "one-hot" if run.one_hot else run.loss
    return f"{run.model} {run.split}" + (f" k={run.k}" if run.split != "random" else "") + f" {extra}"


def compute(runs) -> dict:
    return {"runs": [{"label": _label(run), "ceiling": got["summary"]["ceiling"],
                      "final_acc_seen": got["summary"]["final"].get("acc_seen"),
                      "curves": curves(got["rows"], KEYS)} for run, got in finished(runs, load_run)]}


def draw(data, path):
    return draw_curves(data, PANELS, "MLP variant and ablations (p = 97, frac 0.3)", path)


def main(argv=None, runs=None) -> list[Path]:
    return figure_main(NAME, __doc__, compute, draw, default_runs, "the MLP and ablation presets", argv, runs)


if __name__ == "__main__":
    main()
