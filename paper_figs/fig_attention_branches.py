"""Figure: branches of the attention copy task -- first-order softmax vs continuous linear attention.

Large-N saddle point of ``docs/attention_copy.md`` §4 at REF (L = 8, s_qk = 0.25,
s_uv = 9; beta = alpha / sigma^2):

(a) softmax free-energy landscape phi(kappa) = min_g f_s(kappa, g; beta) (f_s is convex in g; the
    minimiser is the root of df/dg on (0, c/r)) minus its value at the uniform (small-kappa)
    minimum, at beta_sp^- - 1, beta_sp^-, beta_c, beta_sp^+ and beta_sp^+ + 1 (above beta_sp^+ the
    uniform minimum is gone and the reference is phi(0));
(b) softmax copy weight c vs beta along the traced stationary curve: stable (minima) solid, unstable
    (saddles) dashed; spinodals and the equal-free-energy point beta_c as vertical lines;
(c) the same for the per-position population MSE eps;
(d) linear attention, w = g kappa vs beta / beta_c with beta_c = 1/(sqrt(L) s_qk s_uv) (where the
    trivial point kappa = g = 0 loses stability): REF (s_uv = 9, supercritical pitchfork, then a
    smooth crossover towards w = 1) and s_uv = 4 (subcritical: weakly first order, see the inset).

Run as a script (``--out PATH``) or via ``grokphase figs``.  Writes PNG + PDF + the plotted numbers
(JSON) next to each other, atomically.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from grokphase import attention
from grokphase.paper_figs._output import save_figure, script_main
from grokphase.numerics import _attention_kernels as K
from grokphase.numerics import attention_saddle as sd

REF = dict(L=8.0, s_qk=0.25, s_uv=9.0)
S_UV_SUBCRITICAL = 4.0


def _g_star(kappa: float, beta: float, L: float, s_qk: float, s_uv: float) -> float:
    """argmin_g f_s(kappa, g; beta): the unique root of df/dg on (0, c/r) (f_s convex in g)."""
    if beta == 0.0:
        return 0.0
    c, d = K.softmax_c(kappa, L)
    hi = c / (c * c + d * d / (L - 1.0))

    def dfdg(g):
        return sd.gradient(sd.SOFTMAX, kappa, g, beta, L, s_qk, s_uv)[1]

    return brentq(dfdg, 0.0, hi, xtol=1e-15, rtol=1e-15, maxiter=200)


def phi(kappa: float, beta: float, L: float, s_qk: float, s_uv: float) -> float:
    """Softmax landscape phi(kappa) = min_g f_s(kappa, g; beta), per N."""
    g = _g_star(kappa, beta, L, s_qk, s_uv)
    return float(sd.free_energy(sd.SOFTMAX, kappa, g, beta, L, s_qk, s_uv))


def landscape_minima(kappas: np.ndarray, values: np.ndarray, beta: float, L: float, s_qk: float,
                     s_uv: float) -> list[tuple[float, float]]:
    """Local minima (kappa, phi) of phi: grid minima refined by bounded Brent on phi itself."""
    out = []
    for i in range(1, len(kappas) - 1):
        if values[i] <= values[i - 1] and values[i] < values[i + 1]:
            r = minimize_scalar(lambda k: phi(k, beta, L, s_qk, s_uv), bounds=(kappas[i - 1], kappas[i + 1]),
                                method="bounded", options=dict(xatol=1e-10))
            out.append((float(r.x), float(r.fun)))
    return out


def dphi(kappa: float, beta: float, L: float, s_qk: float, s_uv: float) -> float:
    """phi'(kappa) = df/dkappa at g*(kappa) (envelope theorem)."""
    g = _g_star(kappa, beta, L, s_qk, s_uv)
    return float(sd.gradient(sd.SOFTMAX, kappa, g, beta, L, s_qk, s_uv)[0])


