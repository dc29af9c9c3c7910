"""Figure: phase diagrams of softmax attention on the copy task, and MAP vs Bayesian thresholds.

Large-N saddle point of ``docs/attention_copy.md`` (§4-§6, §9), priors s_qk = 0.25,
s_uv = 9 unless varied; beta = alpha / sigma^2:

(a) the (beta, L) plane (L treated as continuous): equilibrium copy weight c as an image, the
    first-order line beta_c(L) (equal free energy), both spinodals, the crossover line (steepest
    point of c, dashed) below the critical end point (star);
(b) the same in the (beta, s_qk) plane at L = 8 (log beta axis: beta_c grows fast as s_qk -> 0);
    here the first-order side is small s_qk;
(c) thresholds vs L (integers): Bayesian lower/upper spinodals and beta_c (crossover dashed) against
    the MAP (weight decay = prior) thresholds: beta_local, where the uniform point stops being a
    local minimum (closed form L/s_qk + 1/s_uv), and beta_switch, where copying becomes the global
    MAP minimum.

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
from grokphase.paper_figs._output import save_figure, script_main
from grokphase.results import flag_labels

REF = dict(L=8.0, s_qk=0.25, s_uv=9.0)


def _nan_list(a) -> list:
    """JSON-safe list: nan -> None."""
    return [None if (isinstance(v, float) and math.isnan(v)) else v for v in np.asarray(a).tolist()]


def _diagram(pd, cep=None) -> dict:
    """The plotted numbers of one ``attention.phase_diagram`` Dataset (JSON-ready, nan -> None)."""
    end = None if cep is None else dict(x_c=cep.x_c, beta_star=cep.beta_star, kappa_star=cep.kappa_star,
                                        jump_exponent=_finite(cep.jump_exponent),
                                        width_exponent=_finite(cep.width_exponent))
    axis = pd.attrs["varied"]
    params = {k: pd.attrs[k] for k in ("kind", "s_qk", "s_uv", "L", "V", "tokens", "score_prior") if k in pd.attrs}
    return dict(axis=axis, params=params, betas=pd.beta.values.tolist(), xs=pd[axis].values.tolist(),
                order=flag_labels(pd.order).values.tolist(),
                beta_c=_nan_list(pd.beta_c), beta_sp_lo=_nan_list(pd.beta_sp_lo),
                beta_sp_hi=_nan_list(pd.beta_sp_hi), c=[_nan_list(np.round(row, 6)) for row in pd.c.values],
                w=[_nan_list(np.round(row, 6)) for row in pd.w.values],
                c_metastable_count=int(np.isfinite(pd.c_metastable).sum()),
                max_residual=float(pd.residual.max(skipna=True)), converged=pd.attrs["converged"], end_point=end)


def _finite(v):
    """JSON-safe float: nan (e.g. exponents not fitted) -> None."""
    return None if math.isnan(v) else float(v)


def compute(*, s_qk: float = REF["s_qk"], s_uv: float = REF["s_uv"], L: float = REF["L"],
            n_beta: int = 200, beta_max: float = 40.0, n_L: int = 89, L_max: float = 24.0,
            n_sqk: int = 89, sqk_range: tuple[float, float] = (0.05, 1.2), beta_max_sqk: float = 150.0,
            L_values=tuple(range(3, 25)), fit_exponents: bool = True) -> dict:
    """The numbers of every panel, as plain lists (JSON-ready; nan -> null)."""
    betas = np.linspace(0.5, beta_max, n_beta)
    pd_L = attention.phase_diagram(betas, np.linspace(2.0, L_max, n_L), kind="softmax", s_qk=s_qk, s_uv=s_uv)
    cep_L = attention.critical_end_point(s_qk=s_qk, s_uv=s_uv, vary="L", fit_exponents=fit_exponents)
    betas_s = np.geomspace(0.5, beta_max_sqk, n_beta)
    pd_s = attention.phase_diagram(betas_s, np.linspace(*sqk_range, n_sqk), kind="softmax", s_qk=s_qk,
                                   s_uv=s_uv, vary="s_qk", L=L)
    cep_s = attention.critical_end_point(s_qk=s_qk, s_uv=s_uv, vary="s_qk", L=L, fit_exponents=fit_exponents)
    rows = []
    for Li in L_values:
        t = attention.transition(L=Li, kind="softmax", s_qk=s_qk, s_uv=s_uv)
        m = attention.map_transition(L=Li, kind="softmax", s_qk=s_qk, s_uv=s_uv)
        lo, hi = t.beta_spinodal or (None, None)
        rows.append(dict(L=float(Li), order=t.order, beta_c=t.beta_c, beta_sp_lo=lo, beta_sp_hi=hi,
                         map_beta_local=m.beta_local, map_beta_switch=m.beta_switch, map_c_switch=m.c_switch,
                         c_uniform=t.uniform.c, c_copy=t.copy.c))
    return dict(params=dict(s_qk=s_qk, s_uv=s_uv, L=L), beta_L=_diagram(pd_L, cep_L),
                beta_sqk=_diagram(pd_s, cep_s), thresholds=rows)


def _arr(v) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in v], dtype=float)


def lines(d: dict) -> dict:
    """The transition lines of one diagram as (x, beta) arrays, each joined to the end point (if
    any); 'continuous' is the second-order/tricritical line of linear attention."""
    xs, order = np.asarray(d["xs"]), np.asarray(d["order"])
    bc, lo, hi = _arr(d["beta_c"]), _arr(d["beta_sp_lo"]), _arr(d["beta_sp_hi"])
    end = d.get("end_point")
    xe, be = (end["x_c"], end["beta_star"]) if end else (None, None)
    first, cross = order == "first", order == "crossover"
    cont = (order == "second") | (order == "tricritical")

    def join(x, b):
        if end:
            x, b = np.append(x, xe), np.append(b, be)
        i = np.argsort(x)
        return x[i], b[i]

    return dict(first=join(xs[first], bc[first]), crossover=join(xs[cross], bc[cross]),
                continuous=(xs[cont], bc[cont]), sp_lo=join(xs[first], lo[first]),
                sp_hi=join(xs[first], hi[first]), end=(xe, be) if end else None)


def _panel_diagram(ax, d, ylabel, norm, cmap, logx=False, field="c"):
    betas, xs = np.asarray(d["betas"]), np.asarray(d["xs"])
    c = np.array([_arr(r) for r in d[field]])
    im = ax.pcolormesh(betas, xs, c, shading="nearest", cmap=cmap, norm=norm, rasterized=True)
    ln = lines(d)
    ax.plot(ln["first"][1], ln["first"][0], "-", color="white", lw=2.2, label=r"first order $\beta_c$")
    ax.plot(ln["sp_lo"][1], ln["sp_lo"][0], ":", color="white", lw=1.6, label=r"spinodals $\beta_{sp}^\pm$")
    ax.plot(ln["sp_hi"][1], ln["sp_hi"][0], ":", color="white", lw=1.6)
    ax.plot(ln["crossover"][1], ln["crossover"][0], "--", color="0.85", lw=1.6, label="crossover")
    if len(ln["continuous"][0]):
        ax.plot(ln["continuous"][1], ln["continuous"][0], "-", color="C1", lw=2.0,
                label=r"continuous $\beta_c$ (pitchfork)")
    if ln["end"]:
        xe, be = ln["end"]
        ax.plot(be, xe, "*", color="C3", ms=13, mec="white", mew=0.8, zorder=5,
                label=f"critical end point ({xe:.3f}, {be:.2f})")
    if logx:
        ax.set_xscale("log")
    ax.set_xlim(betas[0], betas[-1])
    ax.set_ylim(xs[0], xs[-1])
    ax.set_xlabel(r"$\beta = \alpha/\sigma^2$")
    ax.set_ylabel(ylabel)
    return im


def draw(data: dict, path: str | os.PathLike) -> list[Path]:
    """Draw the three panels; write PNG and PDF (same stem) and JSON of ``data``.  Returns paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    p = data["params"]
    fig, axes = plt.subplots(1, 3, figsize=(12.5, 5.0), constrained_layout=True)
    norm, cmap = Normalize(0.0, 1.0), plt.get_cmap("viridis")
    im = _panel_diagram(axes[0], data["beta_L"], r"sequence length $L$", norm, cmap)
    axes[0].legend(fontsize=7, loc="lower right", facecolor="0.25", labelcolor="white", framealpha=0.8)
    axes[0].set_yticks(np.arange(2, data["beta_L"]["xs"][-1] + 1, 2))
    _panel_diagram(axes[1], data["beta_sqk"], r"query-key prior scale $s_{qk}$", norm, cmap, logx=True)
    axes[1].legend(fontsize=7, loc="lower left", facecolor="0.25", labelcolor="white", framealpha=0.8)
    cb = fig.colorbar(im, ax=axes[:2], location="bottom", shrink=0.6, aspect=40, pad=0.02)
    cb.set_label(r"equilibrium copy weight $c$ (global minimum)")

    ax = axes[2]
    rows = data["thresholds"]
    Ls = np.array([r["L"] for r in rows])
    first = np.array([r["order"] == "first" for r in rows])
    bc = np.array([r["beta_c"] for r in rows])
    lo = _arr([r["beta_sp_lo"] for r in rows])
    hi = _arr([r["beta_sp_hi"] for r in rows])
    ax.fill_between(Ls, lo, hi, where=first, color="C0", alpha=0.15, lw=0, label="Bayes: metastable window")
    ax.plot(Ls[first], lo[first], "v-", color="C0", ms=4, lw=1, label=r"Bayes $\beta_{sp}^-$")
    ax.plot(Ls[first], hi[first], "^-", color="C0", ms=4, lw=1, label=r"Bayes $\beta_{sp}^+$")
    ax.plot(Ls[first], bc[first], "o-", color="k", ms=4, lw=1.6, label=r"Bayes $\beta_c$ (first order)")
    ax.plot(Ls[~first], bc[~first], "o--", color="k", mfc="white", ms=4, lw=1.2, label="Bayes crossover")
    ax.plot([r["L"] for r in rows], [r["map_beta_local"] for r in rows], "s:", color="C3", ms=4,
            label=r"MAP $\beta_{local} = L/s_{qk} + 1/s_{uv}$")
    ax.plot([r["L"] for r in rows], [r["map_beta_switch"] for r in rows], "D-.", color="C1", ms=4,
            label=r"MAP $\beta_{switch}$ (global)")
    e = data["beta_L"]["end_point"]
    ax.plot(e["x_c"], e["beta_star"], "*", color="C3", ms=12, mec="k", mew=0.5, label="critical end point")
    ax.set_yscale("log")
    ax.set_xlabel(r"sequence length $L$")
    ax.set_ylabel(r"threshold $\beta = \alpha/\sigma^2$")
    ax.set_xlim(Ls.min() - 0.5, Ls.max() + 0.5)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, which="both", lw=0.3, alpha=0.5)

    titles = (f"(a) softmax, $s_{{qk}}$ = {p['s_qk']:g}, $s_{{uv}}$ = {p['s_uv']:g}",
              f"(b) softmax, $L$ = {p['L']:g}, $s_{{uv}}$ = {p['s_uv']:g}",
              "(c) MAP vs Bayesian thresholds")
    for ax, title in zip(axes, titles):
        ax.set_title(title, loc="left", fontsize=10)
    fig.suptitle("Copy task with single-layer attention, large $N$: where copying appears", fontsize=11)
    return save_figure(fig, data, path)


