"""Figure: task diversity T x training fraction alpha -> final accuracy, EU and AU per split
(``docs/icl_grokking.md`` §4, claim 1; the paper's Figs. 2-3), in-context arithmetic at p = 7.

Runs: ``grokphase uncertainty diversity --train --n-task 2 6 10 --alpha 0.5 0.8`` (AdamW study preset
with T = 4 n_task = 8, 24, 40 pretraining tasks, alpha = 0.5, 0.8, 6,000 steps, seed 0), evaluated
at the last snapshot on the four splits; EU and AU from the last-layer Laplace posterior (evidence
prior).  Without the run folders the script redraws the JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import FigureUnavailable, save_figure, script_main, stored_numbers

NAME = "fig_icl_diversity"
SPLITS = ("id_train", "id_val", "ood_train", "ood_val")


def compute(root="runs/study") -> dict:
    from grokphase.validation.experiments.uncertainty_runs import diversity_grid

    return diversity_grid(root=root)


def draw(data: dict, path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    Ts = sorted({c["T"] for c in data["cells"]})
    alphas = sorted({c["alpha"] for c in data["cells"]})
    fig, axes = plt.subplots(3, 4, figsize=(14, 8.5), constrained_layout=True)
    fields = (("accuracy", lambda s: s["acc"], "viridis", None),
              ("EU, Laplace (nats)", lambda s: s["laplace"]["eu"], "magma", "log"),
              ("AU, Laplace (nats)", lambda s: s["laplace"]["au"], "cividis", None))
    for i, (lab, get, cmap, scale) in enumerate(fields):
        for j, split in enumerate(SPLITS):
            M = np.full((len(alphas), len(Ts)), np.nan)
            for c in data["cells"]:
                M[alphas.index(c["alpha"]), Ts.index(c["T"])] = get(c["sets"][split])
            ax = axes[i, j]
            shown = np.log10(M) if scale == "log" else M
            im = ax.imshow(shown, origin="lower", cmap=cmap, aspect="auto")
            for (a, t), v in np.ndenumerate(M):
                ax.text(t, a, f"{v:.2g}", ha="center", va="center", fontsize=8, color="w")
            ax.set_xticks(range(len(Ts)), [str(t) for t in Ts])
            ax.set_yticks(range(len(alphas)), [f"{a:g}" for a in alphas])
            ax.set_xlabel("pretraining tasks T")
            ax.set_ylabel("training fraction alpha")
            ax.set_title(f"{split}: {lab}" + (" (colour log10)" if scale else ""), fontsize=9, loc="left")
            fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle("In-context arithmetic, p = 7: final accuracy and uncertainty at the query over task diversity "
                 "and training fraction (AdamW, 6,000 steps, seed 0)", fontsize=11)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=f"figures/{NAME}.png", help="output PNG (PDF, JSON beside)")
    ap.add_argument("--root", default="runs/study", help="parent folder of the grid's run folders")
    args = ap.parse_args(argv)
    data = compute(args.root)
    if not data["cells"]:
        data = stored_numbers(args.out, NAME) or data
    if not data["cells"]:
        raise FigureUnavailable(f"{NAME}: cannot draw, no grid runs under {args.root} and no stored numbers")
    return draw(data, args.out)


if __name__ == "__main__":
    script_main(main)
