"""Figure: classic grokking of addition mod 97 with the NumPy transformer, three seeds.

Runs: ``grokphase train modular --preset nanda97-frac04 --seed S --steps 5000 --run-dir
runs/modular_p97_f04_sS`` for S = 0, 1, 2 (1 layer, d 128, 4 heads, d_mlp 512, no LayerNorm,
full-batch AdamW lr 1e-3, wd 1, betas (0.9, 0.98), 10-step warm-up, train fraction 0.4).
Panels: (a) train/test accuracy, (b) train/test loss, (c) MED and total weight norm against the
test loss, (d) MED vs log test loss after memorisation (with the Pearson correlation per seed),
(e) Fourier sparsity of the embedding.  The numbers plotted (curves and the grokking table) are
written as JSON beside the PNG/PDF; without the run folders the script redraws from that JSON.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import FigureUnavailable, save_figure, script_main, stored_numbers

from grokphase.validation.experiments.modular_grokking import milestones

RUNS = tuple(f"runs/modular_p97_f04_s{s}" for s in (0, 1, 2))
KEYS = ("step", "time", "train_loss", "test_loss", "train_acc", "test_acc", "weight_norm", "med", "fourier_sparsity")


def compute(run_dirs=RUNS) -> dict:
    """Curves and milestones of each finished run (summary.json present)."""
    seeds = []
    for d in map(Path, run_dirs):
        if not (d / "summary.json").exists():
            continue
        rows = [json.loads(ln) for ln in (d / "metrics.jsonl").read_text().splitlines() if ln]
        summary = json.loads((d / "summary.json").read_text())
        curves = {k: [r.get(k) for r in rows] for k in KEYS}
        ms = milestones(rows)
        after = [i for i, r in enumerate(rows) if ms["memorisation_step"] is not None and r["step"] >= ms["memorisation_step"]]
        med_a = np.array([rows[i]["med"] for i in after])
        ltl = np.log([rows[i]["test_loss"] for i in after])
        wn = np.array([rows[i]["weight_norm"] for i in after])
        seeds.append(dict(seed=summary["run"]["seed"], frac=summary["run"]["frac"], p=summary["run"]["p"],
                          curves=curves, **ms, wall_time=summary["wall_time"],
                          seconds_per_step=summary["seconds_per_step"],
                          corr_med_logtestloss=float(np.corrcoef(med_a, ltl)[0, 1]),
                          corr_weightnorm_logtestloss=float(np.corrcoef(wn, ltl)[0, 1]),
                          final_test_acc=rows[-1]["test_acc"]))
    return {"seeds": seeds}


def draw(data: dict, path: str | os.PathLike) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 5, figsize=(17, 3.8), constrained_layout=True)
    for i, s in enumerate(data["seeds"]):
        c = {k: np.array(v, dtype=float) for k, v in s["curves"].items()}
        st = np.maximum(c["step"], 1)
        col = f"C{i}"
        lab = f"seed {s['seed']}"
        axes[0].plot(st, c["train_acc"], "--", color=col, lw=1)
        axes[0].plot(st, c["test_acc"], "-", color=col, lw=1.5, label=lab)
        axes[1].plot(st, c["train_loss"], "--", color=col, lw=1)
        axes[1].plot(st, c["test_loss"], "-", color=col, lw=1.5, label=lab)
        axes[2].plot(st, c["med"] / np.nanmax(c["med"]), "-", color=col, lw=1.5, label=f"MED/max, {lab}")
        axes[2].plot(st, c["weight_norm"] / np.nanmax(c["weight_norm"]), ":", color=col, lw=1.5)
        ok = st >= (s["memorisation_step"] or 0)
        axes[3].plot(np.log(c["test_loss"][ok]), c["med"][ok], ".-", color=col, ms=3, lw=0.8,
                     label=f"{lab}: r = {s['corr_med_logtestloss']:.2f}")
        axes[4].plot(st, c["fourier_sparsity"], "-", color=col, lw=1.5, label=lab)
        for ax in axes[:3]:
            if s["grokking_step"]:
                ax.axvline(s["grokking_step"], color=col, lw=0.6, alpha=0.6)
    for ax in (axes[0], axes[1], axes[2], axes[4]):
        ax.set_xscale("log")
        ax.set_xlabel("optimiser step (full batch)")
    axes[1].set_yscale("log")
    axes[0].set_ylabel("accuracy (dashed: train, solid: test)")
    axes[1].set_ylabel("cross-entropy (dashed: train, solid: test)")
    axes[2].set_ylabel("MED (solid), weight norm (dotted), / max")
    axes[3].set_xlabel("log test loss (after memorisation)")
    axes[3].set_ylabel("MED")
    axes[4].set_ylabel("Fourier sparsity (top-5 share)")
    for ax, t in zip(axes, ("(a) accuracy", "(b) loss", "(c) progress measures", "(d) MED tracks test loss",
                            "(e) Fourier sparsity")):
        ax.set_title(t, loc="left", fontsize=10)
        ax.legend(fontsize=7)
    if data["seeds"]:
        s0 = data["seeds"][0]
        fig.suptitle(f"Grokking of a + b mod {s0['p']} with the NumPy transformer (train fraction {s0['frac']}; "
                     "vertical lines: test accuracy >= 0.95)", fontsize=11)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="figures/fig_modular_grokking.png", help="output PNG (PDF, JSON beside)")
    ap.add_argument("--runs", nargs="*", default=list(RUNS), help="run folders to read")
    args = ap.parse_args(argv)
    data = compute(args.runs)
    if not data["seeds"]:  # no runs here: redraw the committed numbers
        data = stored_numbers(args.out, "fig_modular_grokking") or data
    if not data["seeds"]:
        raise FigureUnavailable(f"fig_modular_grokking: cannot draw, no finished runs in {args.runs} and no stored "
                                "numbers; train them first (see the module docstring)")
    return draw(data, args.out)


if __name__ == "__main__":
    script_main(main)
