"""Figure: the copy task learned by the package's NumPy transformer under Langevin noise.

One layer, one head, position-only attention (softmax vs linear), V = 8, L = 8, d = 16, Gaussian
prior (std 0.5) on every weight, SGLD from init std 0.1 (``grokphase.validation.experiments.
transformer_copy_langevin.sweep``, 3 seeds).  (a) the copy weight of the positional attention vs the
number of training sequences P (linear: |mean A_{l,l-1}|, scaled by its largest value); (b) held-out
copy accuracy vs P.  Inputs: runs/transformer_copy_langevin.json, else the committed JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import FigureUnavailable, save_figure, script_main, stored_numbers


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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="figures/fig_transformer_copy_langevin.png")
    ap.add_argument("--runs", default="runs/transformer_copy_langevin.json")
    args = ap.parse_args(argv)
    data = json.loads(Path(args.runs).read_text()) if Path(args.runs).exists() else \
        stored_numbers(args.out, "fig_transformer_copy_langevin")
    if data:
        return draw(data, args.out)
    raise FigureUnavailable(f"fig_transformer_copy_langevin: cannot draw, no sweep results in {args.runs} and no "
                            "stored numbers (see the module docstring)")


if __name__ == "__main__":
    script_main(main)
