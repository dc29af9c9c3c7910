"""Figure: the task-diversity transition with posteriors on the same nets (``docs/icl_grokking.md`` §4,
claim 1), in-context modular arithmetic at p = 7 on the positive-control settings: final-z accuracy
per split, and EU and AU of each posterior estimator on the OOD splits, against the number of
pretraining tasks T.

Runs (seed 0; T = 4 n_task; resumable, about 35-70 min each on one core):
``grokphase uncertainty diversity --base positive-control --n-task N --alpha 0.6 --steps 30000 --train
--root runs/study_pc`` for N in 2 4 6 8 10 (alpha 0.6, n_ctx 8, 2 layers, d 64, 4 heads, AdamW
lr 3e-3 cosine over 30k steps, wd 0.1, balanced batches of ~160 rows: every task once on each input
sequence), evaluated at the last snapshot on 64 fresh input sequences x all tasks of each split.
T values whose run does not exist are left out (the title lists the T drawn).

A fourth panel shows OOD-train (and, dotted, ID-train) accuracy through training, read from the
runs' metrics (the evaluation sets of the training log): a run can generalise to unseen tasks early
and lose it while it memorises its tasks, so the verdict also lists each run's peak.

Criteria (fixed before the runs):
- the transition is seen when OOD-train accuracy is < 0.25 at the smallest T drawn and >= 0.4 at
  the largest (chance 1/7 = 0.143);
- claim 1 ("EU on OOD falls where OOD accuracy rises") holds for an estimator when its OOD-train
  EU at every T with OOD-train accuracy >= 0.4 is below its EU at every T with accuracy < 0.25;
  it cannot be tested when either group is empty.
Without the run folders the script redraws the committed JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import FigureUnavailable, save_figure, script_main, stored_numbers

NAME = "fig_icl_task_transition"
SPLITS = ("id_train", "id_val", "ood_train", "ood_val")
N_TASKS = (2, 4, 6, 8, 10)
ALPHA, STEPS, P = 0.6, 30000, 7
LOW, HIGH = 0.25, 0.4


def estimators(cells: list) -> list[str]:
    """The posterior estimators that have a finite EU on OOD-train in some cell."""
    names = set()
    for c in cells:
        for k, v in c["sets"]["ood_train"].items():
            if isinstance(v, dict) and v.get("eu") is not None and np.isfinite(v["eu"]):
                names.add(k)
    return sorted(names)


def _value(cell: dict, split: str, estimator: str, q: str) -> float:
    """cell's ``q`` of ``estimator`` on ``split``; NaN where it does not apply (None in stored JSON)."""
    v = cell["sets"][split].get(estimator, {}).get(q)
    return np.nan if v is None else float(v)


def verdict(cells: list) -> dict:
    """The transition and claim-1 verdicts of the module docstring from the cells (one per T).

    >>> c = lambda T, a, eu: {"T": T, "sets": {"ood_train": {"acc": a, "laplace": {"eu": eu}}}}
    >>> v = verdict([c(8, 0.15, 0.9), c(16, 0.3, 0.5), c(40, 0.5, 0.1)])
    >>> v["transition_seen"], v["claim1"]["laplace"]
    (True, 'holds')
    >>> verdict([c(8, 0.15, 0.1), c(40, 0.5, 0.9)])["claim1"]["laplace"]
    'fails'
    >>> verdict([c(40, 0.5, 0.9)])["claim1"]["laplace"]
    'untestable'
    """
    cells = sorted(cells, key=lambda c: c["T"])
    acc = [c["sets"]["ood_train"]["acc"] for c in cells]
    out = {"T": [c["T"] for c in cells], "ood_train_acc": acc,
           "ood_train_peak": [peak(c) for c in cells],
           "transition_seen": bool(acc and acc[0] < LOW and acc[-1] >= HIGH), "claim1": {}}
    for e in estimators(cells):
        eu = [_value(c, "ood_train", e, "eu") for c in cells]
        low = [u for u, a in zip(eu, acc) if a < LOW and not np.isnan(u)]       # inf counts: it is a value
        high = [u for u, a in zip(eu, acc) if a >= HIGH and not np.isnan(u)]
        out["claim1"][e] = ("untestable" if not low or not high else
                            "holds" if max(high) < min(low) else "fails")
    return out


TRAJECTORY = ("id_train_acc", "ood_train_acc", "ood_val_acc")


