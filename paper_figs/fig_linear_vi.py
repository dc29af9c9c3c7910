"""Figure: delayed generalisation and the epistemic-uncertainty peak in the linear-VI model.

Regenerates Fig. 6 of arXiv 2604.12434 (four panels) plus two panels the paper lacks ((c), (f)):
(a) closure accuracy [95] vs flow time, train (solid) and population (dotted), for several lam;
(b) thresholded EU [11] (peaks at ln 2); (c) regression-level EU [92] (monotone, no peak);
(d) milestones of the population curve vs lam: 95% time and EU-peak time;
(e) delays vs lam: exact numerical (grokking and EU peak) vs the asymptotic formula [80];
(f) exact delay / [80] vs lam for several eps: how far the formula is from the exact delay, and
    its slow (~1/log(1/eps)) approach to 1.

Defaults: lam in {0.2, 0.6, 0.99}, n/sigma^2 = 5e7, flat prior, eps = 1e-3, C0 = 1 (the paper does
not state its parameters; this reproduces its time axis).  Run as a script or via
``grokphase figs`` / ``grokphase linear-vi --plot PATH``.  Writes PNG + PDF + the plotted numbers
(JSON) next to each other, atomically.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import save_figure, script_main

from grokphase.linear_vi import LinearVIModel, sweep_lam

DEFAULT_LAMS = (0.2, 0.6, 0.99)


RATIO_EPS = (1e-3, 1e-8, 1e-30, 1e-100)


def compute(lams=DEFAULT_LAMS, *, n_over_sigma2: float = 5e7, inv_tau2: float = 0.0,
            eps: float = 1e-3, n_times: int = 400, n_sweep: int = 60) -> dict:
    """The numbers of every panel, as plain lists (JSON-ready)."""
    t = np.logspace(-10, -1, n_times)
    sw = sweep_lam(lams, t, n_over_sigma2=n_over_sigma2, inv_tau2=inv_tau2, eps=eps)
    curves = {}
    for i, lam in enumerate(lams):
        m = LinearVIModel(lam, n_over_sigma2, inv_tau2=inv_tau2, eps=eps)
        row = sw.isel(lam=i)
        curves[repr(float(lam))] = dict(
            **{k: row[k].values.tolist() for k in ("acc_emp", "acc_gen", "eu_th_emp", "eu_th_gen",
                                                   "eu_reg_emp", "eu_reg_gen")},
            grokking_times=list(m.grokking_times()), eu_peak_times=list(m.eu_peak_times()))
    sweep_lams = np.linspace(0.02, 0.99, n_sweep)
    rows = []
    for lam in sweep_lams:
        m = LinearVIModel(float(lam), n_over_sigma2, inv_tau2=inv_tau2, eps=eps)
        g = m.grokking_times()
        e = m.eu_peak_times()
        ratios = {repr(e_): LinearVIModel(float(lam), n_over_sigma2, inv_tau2, e_).delay()
                  / m.delay_asymptotic() for e_ in RATIO_EPS}
        rows.append(dict(lam=float(lam), t95_emp=g[0], t95_gen=g[1], teu_emp=e[0], teu_gen=e[1],
                         delay=g[1] - g[0], eu_peak_delay=e[1] - e[0],
                         delay_asymptotic=m.delay_asymptotic(), ratio_exact_over_80=ratios))
    return dict(params=dict(lams=list(map(float, lams)), n_over_sigma2=n_over_sigma2,
                            inv_tau2=inv_tau2, eps=eps, C0=1.0),
                t=t.tolist(), curves=curves, sweep=rows)


def draw(data: dict, path: str | os.PathLike) -> list[Path]:
    """Draw the six panels; write PNG and PDF (same stem) and JSON of ``data``.  Returns paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray(data["t"])
    fig, grid = plt.subplots(2, 3, figsize=(15, 8.5), constrained_layout=True)
    axes = grid.ravel()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (lam, c) in enumerate(data["curves"].items()):
        col = colors[k % len(colors)]
        for ax, key, ylabel in ((axes[0], "acc", "accuracy (closure [95])"),
                                (axes[1], "eu_th", "thresholded EU [11] (nats)"),
                                (axes[2], "eu_reg", "regression EU [92] (nats)")):
            ax.plot(t, c[key + "_emp"], "-", color=col, label=f"λ={float(lam):g} train")
            ax.plot(t, c[key + "_gen"], ":", color=col, lw=2, label=f"λ={float(lam):g} test")
            ax.set_xscale("log")
            ax.set_xlabel("flow time t")
            ax.set_ylabel(ylabel)
        for tt in c["eu_peak_times"]:
            axes[1].axvline(tt, color=col, lw=0.5, alpha=0.5)
    axes[1].axhline(np.log(2), color="k", lw=0.5, ls="--")
    axes[2].set_yscale("log")   # the floor -1/2 log(1 - lam) spans decades across lam
    axes[0].legend(fontsize=7)
    sw = data["sweep"]
    lam_s = [r["lam"] for r in sw]
    ax = axes[3]
    ax.plot(lam_s, [r["t95_gen"] for r in sw], label="95% time (test)")
    ax.plot(lam_s, [r["teu_gen"] for r in sw], label="EU-peak time (test)")
    ax.plot(lam_s, [r["t95_emp"] for r in sw], "--", label="95% time (train)")
    ax.set_yscale("log")
    ax.set_xlabel("λ = d/n")
    ax.set_ylabel("milestone time")
    ax.legend(fontsize=7)
    ax = axes[4]
    ax.plot(lam_s, [r["eu_peak_delay"] for r in sw], label="EU-peak delay (exact)")
    ax.plot(lam_s, [r["delay"] for r in sw], label="grokking delay (exact)")
    ax.plot(lam_s, [r["delay_asymptotic"] for r in sw], "k--", label="asymptotic [80]")
    ax.set_yscale("log")
    ax.set_xlabel("λ = d/n")
    ax.set_ylabel("delay Δt")
    ax.legend(fontsize=7)
    ax = axes[5]
    for e_ in RATIO_EPS:
        ax.plot(lam_s, [r["ratio_exact_over_80"][repr(e_)] for r in sw], label=f"ε = {e_:g}")
    ax.axhline(1.0, color="k", lw=0.5)
    ax.set_xlabel("λ = d/n")
    ax.set_ylabel("exact delay / asymptotic [80]")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7)
    for ax, tag in zip(axes, "abcdef"):
        ax.set_title(f"({tag})", loc="left")
    p = data["params"]
    fig.suptitle(f"Linear VI: n/σ² = {p['n_over_sigma2']:g}, 1/τ² = {p['inv_tau2']:g}, "
                 f"ε = {p['eps']:g}", fontsize=10)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="figures/fig_linear_vi.png", help="output path (PNG; PDF/JSON beside)")
    args = ap.parse_args(argv)
    return draw(compute(), args.out)


if __name__ == "__main__":
    script_main(main)
