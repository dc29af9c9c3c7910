"""Figure: in-context accuracy, AU and EU against the number of context examples and the
context-noise probability (``docs/icl_grokking.md`` §4, claims 3 and 4; the paper's Figs. 4-5).

Runs: the in-context study runs (``grokphase uncertainty train icl --optimizer {adamw,ivon} --seed S``,
S = 0, 1, 2; see ``fig_uncertainty_icl``), evaluated at their last snapshot by
``grokphase uncertainty sweeps``: k = 0..7 context examples before the query, and each context label
replaced by a uniform token with probability 0, 0.1, ..., 1, each set 64 fresh input sequences x all
tasks of its split (2,560 ID-train and 576 OOD-val prompts at T = 40; 8 posterior samples).  The
committed JSON predates that layout: 128 prompts per set, one input sequence per 2 of them.  Lines:
mean over seeds (band: min-max); Laplace and SWAG on the AdamW runs, IVON's q on the
IVON runs; accuracy at the trained weights.  Without the run folders the script redraws the JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import FigureUnavailable, save_figure, script_main, stored_numbers

NAME = "fig_icl_context_noise"
EST = {"laplace": ("adamw", "C0"), "swag": ("adamw", "C1"), "ivon": ("ivon", "C2")}
SPLITS = {"id_train": "--", "ood_val": "-"}


def compute(root="runs/study") -> dict:
    from grokphase.validation.experiments.uncertainty_runs import NOISES, context_noise_sweeps

    res = context_noise_sweeps((0, 1, 2), root)
    n_ctx = max((int(k.split("/k")[1]) for r in res["runs"] for k in r["sets"] if "/k" in k), default=-1) + 1
    return {"ks": list(range(n_ctx)), "noises": list(NOISES), **res}


def _series(runs, opt, key_fn, xs, field):
    vals = [[key_fn(r["sets"], x, field) for x in xs] for r in runs if r["optimizer"] == opt]
    return np.array(vals, float) if vals else None


def draw(data: dict, path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 7), constrained_layout=True)
    for row, (xs, tag, xlabel) in zip(axes, ((data["ks"], "k{}", "context examples before the query"),
                                             (data["noises"], "noise{:g}", "context-noise probability"))):
        for split, ls in SPLITS.items():
            for opt, col in (("adamw", "k"), ("ivon", "0.5")):
                a = _series(data["runs"], opt, lambda s, x, f: s[f"{split}/{tag.format(x)}"]["acc"], xs, None)
                if a is not None:
                    row[0].plot(xs, a.mean(0), ls=ls, color=col, label=f"{split}, {opt} weights")
            for est, (opt, col) in EST.items():
                for j, q in ((1, "au"), (2, "eu")):
                    v = _series(data["runs"], opt, lambda s, x, f: s[f"{split}/{tag.format(x)}"][est][f], xs, q)
                    if v is None:
                        continue
                    row[j].plot(xs, v.mean(0), ls=ls, color=col, label=f"{split}, {est}")
                    row[j].fill_between(xs, v.min(0), v.max(0), color=col, alpha=0.12)
        for ax, yl in zip(row, ("accuracy at the query", "AU (nats)", "EU (nats)")):
            ax.set_xlabel(xlabel)
            ax.set_ylabel(yl)
            ax.legend(fontsize=6)
        row[2].set_yscale("log")
    for ax, t in zip(axes.ravel(), ("(a) accuracy vs examples", "(b) AU vs examples", "(c) EU vs examples",
                                    "(d) accuracy vs noise", "(e) AU vs noise", "(f) EU vs noise")):
        ax.set_title(t, loc="left", fontsize=10)
    fig.suptitle("In-context modular arithmetic (p = 7): context length and context noise "
                 "(dashed: ID-train prompts, solid: OOD-val prompts; mean of 3 seeds, band min-max)", fontsize=11)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=f"figures/{NAME}.png", help="output PNG (PDF, JSON beside)")
    ap.add_argument("--root", default="runs/study", help="parent folder of the study's run folders")
    args = ap.parse_args(argv)
    data = compute(args.root)
    if not data["runs"]:
        data = stored_numbers(args.out, NAME) or data
    if not data["runs"]:
        raise FigureUnavailable(f"{NAME}: cannot draw, no in-context study runs under {args.root} and no stored numbers")
    return draw(data, args.out)


if __name__ == "__main__":
    script_main(main)
