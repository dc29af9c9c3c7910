"""Figure: strip (d = 60) and rectangle (d = 0) splits: test accuracy per category against the
ceilings, and the uniformity measures through training.

Runs: the presets ``uniformity-strip`` and ``uniformity-rectangle`` of
``grokphase.validation.experiments.uniformity_presets`` (1-layer transformer, p = 97, frac 0.3,
AdamW wd 1, full batch, k in {40, 50, 60, 67}, seeds 0-2; ``uniformity_presets.run(name)``), each
training run in ``runs/uniformity/<key>``.  Rows: per family, (1) test accuracy on both-seen /
other-role / never-seen pairs, overall, with the ceiling (dashed) and the collapsed-row bound
(dotted); (2) spacing spread over all ids and over the seen ids, and the never-seen rows' norm
ratio against the derived decay law (log scale, right).  The JSON holds the table: split, k, d,
seeds, ceiling, final accuracy per category, grokking steps.  Model: ``docs/uniformity_med.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import save_figure
from grokphase.paper_figs._uniformity import curves, figure_main, finished
from grokphase.validation.experiments.uniformity_presets import runs_of
from grokphase.validation.experiments.uniformity_splits import load_run

NAME = "fig_uniformity_splits"
KEYS = ("test_acc", "acc_both_seen", "acc_other_role", "acc_never_seen", "acc_seen", "spacing_spread",
        "seen_spacing_spread", "untrained_ratio_min", "untrained_ratio_max", "med")


def default_runs() -> list:
    return runs_of("uniformity-strip") + runs_of("uniformity-rectangle")


def compute(runs) -> dict:
    """Curves and the table row of every finished run."""
    out = []
    for run, got in finished(runs, load_run):
        s = got["summary"]
        fin = s["final"]
        out.append({"split": run.split, "k": run.k, "d": run.offset, "seed": run.seed,
                    "ceiling": s["ceiling"], "collapsed_ceiling": s["collapsed_ceiling"],
                    "final": {k: fin.get(k) for k in KEYS[:5]}, "memorisation_step": s["memorisation_step"],
                    "grokking_step": s["grokking_step"], "grokking_step_seen": s["grokking_step_seen"],
                    "decay_law_max_rel_err": s["decay_law_max_rel_err"], "law": s["decay_law"],
                    "curves": curves(got["rows"], KEYS)})
    return {"runs": out}


def draw(data: dict, path: str | os.PathLike) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = data["runs"]
    fams = sorted({(r["split"], r["d"]) for r in runs})
    ks = sorted({r["k"] for r in runs})
    fig, axes = plt.subplots(2 * len(fams), len(ks), figsize=(4.2 * len(ks), 3.3 * 2 * len(fams)),
                             squeeze=False, constrained_layout=True)
    cols = {"test_acc": "k", "acc_both_seen": "C0", "acc_other_role": "C2", "acc_never_seen": "C3"}
    for r in runs:
        i, j = 2 * fams.index((r["split"], r["d"])), ks.index(r["k"])
        c = {k: np.array([np.nan if v is None else v for v in vals], float) for k, vals in r["curves"].items()}
        st = np.maximum(c["step"], 1)
        lw = 1.4 if r["seed"] == 0 else 0.6
        ax = axes[i, j]
        for key, col in cols.items():
            ax.plot(st, c[key], color=col, lw=lw, label=key if r["seed"] == 0 else None)
        ax.axhline(r["ceiling"], color="k", ls="--", lw=0.8)
        ax.axhline(r["collapsed_ceiling"], color="k", ls=":", lw=0.8)
        ax.set_title(f"{r['split']} k={r['k']} d={r['d']}: accuracy (ceiling {r['ceiling']:.3f})", fontsize=9, loc="left")
        ax2 = axes[i + 1, j]
        ax2.plot(st, c["spacing_spread"], color="C1", lw=lw, label="spacing spread, all ids" if r["seed"] == 0 else None)
        ax2.plot(st, c["seen_spacing_spread"], color="C4", lw=lw, label="spacing spread, seen ids" if r["seed"] == 0 else None)
        ax2.set_title("uniformity; never-seen norm ratio vs law (right)", fontsize=9, loc="left")
        if np.isfinite(c["untrained_ratio_max"]).any():
            ax3 = ax2.twinx()
            ax3.semilogy(st, c["untrained_ratio_max"], color="C5", lw=lw)
            ax3.semilogy(np.maximum(r["law"]["step"], 1), r["law"]["factor"], "k:", lw=1)
        for a in (ax, ax2):
            a.set_xscale("log")
            a.set_xlabel("step")
            a.legend(fontsize=6)
    fig.suptitle("Splits vs ceilings (dashed: ceiling, dotted: bound with collapsed never-seen rows; thin: seeds 1-2)",
                 fontsize=11)
    return save_figure(fig, data, path)


def main(argv=None, runs=None) -> list[Path]:
    return figure_main(NAME, __doc__, compute, draw, default_runs, "the strip and rectangle plans", argv, runs)


if __name__ == "__main__":
    main()