def plot_phase_diagram(pd, path, end_point=None) -> list[Path]:
    """One-panel plot of any ``attention.phase_diagram`` Dataset (either kind, either axis) with its
    lines and, if given, its ``CriticalEndPoint``; writes PNG + PDF + JSON (used by the CLI)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    d = _diagram(pd, end_point)
    fig, ax = plt.subplots(figsize=(6.5, 5.0), constrained_layout=True)
    ylabel = {"L": r"sequence length $L$", "s_qk": r"query-key prior scale $s_{qk}$",
              "V": r"vocabulary size $V$"}[d["axis"]]
    kind = d["params"]["kind"]
    field = "c" if kind == "softmax" else "w"  # linear: the sign-invariant amplitude w = g kappa
    im = _panel_diagram(ax, d, ylabel, Normalize(0.0, 1.0), plt.get_cmap("viridis"), field=field)
    ax.legend(fontsize=7, loc="lower right", facecolor="0.25", labelcolor="white", framealpha=0.8)
    label = "copy weight $c$" if kind == "softmax" else r"copy amplitude $w = g\kappa$"
    fig.colorbar(im, ax=ax).set_label(f"equilibrium {label}")
    fixed = ", ".join(f"{k} = {v:g}" if isinstance(v, (int, float)) else f"{k} {v}"
                      for k, v in d["params"].items() if k not in ("kind", d["axis"]))
    ax.set_title(f"{kind} attention, {fixed}", loc="left", fontsize=10)
    return save_figure(fig, d, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="figures/fig_attention_phase_diagram.png",
                    help="output path (PNG; PDF/JSON beside)")
    args = ap.parse_args(argv)
    return draw(compute(), args.out)


if __name__ == "__main__":
    script_main(main)
