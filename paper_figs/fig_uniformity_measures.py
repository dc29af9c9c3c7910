"""Figure: which progress measure tracks the test loss — correlation with log test loss after
memorisation and lead time of each measure's half-change before the test loss's, per run.

Runs: every finished run of the presets ``PLAN_NAMES`` of
``grokphase.validation.experiments.uniformity_presets``.  The table is
``grokphase.validation.progress_compare.compare_run`` of each run's log; drawn as two heat maps
(correlation; lead time in steps, positive = the measure moves first).  Model:
``docs/uniformity_med.md`` (§1, claim 3).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import save_figure
from grokphase.paper_figs._uniformity import figure_main, finished
from grokphase.validation.experiments.uniformity_presets import runs_of
from grokphase.validation.experiments.uniformity_splits import config_key, load_run
from grokphase.validation.progress_compare import MEASURES, compare_run

NAME = "fig_uniformity_measures"
PLAN_NAMES = ("uniformity-strip", "uniformity-rectangle", "uniformity-weight-decay", "uniformity-mlp-strip",
              "uniformity-mlp", "uniformity-mse", "uniformity-one-hot")


def default_runs() -> list:
    return [r for name in PLAN_NAMES for r in runs_of(name)]


def compute(runs) -> dict:
    table = []
    for run, got in finished(runs, load_run):
        for row in compare_run(got["rows"]):
            table.append({"run": config_key(run).rsplit("_", 1)[0].replace("_kNone", ""), **row})
    return {"table": table, "measures": list(MEASURES)}


def draw(data: dict, path: str | os.PathLike) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted({t["run"] for t in data["table"]})
    meas = [m for m in data["measures"] if any(t["measure"] == m for t in data["table"])]
    grids = {}
    for key in ("correlation", "lead_half"):
        g = np.full((len(runs), len(meas)), np.nan)
        for t in data["table"]:
            if t[key] is not None:
                g[runs.index(t["run"]), meas.index(t["measure"])] = t[key]
        grids[key] = g
    # the two maps stacked, cells about 0.75 x 0.32 in, so the figure stays a column or page wide
    fig, axes = plt.subplots(2, 1, figsize=(2.5 + 0.75 * len(meas), 2 * (1.6 + 0.32 * len(runs))),
                             constrained_layout=True)
    lead_max = np.nanmax(np.abs(grids["lead_half"])) if np.isfinite(grids["lead_half"]).any() else 1.0
    for ax, (key, g), (vmin, vmax, cmap) in zip(axes, grids.items(), ((-1, 1, "RdBu_r"), (-lead_max, lead_max, "PuOr"))):
        im = ax.imshow(g, vmin=vmin, vmax=vmax, cmap=cmap, aspect="auto")
        for (i, j), v in np.ndenumerate(g):
            if np.isfinite(v):
                dark = abs(v) / vmax > 0.6                   # white text on the saturated cells
                ax.text(j, i, f"{v:.2f}" if key == "correlation" else f"{v:.0f}", ha="center", va="center",
                        fontsize=7, color="white" if dark else "black")
        ax.set_xticks(range(len(meas)), meas, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(runs)), runs, fontsize=7)
        ax.set_title({"correlation": "(a) correlation with log test loss (after memorisation)",
                      "lead_half": "(b) lead time of the half-change (steps)"}[key], loc="left", fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.8)
    return save_figure(fig, data, path)


def main(argv=None, runs=None) -> list[Path]:
    return figure_main(NAME, __doc__, compute, draw, default_runs, "the uniformity plans", argv, runs, key="table")


if __name__ == "__main__":
    main()
