"""Figure: delayed generalisation defined by exposure in LM pre-training on the grammar corpus.

Runs: ``grokphase lm study --corpus C --blimp B --out figures/lm_study.json`` (the main run, 4
layers x 4 heads, d 128, and three seeds of the small one, 2 x 4, d 64; one pass over the corpus
of ``grokphase exposure corpus``).  Rows: (1) fixed proxy-train (solid) and proxy-val (dashed)
accuracy vs tokens per phenomenon, Wilson 95% bands for the main run, small seeds as thin lines,
the real BLiMP pairs of the mirrored paradigm dotted, theta = 0.8 and chance drawn; (2) accuracy by
exposure-count bin at the main run's t_train(0.8) checkpoint and at the last one; (3) concept
vectors of the last layer at the critical token (held-out AUC and bias-corrected participation
ratio, observed vs shuffled labels) over training, with t_val marked; (4) the main run's attention
mass from the critical token to the context token per (layer, head) at the last checkpoint, and the
top-2 share over training.  The JSON beside the PNG holds every plotted number; without the run
folders the script redraws from it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import FigureUnavailable, save_figure, script_main, stored_numbers

NAME = "fig_lm_exposure"
RUNS = ("lm_main_seed0", "lm_small_seed0", "lm_small_seed1", "lm_small_seed2")


def collect(root, runs=RUNS) -> dict:
    """The plotted numbers from the run folders' ``summary_eval.json`` and evaluation records."""
    from grokphase.validation.experiments.lm_evaluation import load_records

    out = {}
    for name in runs:
        d = Path(root) / name
        if not (d / "summary_eval.json").is_file():
            continue
        s = json.loads((d / "summary_eval.json").read_text())
        recs = load_records(d)
        ph = {}
        for u, p in s["phenomena"].items():
            fx = p["splits"]["fixed"]
            conc = [r["heads_concepts"][u]["concepts"][-1] for r in recs]
            pick = lambda key, m: [None if c is None else c[key][m] for c in conc]
            ph[u] = {"train": fx["train"], "val": fx["val"], "t_train": p["delays"]["0.8"]["t_train"],
                     "t_val": p["delays"]["0.8"]["t_val"], "exposure_bins": p["exposure_bins"],
                     "exposure_trend": p["exposure_trend"],
                     "auc": pick("observed", "auc"), "auc_shuffled": pick("shuffled", "auc"),
                     "pr": pick("observed", "pr_unbiased"), "pr_shuffled": pick("shuffled", "pr_unbiased"),
                     "top2_share": [c["top_k_share"] for c in p["head_concentration"]],
                     "head_mass_last": p["head_mass_last"], "control_acc": p.get("control_acc")}
        out[name] = {"tokens": s["tokens"], "phenomena": ph, "blimp": s.get("blimp", {})}
    return out


def _arr(x):
    return np.array([np.nan if v is None else v for v in x], float)


def _fmt(x, spec: str) -> str:
    return "n/a" if x is None or not np.isfinite(x) else format(x, spec)