def inflection(kappa0: float, beta: float, L: float, s_qk: float, s_uv: float, upper: bool,
               width: float = 0.1) -> tuple[float, float]:
    """(kappa, phi) of the marginal point of phi near kappa0 at a spinodal: the local maximum
    (upper spinodal, phi' <= 0 around it) or local minimum (lower spinodal) of phi'."""
    sign = -1.0 if upper else 1.0
    r = minimize_scalar(lambda k: sign * dphi(k, beta, L, s_qk, s_uv),
                        bounds=(max(0.0, kappa0 - width), kappa0 + width), method="bounded",
                        options=dict(xatol=1e-10))
    return float(r.x), phi(float(r.x), beta, L, s_qk, s_uv)


def _folds(curve: dict) -> list[tuple[float, float]]:
    """(kappa, beta) at the folds of the traced curve (stability changes), linearly interpolated."""
    st = np.asarray(curve["stable"])
    out = []
    for i in np.flatnonzero(st[1:] != st[:-1]):
        k, b = curve["kappa"], curve["beta"]
        out.append((0.5 * (k[i] + k[i + 1]), 0.5 * (b[i] + b[i + 1])))
    return out


def _stable_runs(stable: np.ndarray) -> list[tuple[int, int, bool]]:
    """Maximal runs of equal stability as (start, stop, stable); each run is extended by one
    point into the next so that the drawn pieces join at the folds."""
    cuts = [0] + [i + 1 for i in np.flatnonzero(stable[1:] != stable[:-1])] + [len(stable)]
    return [(a, min(b + 1, len(stable)), bool(stable[a])) for a, b in zip(cuts[:-1], cuts[1:])]


def _softmax_curve(L, s_qk, s_uv, beta_max, n_beta):
    """The traced softmax stationary curve with c, eps and stability along it."""
    br = attention.trace(np.linspace(0.0, beta_max, n_beta), L=L, kind="softmax", s_qk=s_qk, s_uv=s_uv)
    cv = br.curve
    keep = cv["beta"] <= beta_max
    k, g, b, m = cv["kappa"][keep], cv["g"][keep], cv["beta"][keep], cv["min_hessian_eig"][keep]
    c = np.array([sd.copy_weight(sd.SOFTMAX, x, L) for x in k])
    eps = np.array([sd.loss(sd.SOFTMAX, x, y, L) for x, y in zip(k, g)])
    grid = {name: {q: [None if math.isnan(v) else v for v in br.branches[name][q].tolist()]
                   for q in ("c", "eps", "min_hessian_eig")} for name in br.branches}  # nan -> null
    return dict(beta=b.tolist(), kappa=k.tolist(), g=g.tolist(), c=c.tolist(), eps=eps.tolist(),
                stable=(m > 0).tolist(), grid_betas=br.betas.tolist(), grid=grid)


def _linear_curve(L, s_qk, s_uv, x_max, n_beta):
    """Linear attention: the non-trivial curve (w = g kappa) and the trivial point, beta in units
    of the pitchfork beta_c = 1/(sqrt(L) s_qk s_uv)."""
    bpf = K.linear_beta_c(L, s_qk, s_uv)
    xs = np.linspace(0.0, x_max, n_beta)
    br = attention.trace(xs * bpf, L=L, kind="linear", s_qk=s_qk, s_uv=s_uv)
    t = attention.transition(L=L, kind="linear", s_qk=s_qk, s_uv=s_uv)
    cv = br.curve
    keep = cv["beta"] <= x_max * bpf
    triv = br.branches["trivial"]
    return dict(s_uv=s_uv, beta_pitchfork=bpf, order=t.order, beta_c=t.beta_c, B2=t.B2,
                beta_spinodal=list(t.beta_spinodal) if t.beta_spinodal else None,
                w_jump=(t.copy.w - t.uniform.w) if t.order == "first" else 0.0,
                x=(cv["beta"][keep] / bpf).tolist(), w=(cv["g"][keep] * cv["kappa"][keep]).tolist(),
                stable=(cv["min_hessian_eig"][keep] > 0).tolist(),
                trivial_x=xs.tolist(), trivial_w=triv["w"].tolist(),
                trivial_stable=(triv["min_hessian_eig"] > 0).tolist())


