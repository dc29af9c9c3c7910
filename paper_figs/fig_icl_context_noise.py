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

``--base positive-control`` draws the same sweeps on the AdamW runs of the positive-control settings at
T = 40, alpha 0.6 (the runs that learn in context; ``grokphase uncertainty diversity --base
positive-control --n-task 10 --alpha 0.6 --steps S --train --root R``), on the splits ID-train,
OOD-train and OOD-val: ``--root R --steps S`` (written to ``figures/fig_icl_context_noise_positive_control.png``).

Verdicts (rules fixed before the positive-control runs; per split and estimator, :func:`verdict`):
claim 3 - accuracy (per optimiser) rises with the context examples (last k minus k = 0 above
0.05), AU falls (last below first), EU is non-monotone (an interior value beyond both end values by
more than 10% of the EU range over k); claim 4 - noise 1 against noise 0: accuracy lower by more
than 0.05, AU and EU higher.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import FigureUnavailable, save_figure, script_main, stored_numbers

NAME = "fig_icl_context_noise"
EST = {"laplace": ("adamw", "C0"), "swag": ("adamw", "C1"), "ivon": ("ivon", "C2")}
SPLIT_STYLES = {"id_train": "--", "id_val": ":", "ood_train": "-.", "ood_val": "-"}
BASE_SPLITS = {"study": ("id_train", "ood_val"), "positive-control": ("id_train", "ood_train", "ood_val")}
ACC_MARGIN, EU_BUMP = 0.05, 0.1


def compute(root="runs/study", base="study", steps=None) -> dict:
    from grokphase.validation.experiments.uncertainty_runs import NOISES, context_noise_sweeps

    splits = BASE_SPLITS[base]
    seeds = (0, 1, 2)
    res = context_noise_sweeps(seeds, root, base=base, steps=steps, splits=splits)
    n_ctx = max((int(k.split("/k")[1]) for r in res["runs"] for k in r["sets"] if "/k" in k), default=-1) + 1
    data = {"base": base, "splits": list(splits), "ks": list(range(n_ctx)), "noises": list(NOISES), **res}
    if res["runs"]:
        data["verdict"] = verdict(data)
    return data


def _rises(seq, margin=0.0) -> bool:
    return bool(seq[-1] - seq[0] > margin)


def _non_monotone(seq) -> bool:
    """An interior value beyond both end values by more than EU_BUMP of the range.

    >>> _non_monotone([1.0, 2.0, 1.5]), _non_monotone([3.0, 2.0, 1.0]), _non_monotone([1.0, 0.2, 1.5])
    (True, False, True)
    """
    seq = np.asarray(seq, float)
    if seq.size < 3 or not np.all(np.isfinite(seq)):
        return False
    tol = EU_BUMP * (seq.max() - seq.min())
    inner, ends = seq[1:-1], seq[[0, -1]]
    return bool(inner.max() > ends.max() + tol or inner.min() < ends.min() - tol)


def verdict(data: dict) -> dict:
    """Claims 3 and 4 per split on the seed-mean curves, accuracy per optimiser and AU / EU per
    estimator: ``{"claim3": {split: {"acc_rises": {optimizer: bool}, est: {"au_falls",
    "eu_non_monotone"}}}, "claim4": {split: {"acc_falls": {optimizer: bool}, est: {"au_rises",
    "eu_rises"}}}}`` (rules in the module docstring; claim 4 compares the noise values 0 and 1 and
    is left out when either is missing; a run lacking an estimator's entry is left out of its mean).
    """
    out = {"claim3": {}, "claim4": {}}
    noise_ends = [x for x in (0.0, 1.0) if x in data["noises"]]
    for split in data.get("splits", list(SPLIT_STYLES)):
        for claim, xs, tag in (("claim3", data["ks"], "k{}"), ("claim4", noise_ends, "noise{:g}")):
            names = [f"{split}/{tag.format(x)}" for x in xs]
            runs = [r for r in data["runs"] if all(n in r["sets"] for n in names)]
            if len(xs) < 2 or not runs:
                continue
            acc_key = "acc_rises" if claim == "claim3" else "acc_falls"
            entry = {acc_key: {}}
            for opt in sorted({r["optimizer"] for r in runs}):
                acc = np.mean([[r["sets"][n]["acc"] for n in names] for r in runs if r["optimizer"] == opt], axis=0)
                entry[acc_key][opt] = _rises(acc if claim == "claim3" else -acc, ACC_MARGIN)
            for est, (opt, _) in EST.items():
                rows = [[r["sets"][n].get(est) for n in names] for r in runs if r["optimizer"] == opt]
                rows = [row for row in rows if all(v and v.get("eu") is not None for v in row)]
                if not rows:
                    continue
                au = np.mean([[v["au"] for v in row] for row in rows], axis=0)
                eu = np.mean([[v["eu"] for v in row] for row in rows], axis=0)
                entry[est] = ({"au_falls": _rises(-au), "eu_non_monotone": _non_monotone(eu)} if claim == "claim3"
                              else {"au_rises": _rises(au), "eu_rises": _rises(eu)})
            out[claim][split] = entry
    return out


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
        for split in data.get("splits", ["id_train", "ood_val"]):
            ls = SPLIT_STYLES[split]
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
    styles = ", ".join(f"{SPLIT_STYLES[s]} {s.replace('_', '-')}" for s in data.get("splits", ["id_train", "ood_val"]))
    runs = ("AdamW positive-control runs, T = 40, alpha 0.6" if data.get("base") == "positive-control"
            else "study runs")
    n_seeds = len({r["seed"] for r in data["runs"]})
    fig.suptitle(f"In-context modular arithmetic (p = 7), {runs}: context length and context noise "
                 f"(lines {styles}; mean of {n_seeds} seed(s), band min-max)", fontsize=10)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help=f"output PNG (PDF, JSON beside; default figures/{NAME}.png, with "
                                  f"--base positive-control figures/{NAME}_positive_control.png)")
    ap.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    ap.add_argument("--base", choices=sorted(BASE_SPLITS), default="study", help="which runs (module docstring)")
    ap.add_argument("--steps", type=int, help="steps of the positive-control runs (default: the preset's)")
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = f"figures/{NAME}{'_positive_control' if args.base == 'positive-control' else ''}.png"
    data = compute(args.root, args.base, args.steps)
    if not data["runs"]:
        stored = stored_numbers(args.out, NAME)
        if stored and stored.get("base", "study") == args.base:
            data = stored
    if not data["runs"]:
        raise FigureUnavailable(f"{NAME}: cannot draw, no in-context runs ({args.base}) under {args.root} and no "
                                "stored numbers for them")
    return draw(data, args.out)


if __name__ == "__main__":
    script_main(main)
