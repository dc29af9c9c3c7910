"""Shared reading for the uniformity figures: finished runs of the designs' plans, as curves.

Only data handling (no model computations); ``docs/uniformity_med.md`` describes the runs.
"""

from __future__ import annotations

import logging

log = logging.getLogger("grokphase.paper_figs")


def curves(rows: list[dict], keys) -> dict:
    """{key: [row[key] per logged row]} (None where a row lacks it)."""
    return {k: [r.get(k) for r in rows] for k in ("step", *keys)}


def finished(runs, load_run) -> list[tuple]:
    """[(run, loaded)] for the runs whose summary exists (``load_run`` of their design module)."""
    out = []
    for run in runs:
        got = load_run(run)
        if got is not None:
            out.append((run, got))
    return out


def figure_main(name: str, doc: str, compute, draw, default_runs, what: str, argv=None, runs=None,
                key: str = "runs") -> list:
    """The ``main`` of a uniformity figure: ``--out``; draw from the finished runs (``runs``, else
    ``default_runs()``), else from the stored numbers, else skip with a warning naming ``what``
    (the presets to run).  ``key``: the entry of the computed data that is empty without runs."""
    import argparse

    from grokphase.paper_figs._output import stored_numbers

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", default=f"figures/{name}.png", help="output PNG (PDF, JSON beside)")
    args = ap.parse_args(argv)
    data = compute(default_runs() if runs is None else runs)
    if not data[key]:
        data = stored_numbers(args.out, name) or data
    return draw(data, args.out) if data[key] else skip(name, what)


def skip(name: str, what: str) -> list:
    log.warning("%s: skipped, no finished runs of %s and no stored numbers (see the script's docstring)", name, what)
    return []


def draw_curves(data: dict, panels, title: str, path):
    """One panel per (title, [keys], ylabel, log-y) of ``panels``; one colour per run of
    ``data["runs"]`` ({"label", "curves"}), one line style per key.  Writes PNG/PDF/JSON."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from grokphase.paper_figs._output import save_figure

    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 3.8), squeeze=False, constrained_layout=True)
    styles = ("-", "--", ":", "-.")
    for i, r in enumerate(data["runs"]):
        c = {k: np.array([np.nan if v is None else v for v in vals], float) for k, vals in r["curves"].items()}
        st = np.maximum(c["step"], 1)
        for ax, (_, keys, _, _) in zip(axes[0], panels):
            for key, ls in zip(keys, styles):
                if key in c:
                    ax.plot(st, c[key], ls, color=f"C{i % 10}", lw=1.2,
                            label=f"{r['label']}" + (f" [{key}]" if len(keys) > 1 else ""))
    for ax, (t, keys, ylabel, logy) in zip(axes[0], panels):
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("optimiser step")
        ax.set_ylabel(ylabel)
        ax.set_title(t, loc="left", fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, data, path)