def compute(*, L: float = REF["L"], s_qk: float = REF["s_qk"], s_uv: float = REF["s_uv"],
            s_uv_sub: float = S_UV_SUBCRITICAL, n_kappa: int = 501, kappa_max: float = 2.5,
            beta_max: float = 24.0, n_beta: int = 400, linear_x_max: float = 5.0) -> dict:
    """The numbers of every panel, as plain lists (JSON-ready)."""
    t = attention.transition(L=L, kind="softmax", s_qk=s_qk, s_uv=s_uv)
    if t.order != "first":
        raise ValueError(f"softmax transition is {t.order!r} at L={L}, s_qk={s_qk}, s_uv={s_uv}; "
                         "this figure needs a first-order point")
    lo, hi = t.beta_spinodal
    sm = _softmax_curve(L, s_qk, s_uv, beta_max, n_beta)
    folds = _folds(sm)
    betas = {"beta_sp_lo - 1": lo - 1.0, "beta_sp_lo": lo, "beta_c": t.beta_c, "beta_sp_hi": hi, "beta_sp_hi + 1": hi + 1.0}
    kappas = np.linspace(0.0, kappa_max, n_kappa)
    land = []
    for label, b in betas.items():
        vals = np.array([phi(k, b, L, s_qk, s_uv) for k in kappas])
        mins = landscape_minima(kappas, vals, b, L, s_qk, s_uv)
        # at a spinodal one minimum has merged with the barrier top into an inflection point
        # (the fold left of the barrier top is the upper spinodal, the right one the lower)
        infl = [inflection(kf, b, L, s_qk, s_uv, upper=kf < t.kappa_min_slope)
                for kf, _ in folds if b == (hi if kf < t.kappa_min_slope else lo)]
        uniform = [m for m in mins + infl if m[0] < t.kappa_min_slope]  # left of the barrier
        ref = uniform[0][1] if uniform else float(vals[0])
        land.append(dict(label=label, beta=b, reference="uniform minimum" if uniform else "phi(0)",
                         phi=(vals - ref).tolist(), minima=[(k, f - ref) for k, f in mins],
                         inflections=[(k, f - ref) for k, f in infl]))
    lin = [_linear_curve(L, s_qk, s, linear_x_max, n_beta) for s in (s_uv, s_uv_sub)]

    def state(st):
        return dict(kappa=st.kappa, g=st.g, c=st.c, eps=st.eps, free_energy=st.free_energy)

    return dict(params=dict(L=L, s_qk=s_qk, s_uv=s_uv, s_uv_sub=s_uv_sub),
                transition=dict(beta_c=t.beta_c, beta_sp_lo=lo, beta_sp_hi=hi, barrier=t.barrier,
                                kappa_min_slope=t.kappa_min_slope, uniform=state(t.uniform),
                                copy=state(t.copy), unstable=state(t.unstable)),
                kappa=kappas.tolist(), landscape=land, softmax=sm, linear=lin)


def _draw_runs(ax, x, y, stable, color, label=None, lw=1.8):
    x, y, stable = np.asarray(x), np.asarray(y), np.asarray(stable, dtype=bool)
    first = {True: True, False: True}
    for a, b, st in _stable_runs(stable):
        lab = None
        if label is not None and first[st]:
            lab = f"{label} ({'stable' if st else 'unstable'})"
            first[st] = False
        ax.plot(x[a:b], y[a:b], "-" if st else "--", color=color, lw=lw if st else 0.8 * lw, label=lab)


_MATH = {"beta_sp_lo - 1": r"$\beta_{sp}^- - 1$", "beta_sp_lo": r"$\beta_{sp}^-$", "beta_c": r"$\beta_c$",
         "beta_sp_hi": r"$\beta_{sp}^+$", "beta_sp_hi + 1": r"$\beta_{sp}^+ + 1$"}


