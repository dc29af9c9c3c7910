"""Figure: the copy task learned by the package's NumPy transformer under Langevin noise.

One layer, one head, position-only attention (softmax vs linear), V = 8, L = 8, d = 16, Gaussian
prior (std 0.5) on every weight, SGLD from init std 0.1 (the preset ``transformer-copy-langevin``
of ``grokphase.validation.experiments.presets``: both kinds x 11 P x 3 seeds, about 20 minutes serial on 2
cores).  (a) the copy weight of the positional attention vs the number of training sequences P
(linear: |mean A_{l,l-1}|, scaled by its largest value); (b) held-out copy accuracy vs P.
``--recompute`` runs what the sweep's store under ``--runs`` lacks; otherwise the figure is drawn
from a complete store, else from the committed numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import save_figure, script_main, sweep_figure_main


PLAN = "transformer-copy-langevin"


def compute(runs="runs", *, recompute: bool = False, executor=None, progress=None) -> dict:
    """The plotted numbers from the preset's sweep (stored under ``runs``); recompute False reads
    the store only ({} when it lacks points)."""
    from grokphase.validation.experiments import presets

    ds = presets.results((PLAN,), runs, recompute=recompute, executor=executor, progress=progress)
    return {} if ds is None else numbers(ds[PLAN])


def numbers(ds) -> dict:
    """{"P": [...], kind: {"c_final", "test_acc": (seeds, P)}} from the sweep's Dataset (the uniform start)."""
    ds = ds.sel(start="uniform") if "start" in ds.dims else ds
    return {"P": ds.P.values.tolist(),
            **{kind: {k: ds[k].sel(kind=kind).transpose("seed", "P").values.tolist() for k in ("c_final", "test_acc")}
               for kind in ds.kind.values.tolist()}}


def draw(data: dict, path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9.5, 3.8), constrained_layout=True)
    P = np.array(data["P"])
    for kind, col in (("softmax", "C0"), ("linear", "C3")):
        c = np.array(data[kind]["c_final"], float)
        if kind == "linear":
            c = c / np.nanmax(c)
        acc = np.array(data[kind]["test_acc"], float)
        for arr, a in ((c, ax[0]), (acc, ax[1])):
            m, s = np.nanmean(arr, 0), np.nanstd(arr, 0)
            a.errorbar(P, m, s, fmt="o-", color=col, ms=4, capsize=2, label=kind)
            a.plot(np.repeat(P[None], arr.shape[0], 0).ravel(), arr.ravel(), ".", color=col, alpha=0.3, ms=3)
    ax[0].axhline(np.mean([1 / (l + 1) for l in range(1, 8)]), color="0.5", ls=":", lw=0.8,
                  label="uniform causal attention")
    for a in ax:
        a.set_xscale("log", base=2)
        a.set_xlabel("training sequences P")
        a.legend(fontsize=7)
    ax[0].set(ylabel=r"copy weight $\overline{A_{l,l-1}}$ (linear: |.|/max)", title="(a) positional attention")
    ax[1].set(ylabel="held-out copy accuracy", title="(b) generalisation")
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    return sweep_figure_main(argv, "fig_transformer_copy_langevin", __doc__, compute, draw, "about 20 minutes")


if __name__ == "__main__":
    script_main(main)
