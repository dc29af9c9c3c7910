"""Shared drawing of the uncertainty-through-grokking figures (mod 97 and in-context): one row per
optimiser (AdamW, IVON), columns accuracy and the EU of each posterior on the target split (solid)
and the other sets (thin), the last-layer Laplace AU; vertical lines at each seed's grokking time.

Last column: every run in normalised time, step / grokking time (half the target-accuracy gain),
with the accuracy gain normalised to 1 and the EU (SWAG for AdamW runs, IVON's q for IVON runs)
divided by its peak, overlaid with the linear-VI theory (``LinearVIModel``, lam = 0.6,
n / sigma^2 = 5e7: generalisation accuracy A_gen and thresholded EU_gen, normalised the same way,
time in units of A_gen's half-gain time).  Only the shapes are compared; the time units differ.
"""

from __future__ import annotations

import numpy as np

from grokphase.paper_figs._output import save_figure

ESTIMATORS = ("laplace", "laplace_wd", "swag", "ivon")
STYLES = {"train": "--", "test": "-", "id_train": ":", "id_val": "-.", "ood_train": "--", "ood_val": "-",
          "unlabeled": (0, (1, 3))}


def trim(result: dict) -> dict:
    """The numbers the figure draws from an ``evaluate_study`` result (JSON-sized)."""
    runs = []
    for r in result["runs"]:
        traj = r["trajectory"]
        sets = [k for k in traj[-1] if k != "step"]
        curves = {"step": [t["step"] for t in traj]}
        for s in sets:
            curves[f"{s}/acc"] = [t[s].get("acc") for t in traj]
            for e in ESTIMATORS:
                for q in ("eu", "au", "tu"):
                    curves[f"{s}/{e}/{q}"] = [t[s][e][q] if e in t[s] else None for t in traj]
        runs.append({"optimizer": r["optimizer"], "seed": r["seed"], "summary": r["summary"], "curves": curves,
                     "sets": sets})
    return {"task": result["task"], "runs": runs}


def theory_curve(lam: float = 0.6, n_over_sigma2: float = 5e7) -> dict:
    """Linear-VI accuracy and EU in normalised time (module docstring)."""
    from grokphase import LinearVIModel
    from grokphase.validation.bayes.grokking_times import threshold_time

    m = LinearVIModel(lam=lam, n_over_sigma2=n_over_sigma2)
    t = np.geomspace(m.grokking_times()[1] / 100, m.grokking_times()[1] * 10, 400)
    acc = m.accuracy(t)[1]
    eu = m.eu_threshold(t)[1]
    t_half = threshold_time(t, acc, chance=float(acc[0]), fraction=0.5)
    return {"lam": lam, "x": (t / t_half).tolist(), "acc": ((acc - acc[0]) / (acc[-1] - acc[0])).tolist(),
            "eu": (eu / eu.max()).tolist()}


def draw(data: dict, path, *, target: str, title: str, logx: bool):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    opts = [o for o in ("adamw", "ivon") if any(r["optimizer"] == o for r in data["runs"])]
    fig, axes = plt.subplots(len(opts), 7, figsize=(25, 3.6 * len(opts)), squeeze=False, constrained_layout=True)
    for row, opt in zip(axes, opts):
        runs = [r for r in data["runs"] if r["optimizer"] == opt]
        for r in runs:
            c = r["curves"]
            st = np.maximum(np.array(c["step"], float), 1)
            col = f"C{r['seed']}"
            for s in r["sets"]:
                if c[f"{s}/acc"][0] is not None:
                    row[0].plot(st, np.array(c[f"{s}/acc"], float), ls=STYLES.get(s, "-"), color=col,
                                lw=1.5 if s == target else 0.8, label=f"{s}, seed {r['seed']}" if r is runs[0] or s == target else None)
                for j, e in enumerate(ESTIMATORS):
                    v = np.array([np.nan if x is None else x for x in c[f"{s}/{e}/eu"]], float)
                    if np.isfinite(v).any():
                        row[1 + j].plot(st, v, ls=STYLES.get(s, "-"), color=col, lw=1.5 if s == target else 0.8,
                                        label=f"{s}, seed {r['seed']}" if r is runs[0] or s == target else None)
                au = np.array([np.nan if x is None else x for x in c[f"{s}/laplace/au"]], float)
                row[5].plot(st, au, ls=STYLES.get(s, "-"), color=col, lw=1.5 if s == target else 0.8)
            g = r["summary"]["grokking_time"]
            if g:
                for ax in row[:6]:
                    ax.axvline(g, color=col, lw=0.6, alpha=0.6)
                acc = np.array(c[f"{target}/acc"], float)
                chance = r["summary"]["chance"]
                est = "ivon" if opt == "ivon" else "swag"
                eu = np.array([np.nan if x is None else x for x in c[f"{target}/{est}/eu"]], float)
                row[6].plot(st / g, (acc - chance) / (acc[-1] - chance), color=col, lw=1.2)
                row[6].plot(st / g, eu / np.nanmax(eu), color=col, lw=1.2, ls="--")
        heads = ("accuracy", "EU, last-layer Laplace (evidence prior)", "EU, Laplace (prior = weight decay)",
                 "EU, SWAG (moving window)", "EU, IVON", "AU, last-layer Laplace")
        for j, (ax, h) in enumerate(zip(row[:6], heads)):
            ax.set_title(f"{opt}: {h}", loc="left", fontsize=9)
            if logx:
                ax.set_xscale("log")
            if j in (1, 2, 3, 4):
                ax.set_yscale("log")
            ax.set_xlabel("optimiser step")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=6)
            elif j == 4 and opt != "ivon":
                ax.text(0.5, 0.5, "IVON state only in IVON runs", ha="center", transform=ax.transAxes, fontsize=8)
        if "theory" in data:
            th = data["theory"]
            row[6].plot(th["x"], th["acc"], color="k", lw=2, alpha=0.5, label=f"linear VI (lam {th['lam']}): accuracy")
            row[6].plot(th["x"], th["eu"], color="k", lw=2, alpha=0.5, ls="--", label="linear VI: EU / peak")
        row[6].set_xscale("log")
        row[6].set_xlim(0.05, 20)
        row[6].set_xlabel("step / grokking time")
        row[6].set_title(f"{opt}: normalised (solid: accuracy gain, dashed: EU / peak)", loc="left", fontsize=9)
        if "theory" in data:
            row[6].legend(fontsize=6)
        row[0].set_ylabel("accuracy")
        row[1].set_ylabel("EU (nats)")
        row[5].set_ylabel("AU (nats)")
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, data, path)


def figure_main(name: str, task: str, doc: str, argv, *, target: str, logx: bool, title: str):
    """Command line of a trajectory figure: evaluate the study's runs of ``task`` under --root (stored
    per snapshot under --root/sweeps), or redraw the stored numbers when there are none."""
    import argparse

    from grokphase.paper_figs._output import FigureUnavailable, stored_numbers

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", default=f"figures/{name}.png", help="output PNG (PDF, JSON beside)")
    ap.add_argument("--root", default="runs/study", help="parent folder of the study's run folders")
    args = ap.parse_args(argv)
    from grokphase.validation.experiments.uncertainty_runs import evaluate_study

    data = trim(evaluate_study(task, (0, 1, 2), args.root))
    if not data["runs"]:
        data = stored_numbers(args.out, name) or data
    if not data["runs"]:
        raise FigureUnavailable(f"{name}: cannot draw, no runs under {args.root} and no stored numbers (see the module docstring)")
    data.setdefault("theory", theory_curve())
    return draw(data, args.out, target=target, logx=logx, title=title)
