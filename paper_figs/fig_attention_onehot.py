"""Figure: single-layer attention copying one-hot tokens (``docs/attention_onehot.md``), large N.

Priors s_qk = 0.25, s_uv = 9, vocabulary V = 4; beta = alpha / sigma^2:

(a) softmax attention in the (beta, L) plane (L continuous): equilibrium copy weight c as an image,
    the first-order line beta_c(L) between the spinodals, the crossover line (steepest point)
    below the critical end point L_c(4) (star) (§5);
(b) beta_c against ln L up to L = 1e6 for both score priors, with the large-L laws (§5): product
    prior, the ln L term alone and with its ln ln L correction, V/(V-1)(ln L + ln ln L)/s_qk;
    Gaussian logits, the leading V/(V-1) ln^2 L/(4 s_qk^2) and the corrected
    V/(V-1)(ln L + ln ln L)^2/(4 s_qk^2).  Inset: beta_c over each law;
(c) linear attention (§6): the copy order parameter w_c = g kappa and the mean-channel ones
    w_m = a m, w_a = g a of the equilibrium state against beta / beta_c, at L = 8 (continuous
    onset in the mean channel, then a crossover of w_c, steepest point marked) and at L = 512 > L_c2(4)
    (a secondary first-order jump of w_c at beta_c2; thin: the metastable state between the
    secondary spinodals).

Run as a script (``--out PATH``) or via ``grokphase figs``.  Writes PNG + PDF + the plotted numbers
(JSON) next to each other, atomically.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np

from grokphase import attention
from grokphase.numerics import attention_onehot as oh
from grokphase.paper_figs._output import save_figure, script_main
from grokphase.paper_figs.fig_attention_phase_diagram import _diagram, _nan_list, _panel_diagram

REF = dict(V=4.0, s_qk=0.25, s_uv=9.0)


def _large_L(Ls, V, s_qk, s_uv) -> dict:
    """beta_c(L) for both score priors and the asymptotic laws of §5 (JSON-ready)."""
    out = {}
    lnL = np.log(Ls)
    for prior in oh.PRIORS:
        ts = [attention.transition(L=float(L), s_qk=s_qk, s_uv=s_uv, tokens="onehot", V=V, score_prior=prior)
              for L in Ls]
        if prior == "product":   # the ln L term alone (the law's leading order), and with ln ln L
            leading = V / (V - 1) * lnL / s_qk
            corrected = oh.softmax_beta_c_asymptotic(Ls, V, s_qk, "product")
        else:
            leading = oh.softmax_beta_c_asymptotic(Ls, V, s_qk, "gaussian", "leading")
            corrected = oh.softmax_beta_c_asymptotic(Ls, V, s_qk, "gaussian", "refined")
        out[prior] = dict(order=[t.order for t in ts], beta_c=[t.beta_c for t in ts],
                          kappa_copy=[t.copy.kappa for t in ts], law_leading=leading.tolist(),
                          law_corrected=corrected.tolist(), converged=all(t.converged for t in ts))
    return dict(L=[float(L) for L in Ls], ln_L=lnL.tolist(), **out)


def _linear_curve(L, V, s_qk, s_uv, factors) -> dict:
    """Equilibrium (and metastable) w_c, w_m, w_a along beta = factor * beta_c at one L (§6)."""
    t = attention.transition(L=L, kind="linear", s_qk=s_qk, s_uv=s_uv, tokens="onehot", V=V)
    eq = {n: [] for n in ("w_c", "w_m", "w_a")}
    meta, conv = [], True
    for f in factors:
        beta = float(f * t.beta_c)
        states = oh.linear_stable_states(beta, L, V, s_qk, s_uv)
        conv &= all(s.converged for s in states)
        if not states:
            pick, other = None, None
        elif t.secondary == "jump" and len(states) == 2:
            pick, other = (states[0], states[1]) if beta < t.beta_c2 else (states[1], states[0])
        else:
            pick, other = states[-1], None
        for n in eq:
            eq[n].append(0.0 if pick is None else getattr(pick, n))
        meta.append(math.nan if other is None else other.w_c)
    summary = dict(L=float(L), beta_c=t.beta_c, order=t.order, onset_channel=t.onset_channel, s_tc=t.s_tc,
                   secondary=t.secondary, converged=bool(t.converged and conv))
    if t.secondary == "jump":
        summary.update(beta_c2=t.beta_c2, beta_spinodal2=list(t.beta_spinodal2), jump_w_c=t.jump_w_c,
                       w_c_low=t.low.w_c, w_c_high=t.high.w_c)
    else:
        summary.update(beta_steepest=t.beta_steepest, w_c_steepest=t.w_c_steepest, max_slope=t.max_slope)
    return dict(summary=summary, x=[float(f) for f in factors], **eq, w_c_metastable=_nan_list(meta))


def compute(*, V: float = REF["V"], s_qk: float = REF["s_qk"], s_uv: float = REF["s_uv"], n_beta: int = 160,
            beta_max: float = 45.0, n_L: int = 67, L_max: float = 24.0, Ls_large=None,
            L_linear=(8.0, 512.0), n_linear: int = 120, fit_exponents: bool = True) -> dict:
    """The numbers of every panel, as plain lists (JSON-ready; nan -> null)."""
    betas = np.linspace(0.5, beta_max, n_beta)
    pd = attention.phase_diagram(betas, np.linspace(2.0, L_max, n_L), s_qk=s_qk, s_uv=s_uv, tokens="onehot", V=V)
    cep = attention.critical_end_point(s_qk=s_qk, s_uv=s_uv, tokens="onehot", V=V, fit_exponents=fit_exponents)
    t8 = attention.transition(L=8, s_qk=s_qk, s_uv=s_uv, tokens="onehot", V=V)
    Ls_large = np.geomspace(30.0, 1e6, 16) if Ls_large is None else np.asarray(Ls_large, dtype=float)
    lep = attention.critical_end_point(kind="linear", s_qk=s_qk, s_uv=s_uv, tokens="onehot", V=V,
                                       bracket=(128.0, 512.0), fit_exponents=False)
    factors = np.geomspace(0.5, 200.0, n_linear)
    return dict(params=dict(V=V, s_qk=s_qk, s_uv=s_uv),
                softmax=dict(diagram=_diagram(pd, cep),
                             ref=dict(L=8.0, beta_c=t8.beta_c, beta_spinodal=list(t8.beta_spinodal),
                                      barrier=t8.barrier, c_uniform=t8.uniform.c, c_copy=t8.copy.c)),
                large_L=_large_L(Ls_large, V, s_qk, s_uv),
                linear=dict(L_c2=lep.x_c, beta_L_c2=lep.beta_star,
                            curves=[_linear_curve(float(L), V, s_qk, s_uv, factors) for L in L_linear]))


def draw(data: dict, path: str | os.PathLike) -> list[Path]:
    """Draw the three panels; write PNG and PDF (same stem) and JSON of ``data``.  Returns paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    p = data["params"]
    fig, axes = plt.subplots(1, 3, figsize=(14.0, 4.9), constrained_layout=True)
    d = data["softmax"]["diagram"]
    im = _panel_diagram(axes[0], d, r"sequence length $L$", Normalize(0.0, 1.0), plt.get_cmap("viridis"))
    axes[0].legend(fontsize=7, loc="lower right", facecolor="0.25", labelcolor="white", framealpha=0.8)
    fig.colorbar(im, ax=axes[0], location="bottom", shrink=0.8, aspect=30, pad=0.02).set_label(
        r"equilibrium copy weight $c$")

    ax = axes[1]
    ll = data["large_L"]
    x = np.array(ll["ln_L"])
    ins = ax.inset_axes([0.1, 0.66, 0.36, 0.29])
    for prior, color, name in (("product", "C0", r"product $QK^T/N$"), ("gaussian", "C3", "Gaussian logits")):
        r = ll[prior]
        bc = np.array(r["beta_c"])
        ax.plot(x, bc, "o", color=color, ms=4, label=f"{name}: " + r"$\beta_c$")
        ax.plot(x, r["law_leading"], ":", color=color, lw=1.3, label="leading law")
        ax.plot(x, r["law_corrected"], "--", color=color, lw=1.3, label=r"with $\ln\ln L$")
        ins.plot(x, bc / np.array(r["law_leading"]), ":", color=color, lw=1.2)
        ins.plot(x, bc / np.array(r["law_corrected"]), "--", color=color, lw=1.2)
    ins.axhline(1.0, color="0.5", lw=0.6)
    ins.set_title(r"$\beta_c$ / law", fontsize=7, pad=2)
    ins.tick_params(labelsize=6)
    ax.set_yscale("log")
    ax.set_xlabel(r"$\ln L$")
    ax.set_ylabel(r"$\beta_c$ (softmax, first order)")
    ax.set_ylim(3.0, 3e4)
    ax.legend(fontsize=7, loc="lower right", ncol=2)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)

    ax = axes[2]
    for cv, color in zip(data["linear"]["curves"], ("C0", "C3")):
        s, xs = cv["summary"], np.array(cv["x"])
        tag = f"$L$ = {s['L']:g}"
        ax.plot(xs, cv["w_c"], "-", color=color, lw=1.8, label=tag + r": copy $w_c = g\kappa$")
        ax.plot(xs, cv["w_m"], "--", color=color, lw=1.2, label=tag + r": mean $w_m = a m$")
        ax.plot(xs, cv["w_a"], ":", color=color, lw=1.2, label=tag + r": $w_a = g a$")
        meta = np.array([np.nan if v is None else v for v in cv["w_c_metastable"]])
        if np.isfinite(meta).any():
            ax.plot(xs, meta, "-", color=color, lw=0.7, alpha=0.7)
        if s["secondary"] == "jump":
            xj = s["beta_c2"] / s["beta_c"]
            ax.plot([xj, xj], [s["w_c_low"], s["w_c_high"]], "-", color=color, lw=0.8)
            ax.plot(xj, s["w_c_high"], "v", color=color, ms=6,
                    label=rf"secondary jump $\Delta w_c$ = {s['jump_w_c']:.3f}")
        else:
            ax.plot(s["beta_steepest"] / s["beta_c"], s["w_c_steepest"], "o", color=color, mfc="white", ms=6,
                    label="steepest $w_c$ (crossover)")
    ax.axvline(1.0, color="0.4", lw=0.7)
    ax.set_xscale("log")
    ax.set_xlabel(r"$\beta / \beta_c$ (continuous onset at 1)")
    ax.set_ylabel("order parameter (equilibrium)")
    ax.set_ylim(-0.02, 1.05)
    ax.legend(fontsize=6.5, loc="lower right")
    ax.grid(True, which="both", lw=0.3, alpha=0.5)

    titles = (f"(a) softmax, $V$ = {p['V']:g}: first-order line and end point",
              r"(b) softmax $\beta_c$ at large $L$, both score priors",
              f"(c) linear, $V$ = {p['V']:g}: mean channel, then copying")
    for ax, title in zip(axes, titles):
        ax.set_title(title, loc="left", fontsize=10)
    fig.suptitle(f"Attention copying one-hot tokens, large $N$ ($s_{{qk}}$ = {p['s_qk']:g}, "
                 f"$s_{{uv}}$ = {p['s_uv']:g})", fontsize=11)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="figures/fig_attention_onehot.png", help="output path (PNG; PDF/JSON beside)")
    args = ap.parse_args(argv)
    return draw(compute(), args.out)


if __name__ == "__main__":
    script_main(main)
