"""Figure: the Fourier (Parseval) form of adjacent distances, checked (no training needed).

Draws ``grokphase.validation.experiments.fourier_identity.compute()``: (a) rms adjacent distance
from the spectrum against the direct one for Gaussian, clock, perturbed-clock and quadratic-network
embeddings, (b) their relative differences, (c) the spectral weight sin^2(pi f/p) beside the
normalised spectra of a clock, a 3-frequency and a Gaussian embedding (p = 97), (d) MED / rms
against the spacing spread with mean / rms = 1 / sqrt(1 + spread^2) (MED differs from the cyclic
mean by the two pairs it leaves out).  Model: ``docs/uniformity_med.md``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import save_figure
from grokphase.validation.experiments.fourier_identity import FourierIdentity, compute

NAME = "fig_uniformity_fourier"


def draw(data: dict, path: str | os.PathLike) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data["rows"]
    kinds = {"gaussian": ("C0", "o"), "clock": ("C1", "s"), "quadratic": ("C3", "*")}
    fig, ax = plt.subplots(1, 4, figsize=(17, 4), constrained_layout=True)
    for kind, (col, mk) in kinds.items():
        r = [x for x in rows if x["kind"] == kind]
        rms = np.array([x["rms"] for x in r])
        ax[0].loglog(rms, [x["rms_spectrum"] for x in r], mk, color=col, ms=4, alpha=0.7, label=f"{kind} ({len(r)})")
        ax[1].semilogy(rms, np.maximum([x["rel_err"] for x in r], 1e-17), mk, color=col, ms=4, alpha=0.7)
        ax[3].plot([x["spread"] for x in r], np.array([x["med"] for x in r]) / rms, mk, color=col, ms=4,
                   alpha=0.7, label=f"MED / rms, {kind}")
    lim = [min(x["rms"] for x in rows) / 2, max(x["rms"] for x in rows) * 2]
    ax[0].plot(lim, lim, "k-", lw=0.6)
    ax[1].set_xscale("log")
    ax[1].axhline(1e-12, color="k", ls=":", lw=0.8, label="test tolerance 1e-12")
    s = np.linspace(0, max(x["spread"] for x in rows) * 1.05, 100)
    ax[3].plot(s, 1 / np.sqrt(1 + s**2), "k-", lw=1, label="mean / rms = 1/sqrt(1 + spread^2)")
    p = data["clock_p"]
    f = np.arange(1, (p - 1) // 2 + 1)
    ax[2].plot(f, data["weights"][str(p)], "k-", lw=1.2, label="sin^2(pi f / p)")
    for (name, pw), col in zip(data["spectra"].items(), ("C1", "C2", "C0")):
        ax[2].plot(f, pw, ".-", color=col, ms=3, lw=0.7, label=f"P_f / sum P, {name}")
    exact = ", ".join(f"p={q}: {'0' if ok else 'NONZERO'}" for q, ok in data["exact"].items())
    titles = ("(a) rms adjacent: spectrum vs direct", f"(b) relative difference (exact residual {exact})",
              f"(c) weight and spectra, p = {p}", "(d) MED vs spacing spread")
    labels = (("rms, direct", "rms from spectrum"), ("rms, direct", "|spectrum / direct - 1| (0 drawn at 1e-17)"),
              ("frequency f (f and p - f merged)", "weight / normalised power"),
              ("spacing spread (sd / mean of the p distances)", "ratio to the rms"))
    for a, t, (xl, yl) in zip(ax, titles, labels):
        a.set_title(t, loc="left", fontsize=9)
        a.set_xlabel(xl)
        a.set_ylabel(yl)
        a.legend(fontsize=7)
    fig.suptitle("(1/p) sum_t |e_{t+1} - e_t|^2 = (4/p^2) sum_f sin^2(pi f/p) P_f on every embedding", fontsize=11)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=f"figures/{NAME}.png", help="output PNG (PDF, JSON beside)")
    args = ap.parse_args(argv)
    return draw(compute(FourierIdentity()), args.out)


if __name__ == "__main__":
    main()