def draw(data: dict, path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = data["runs"]
    main = runs.get("lm_main_seed0") or next(iter(runs.values()))
    uids = list(main["phenomena"])
    mirrors = data.get("mirrors", {})
    fig, axes = plt.subplots(4, len(uids), figsize=(4 * len(uids), 14), constrained_layout=True, squeeze=False)
    for j, u in enumerate(uids):
        ax = axes[0, j]
        for name, r in runs.items():
            t = np.maximum(np.array(r["tokens"], float), 1)
            p = r["phenomena"][u]
            lw = 1.8 if r is main else 0.6
            for split, ls, col in (("train", "-", "C0"), ("val", "--", "C3")):
                ax.plot(t, _arr(p[split]["acc"]), ls=ls, color=col, lw=lw,
                        label=f"proxy-{split}" if r is main else None)
                if r is main:
                    ax.fill_between(t, _arr(p[split]["acc_lo"]), _arr(p[split]["acc_hi"]), color=col, alpha=0.15, lw=0)
            if r is main and p.get("control_acc"):
                ax.plot(t, _arr(p["control_acc"]), color="0.4", lw=1.2, label="negative control")
            real = r["blimp"].get(mirrors.get(u, ""))
            if r is main and real:
                ax.plot(t, _arr(real["acc"]), ":", color="k", lw=1.2, label=f"BLiMP {mirrors[u]} (n={real['n']})")
        ax.axhline(0.8, color="0.7", lw=0.6)
        ax.axhline(0.5, color="0.7", lw=0.6, ls=":")
        ax.set(xscale="log", ylim=(0, 1.02), title=u.replace("grammar_", ""), xlabel="tokens seen")
        if j == 0:
            ax.set_ylabel("minimal-pair accuracy")
        ax.legend(fontsize=7, loc="lower right")

        ax = axes[1, j]
        p = main["phenomena"][u]
        b = p["exposure_bins"]
        acc = np.array([[np.nan if v is None else v for v in row] for row in b["acc"]], float)
        at = p["exposure_trend"]["checkpoint"]
        x = np.arange(len(b["bin"]))
        tr = p["exposure_trend"]
        for k, lab, ls in ((at, f"at t_train (step {tr['step']}; rho {_fmt(tr['rho'], '.2f')}, "
                                f"p {_fmt(tr['p_value'], '.3f')})", "-o"), (-1, "last checkpoint", "--s")):
            ax.plot(x, acc[k], ls, ms=4, label=lab)
        ax.set(xticks=x, xticklabels=b["bin"], ylim=(0, 1.02), xlabel="exposure count of the critical phrase")
        ax.axhline(0.5, color="0.7", lw=0.6, ls=":")
        if j == 0:
            ax.set_ylabel("accuracy (main run)")
        ax.legend(fontsize=7, loc="lower right")

        ax = axes[2, j]
        t = np.maximum(np.array(main["tokens"], float), 1)
        ax.plot(t, _arr(p["auc"]), "-", color="C2", label="held-out AUC")
        ax.plot(t, _arr(p["auc_shuffled"]), ":", color="C2", label="AUC, shuffled labels")
        ax.set(xscale="log", ylim=(0.3, 1.02), xlabel="tokens seen")
        ax2 = ax.twinx()
        ax2.plot(t, _arr(p["pr"]), "-", color="C4", label="PR (bias-corrected)")
        ax2.plot(t, _arr(p["pr_shuffled"]), ":", color="C4", label="PR, shuffled")
        ax2.set_ylabel("participation ratio", color="C4")
        if p["t_val"] is not None and np.isfinite(p["t_val"]):
            ax.axvline(max(p["t_val"], 1), color="C3", lw=0.8, ls="--")
        if j == 0:
            ax.set_ylabel("concept-vector AUC", color="C2")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=6, loc="lower right")

        ax = axes[3, j]
        if j == 0:
            m = np.array(p["head_mass_last"], float)
            im = ax.imshow(m, cmap="viridis", aspect="auto")
            ax.set(xticks=range(m.shape[1]), yticks=range(m.shape[0]), xlabel="head", ylabel="layer", title=f"attention mass, critical -> context\n({u.replace('grammar_', '')}, last checkpoint)")
            fig.colorbar(im, ax=ax, shrink=0.8)
        else:
            for name, r in runs.items():
                tt = np.maximum(np.array(r["tokens"], float), 1)
                ax.plot(tt, _arr(r["phenomena"][u]["top2_share"]), lw=1.8 if r is main else 0.6,
                        color="C1" if r is main else "0.5", label=name if r is main or name.endswith("seed0") else None)
            n_heads = np.array(p["head_mass_last"]).size
            ax.axhline(2 / n_heads, color="C1", lw=0.6, ls=":", label="uniform (main)")
            ax.axhline(0.5, color="0.7", lw=0.6)
            ax.set(xscale="log", ylim=(0, 1.02), xlabel="tokens seen", title="top-2 head share of the mass")
            ax.legend(fontsize=6)
    fig.suptitle("Exposure-defined delayed generalisation on the grammar corpus (main run bold, small seeds thin)")
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="runs", help="folder holding the run folders (default runs)")
    ap.add_argument("--out", default=f"figures/{NAME}.png", help="output PNG (PDF, JSON beside)")
    args = ap.parse_args(argv)
    runs = collect(args.root)
    if runs:
        from grokphase.validation.exposure.minimal_pairs import load_blimp

        first = json.loads((Path(args.root) / next(iter(runs)) / "config.json").read_text())["config"]["run"]
        pairs = load_blimp(Path(first["corpus"]) / "pairs")
        data = {"runs": runs, "mirrors": {p.UID: p.extra["mirrors"] for p in pairs}}
    else:
        data = stored_numbers(args.out, NAME)
        if data is None:
            raise FigureUnavailable(f"{NAME}: no run folders under {args.root} and no stored numbers; run "
                                    f"`grokphase lm study --corpus C --blimp B` first")
    return draw(data, args.out)


if __name__ == "__main__":
    script_main(main)