def _math_label(label: str) -> str:
    return _MATH.get(label, label)


def draw(data: dict, path: str | os.PathLike) -> list[Path]:
    """Draw the four panels; write PNG and PDF (same stem) and JSON of ``data``.  Returns paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p, tr = data["params"], data["transition"]
    fig, grid = plt.subplots(2, 2, figsize=(12, 8.6), constrained_layout=True)
    ax_a, ax_b, ax_c, ax_d = grid.ravel()

    # (a) landscape
    kap = np.asarray(data["kappa"])
    cmap = plt.get_cmap("viridis")
    n = len(data["landscape"])
    y_lo, y_hi = -1.2, 1.5
    for i, cur in enumerate(data["landscape"]):
        col = cmap(i / max(1, n - 1) * 0.9)
        ref = "" if cur["reference"] == "uniform minimum" else r", rel. to $\varphi(0)$"
        deep = [f for _, f in cur["minima"] if f < y_lo]
        off = f"; min at {deep[0]:.2f} (▼)" if deep else ""
        ax_a.plot(kap, cur["phi"], color=col, lw=2.4 if cur["label"] == "beta_c" else 1.5,
                  label=_math_label(cur["label"]) + f" = {cur['beta']:.3f}{ref}{off}")
        for k, f in cur["minima"]:
            if f >= y_lo:
                ax_a.plot(k, f, "o", color=col, ms=5)
            else:  # off scale: mark at the bottom edge (its depth is in the legend)
                ax_a.plot(k, y_lo + 0.04, "v", color=col, ms=8)
        for k, f in cur["inflections"]:
            ax_a.plot(k, f, "o", mfc="white", mec=col, ms=6, mew=1.5)
    ax_a.plot([], [], "o", color="0.3", ms=5, label="minima")
    ax_a.plot([], [], "o", mfc="white", mec="0.3", ms=6, label="inflection (spinodal)")
    ax_a.axhline(0.0, color="0.6", lw=0.6)
    ax_a.set_ylim(y_lo, y_hi)
    ax_a.set_xlim(kap[0], kap[-1])
    ax_a.set_xlabel(r"copy logit gap $\kappa$")
    ax_a.set_ylabel(r"$\varphi(\kappa) - \varphi(\kappa_{\rm uniform})$   (per $N$)")
    ax_a.legend(fontsize=7.5, title=r"softmax landscape at $\beta$ =",
                title_fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    top = data["transition"]["unstable"]
    ax_a.annotate(f"barrier {tr['barrier']:.3f}", xy=(top["kappa"], tr["barrier"]),
                  xytext=(top["kappa"], tr["barrier"] + 0.25), ha="center", fontsize=8,
                  arrowprops=dict(arrowstyle="->", lw=0.8))

    # (b), (c) softmax branches
    sm = data["softmax"]
    for ax, key, ylabel in ((ax_b, "c", r"copy weight $c = A_{l,l-1}$"),
                            (ax_c, "eps", r"population MSE per position $\varepsilon$")):
        _draw_runs(ax, sm["beta"], sm[key], sm["stable"], "C0", label="softmax")
        for b, ls, lab in ((tr["beta_sp_lo"], ":", r"spinodals $\beta_{sp}^\pm$"), (tr["beta_sp_hi"], ":", None),
                           (tr["beta_c"], "-.", r"$\beta_c$ (equal free energy)")):
            ax.axvline(b, color="0.3", ls=ls, lw=1.0, label=lab)
        y0, y1 = tr["uniform"][key], tr["copy"][key]
        ax.plot([tr["beta_c"]] * 2, [y0, y1], "o", color="C3", ms=5, label=r"coexisting minima at $\beta_c$")
        ax.set_xlabel(r"$\beta = \alpha/\sigma^2$")
        ax.set_ylabel(ylabel)
        ax.set_xlim(0.0, max(sm["beta"]))
    ax_b.axhline(1.0 / p["L"], color="0.6", lw=0.6)
    ax_b.text(0.98 * max(sm["beta"]), 1.0 / p["L"] + 0.006, r"$c = 1/L$", fontsize=8, color="0.4", ha="right")
    ax_b.legend(fontsize=7.5, loc="upper left")
    ax_c.legend(fontsize=7.5, loc="upper right")

    # (d) linear attention
    lin = data["linear"]
    cols = ("C2", "C1")
    for cur, col in zip(lin, cols):
        lab = f"linear, $s_{{uv}}$ = {cur['s_uv']:g}, {cur['order']} order"
        _draw_runs(ax_d, cur["x"], cur["w"], cur["stable"], col, label=lab)
    tv = lin[0]
    _draw_runs(ax_d, tv["trivial_x"], tv["trivial_w"], tv["trivial_stable"], "0.35", label=r"trivial $\kappa = g = 0$")
    ax_d.axvline(1.0, color="0.3", ls=":", lw=1.0)
    ax_d.set_xlabel(r"$\beta/\beta_c$,   $\beta_c = 1/(\sqrt{L}\, s_{qk} s_{uv})$ (pitchfork)")
    ax_d.set_ylabel(r"copy amplitude $w = g\kappa$")
    ax_d.set_xlim(0.0, max(max(c["x"]) for c in lin))
    ax_d.set_ylim(-0.03, 1.0)
    ax_d.legend(fontsize=7.5, loc="upper left")
    sub = lin[1]
    if sub["order"] == "first":
        ins = ax_d.inset_axes([0.55, 0.1, 0.42, 0.42])
        bpf = sub["beta_pitchfork"]
        x_lo, x_c = sub["beta_spinodal"][0] / bpf, sub["beta_c"] / bpf
        span = 1.0 - x_lo
        _draw_runs(ins, sub["x"], sub["w"], sub["stable"], cols[1])
        _draw_runs(ins, sub["trivial_x"], sub["trivial_w"], sub["trivial_stable"], "0.35")
        ins.axvline(x_c, color="0.3", ls="-.", lw=0.9)
        ins.axvline(x_lo, color="0.3", ls=":", lw=0.9)
        ins.axvline(1.0, color="0.3", ls=":", lw=0.9)
        ins.set_xlim(x_lo - 1.5 * span, 1.0 + 1.5 * span)
        xs, ws = np.asarray(sub["x"]), np.asarray(sub["w"])
        wmax = ws[xs <= 1.0 + 1.5 * span].max()
        ins.set_ylim(-0.05 * wmax, 1.1 * wmax)
        ins.set_title(f"$s_{{uv}}$ = {sub['s_uv']:g}: fold (:), Maxwell point {x_c:.4f} (-.), pitchfork (:)",
                      fontsize=7)
        ins.tick_params(labelsize=7)

    for ax, tag, title in ((ax_a, "a", "softmax landscape"), (ax_b, "b", "softmax copy weight"),
                           (ax_c, "c", "softmax error"), (ax_d, "d", "linear attention")):
        ax.set_title(f"({tag}) {title}", loc="left")
    fig.suptitle(f"Attention copy task, large $N$: $L$ = {p['L']:g}, $s_{{qk}}$ = {p['s_qk']:g}, "
                 f"$s_{{uv}}$ = {p['s_uv']:g};  $\\beta_{{sp}}^-$ = {tr['beta_sp_lo']:.4f}, "
                 f"$\\beta_c$ = {tr['beta_c']:.4f}, $\\beta_{{sp}}^+$ = {tr['beta_sp_hi']:.4f}",
                 fontsize=10)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="figures/fig_attention_branches.png",
                    help="output path (PNG; PDF/JSON beside)")
    args = ap.parse_args(argv)
    return draw(compute(), args.out)


if __name__ == "__main__":
    script_main(main)