def compute(root="runs/study_pc") -> dict:
    from grokphase.validation.experiments.uncertainty_runs import diversity_grid, diversity_run
    from grokphase.validation.training import read_metrics

    data = diversity_grid(N_TASKS, (ALPHA,), 0, root, steps=STEPS, base="positive-control")
    for c in data["cells"]:
        rows = read_metrics(diversity_run(c["T"] // 4, ALPHA, 0, root, steps=STEPS, base="positive-control")[1])
        rows = [r for r in rows if all(r.get(k) is not None for k in TRAJECTORY)]
        c["trajectory"] = {"step": [r["step"] for r in rows], **{k: [r[k] for r in rows] for k in TRAJECTORY}}
    if data["cells"]:
        data["verdict"] = verdict(data["cells"])
    return data


def peak(cell: dict) -> tuple[float, int] | None:
    """(max OOD-train accuracy over the logged steps, its step) of a cell with a trajectory.

    >>> peak({"trajectory": {"step": [0, 500, 1000], "ood_train_acc": [0.1, 0.6, 0.3]}})
    (0.6, 500)
    """
    tr = cell.get("trajectory")
    if not tr or not tr["step"]:
        return None
    i = int(np.argmax(tr["ood_train_acc"]))
    return float(tr["ood_train_acc"][i]), int(tr["step"][i])


def draw(data: dict, path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = sorted(data["cells"], key=lambda c: c["T"])
    Ts = [c["T"] for c in cells]
    est = estimators(cells)
    with_traj = any(c.get("trajectory") for c in cells)
    fig, axes = plt.subplots(1, 4 if with_traj else 3, figsize=(17 if with_traj else 13, 4), constrained_layout=True)
    ax = axes[0]
    for split in SPLITS:
        ax.plot(Ts, [c["sets"][split]["acc"] for c in cells], "o-", label=split.replace("_", "-"))
    ax.axhline(1 / P, color="k", ls=":", lw=1, label="chance 1/p")
    ax.axhspan(LOW, HIGH, color="0.9", zorder=0, label=f"between {LOW} and {HIGH}")
    ax.set_ylabel("final-z accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    for ax, q, lab in ((axes[1], "eu", "EU (nats)"), (axes[2], "au", "AU (nats)")):
        for e in est:
            for split, ls in (("ood_train", "-"), ("ood_val", "--")):
                ax.plot(Ts, [_value(c, split, e, q) for c in cells], "o" + ls, label=f"{e}, {split.replace('_', '-')}")
        ax.set_ylabel(lab)
        if q == "eu":
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    for ax in axes[:3]:
        ax.set_xlabel("pretraining tasks T")
        ax.set_xticks(Ts)
    if with_traj:
        ax = axes[3]
        for i, c in enumerate(cells):
            tr = c.get("trajectory")
            if tr:
                col = plt.get_cmap("viridis")(i / max(1, len(cells) - 1))
                ax.plot(tr["step"], tr["ood_train_acc"], color=col, lw=1.2, label=f"T = {c['T']}: OOD-train")
                ax.plot(tr["step"], tr["id_train_acc"], color=col, lw=0.7, ls=":")
        ax.axhline(1 / P, color="k", ls=":", lw=1)
        ax.set_xlabel("training step")
        ax.set_ylabel("final-z accuracy (dotted: ID-train)")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    v = data.get("verdict") or verdict(cells)
    fig.suptitle(f"In-context arithmetic, p = {P}, alpha {ALPHA}, {STEPS:,} steps, seed 0 (T = {Ts}): transition "
                 f"{'seen' if v['transition_seen'] else 'not seen'}; claim 1 per estimator: "
                 + ", ".join(f"{e} {r}" for e, r in v["claim1"].items()), fontsize=9)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=f"figures/{NAME}.png", help="output PNG (PDF, JSON beside)")
    ap.add_argument("--root", default="runs/study_pc", help="parent folder of the runs")
    args = ap.parse_args(argv)
    data = compute(args.root)
    if not data["cells"]:
        data = stored_numbers(args.out, NAME) or data
    if not data["cells"]:
        raise FigureUnavailable(f"{NAME}: cannot draw, no runs under {args.root} and no stored numbers "
                                "(see the module docstring for the commands)")
    return draw(data, args.out)


if __name__ == "__main__":
    script_main(main)
