"""Figure: the in-context positive control (``docs/icl_grokking.md`` §1; p = 7, T = 40 tasks,
alpha 0.6, n_ctx 8, 2 layers, d 64, 4 heads, AdamW lr 3e-3 cosine, wd 0.1, 45k steps, balanced
batches of 160 = 4 input sequences x 40 tasks): final-z accuracy on 64 fresh input sequences x
all tasks of each split against the training step, one thin line per seed and the median, with
chance (1/p) and the ratio-matching ceiling of each split's evaluation set (of the lowest seed: each
seed draws its own sets; ID-train can pass it, its tasks being learned).

Criterion (fixed before the runs): OOD-train accuracy >= 0.4 at the last step in >= 2 of 3 seeds.
Runs: ``grokphase train icl --preset positive-control --seed S --run-dir runs/icl_positive_seedS``
(S = 0, 1, 2; resumable).  Without the run folders the script redraws the committed JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import FigureUnavailable, save_figure, script_main, stored_numbers

NAME = "fig_icl_positive_control"
SPLITS = ("id_train", "id_val", "ood_train", "ood_val")
THRESHOLD = 0.4
SEEDS = (0, 1, 2)


def verdict(final_ood_train: dict) -> dict:
    """{seed: final OOD-train accuracy} -> which seeds pass (>= THRESHOLD) and whether >= 2 of 3 do.

    >>> verdict({0: 0.51, 1: 0.44, 2: 0.31})
    {'passing_seeds': [0, 1], 'n_seeds': 3, 'passes': True}
    >>> verdict({0: 0.51})["passes"]
    False
    """
    ok = sorted(int(s) for s, a in final_ood_train.items() if a >= THRESHOLD)
    return {"passing_seeds": ok, "n_seeds": len(final_ood_train), "passes": len(ok) >= 2}


def compute(root="runs", seeds=SEEDS) -> dict:
    """The accuracies of every finished or running seed under ``root/icl_positive_seedS``."""
    from grokphase.validation.experiments import icl_training as it

    runs = {}
    for s in seeds:
        d = Path(root) / f"icl_positive_seed{s}"
        if not (d / "metrics.jsonl").exists():
            continue
        rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines() if line.strip()]
        cfg = json.loads((d / "config.json").read_text())
        runs[s] = {"config_hash": cfg.get("config_hash"), "step": [r["step"] for r in rows],
                   **{k: [r[f"{k}_acc"] for r in rows] for k in SPLITS}}
    if not runs:
        return {"runs": {}}
    import dataclasses

    run = dataclasses.replace(it.PRESETS["positive-control"], seed=min(runs))
    _, _, _, _, _, _, tasks, eval_sets = it._build(run)
    stats = it.eval_set_stats(tasks, eval_sets)
    finished = {s: r["ood_train"][-1] for s, r in runs.items() if r["step"][-1] >= run.steps}
    return {"runs": runs, "steps": run.steps, "eval_sets": stats, "threshold": THRESHOLD,
            "final": {s: {k: runs[s][k][-1] for k in SPLITS} for s in finished}, "verdict": verdict(finished)}


def draw(data: dict, path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8), sharey=True, constrained_layout=True)
    runs = data["runs"]
    for ax, split in zip(axes, SPLITS):
        curves = []
        for s, r in runs.items():
            ax.plot(r["step"], r[split], lw=0.7, alpha=0.6, label=f"seed {s}")
            curves.append((np.array(r["step"]), np.array(r[split], float)))
        n = min(len(c[0]) for c in curves)
        ax.plot(curves[0][0][:n], np.median([c[1][:n] for c in curves], axis=0), color="k", lw=1.8, label="median")
        st = data["eval_sets"][split]
        ax.axhline(st["chance"], color="0.5", ls=":", label="chance")
        ax.axhline(st["ratio_ceiling"], color="C3", ls="--", lw=0.8, label="ratio ceiling")
        if split == "ood_train":
            ax.axhline(data["threshold"], color="C2", ls="-.", lw=0.8, label="criterion")
        ax.set_title(f"{split.replace('_', '-')} ({st['n_tasks']} tasks x {st['n_seqs']} seqs)", fontsize=10)
        ax.set_xlabel("training step")
    axes[0].set_ylabel("final-z accuracy")
    axes[0].set_ylim(0, 1)
    axes[-1].legend(fontsize=7, loc="upper left")
    v = data["verdict"]
    fig.suptitle(f"In-context positive control, p = 7, T = 40: OOD-train >= {data['threshold']} at the end in "
                 f"{len(v['passing_seeds'])} of {v['n_seeds']} finished seeds "
                 f"({'passes' if v['passes'] else 'does not pass'})", fontsize=11)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=f"figures/{NAME}.png", help="output PNG (PDF, JSON beside)")
    ap.add_argument("--root", default="runs", help="parent folder of the runs icl_positive_seedS")
    args = ap.parse_args(argv)
    data = compute(args.root)
    if not data["runs"]:
        data = stored_numbers(args.out, NAME) or data
    if not data["runs"]:
        raise FigureUnavailable(f"{NAME}: cannot draw, no runs {args.root}/icl_positive_seedS and no stored numbers")
    return draw(data, args.out)


if __name__ == "__main__":
    script_main(main)
