"""Figure: training dynamics of the finite-N copy network (``docs/attention_copy.md`` §8-§9).

(a) softmax, Langevin (N = 256, eta = 5e-4) from a prior draw: c(t) for beta around the upper
    spinodal: no precursor, an abrupt jump past beta_sp^+ after a delay that grows towards it;
(b) linear (sigma^2 = 10): w(t) rises sigmoidally to a plateau that grows continuously with beta;
(c) onset time vs beta (softmax: distance to beta_sp^+; linear: to beta_c);
(d) Adam from small init with weight decay = prior (MAP) and on the bare MSE: final c vs beta against
    the MAP theory (local threshold beta_local = L/s_qk + 1/s_uv, learned state, global switch) and the
    Bayesian beta_c.
Computed by the presets ``dynamics-softmax``, ``dynamics-linear`` and ``map`` of
``grokphase.validation.experiments.presets`` (the designs ``grokphase attention validate dynamics|map``
runs; a few minutes); the plotted numbers are written as JSON beside the figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import save_figure, script_main, stored_numbers

from grokphase import attention


PLANS = ("dynamics-softmax", "dynamics-linear", "map")


def compute(runs="runs", *, recompute: bool = False, executor=None, progress=None) -> dict:
    """The plotted numbers from the three presets' sweeps (stored under ``runs``); recompute
    False reads the stores only ({} when one lacks points)."""
    from grokphase.validation.experiments import presets

    ds = presets.results(PLANS, runs, recompute=recompute, executor=executor, progress=progress)
    return {} if ds is None else numbers(*(ds[n] for n in PLANS))


def _trajectories(ds) -> dict:
    """Old-style plain numbers of one dynamics sweep (first N and seed): betas repeated per replica."""
    from grokphase.sweep import design_of

    d = design_of(ds)
    r = ds.isel(N=0, seed=0).transpose("beta", "rep", "t")
    flat = lambda x: x.values.reshape(-1, *x.shape[2:]).tolist()
    return {"kind": d.kind, "N": int(ds.N[0]), "eta": d.eta, "betas": np.repeat(r.beta_abs.values, r.sizes["rep"]).tolist(),
            "t": r.t.values.tolist(), d.observable: flat(r[d.observable]), "onset": flat(r.onset),
            "final": flat(r.final)}


def numbers(softmax, linear, map_scan) -> dict:
    """The figure's numbers (plain JSON) from the three sweeps' Datasets."""
    from grokphase.sweep import design_of

    d = design_of(softmax)
    t = attention.transition(L=d.L, s_qk=d.s_qk, s_uv=d.s_uv)
    tl = attention.transition(L=d.L, kind="linear", s_qk=d.s_qk, s_uv=d.s_uv)
    m = map_scan.isel(N=0, seed=0)
    tr = design_of(map_scan).theory()
    scan = {"betas": m.beta.values.tolist(), **{k: m[k].values.tolist() for k in m.data_vars},
            "beta_local": tr.beta_local, "beta_switch": tr.beta_switch}
    return {"softmax": _trajectories(softmax), "linear": _trajectories(linear), "map": scan,
            "beta_sp": list(t.beta_spinodal), "beta_c": t.beta_c, "beta_c_linear": tl.beta_c}


def draw(data: dict, path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(17, 3.9), constrained_layout=True)

    def groups(run):
        bs = np.array(run["betas"])
        return [(b, np.flatnonzero(bs == b)) for b in dict.fromkeys(run["betas"])]

    s = data["softmax"]
    gs = groups(s)
    for i, (b, idx) in enumerate(gs):
        for j, k in enumerate(idx):
            ax[0].plot(s["t"], s["c"][k], color=plt.cm.viridis(i / max(1, len(gs) - 1)), lw=1.0 if j == 0 else 0.5,
                       alpha=1.0 if j == 0 else 0.5, label=fr"$\beta$ = {b:g}" if j == 0 else None)
    ax[0].set(xlabel="Langevin time t", ylabel="copy weight c",
              title=fr"(a) softmax, N = {s['N']} ($\beta_{{sp}}^+$ = {data['beta_sp'][1]:.2f})")
    ax[0].legend(fontsize=7)
    ln = data["linear"]
    gl = groups(ln)
    for i, (b, idx) in enumerate(gl):
        for j, k in enumerate(idx):
            ax[1].plot(ln["t"], ln["w"][k], color=plt.cm.plasma(i / max(1, len(gl) - 1)), lw=1.0 if j == 0 else 0.5,
                       alpha=1.0 if j == 0 else 0.5,
                       label=fr"$\beta/\beta_c$ = {b / data['beta_c_linear']:.2f}" if j == 0 else None)
    ax[1].set(xlabel="Langevin time t", ylabel=r"$w = g\hat\kappa$", title="(b) linear, N = %d" % ln["N"])
    ax[1].legend(fontsize=7)
    so = [np.nanmedian(np.array(s["onset"], float)[idx]) if np.any(np.isfinite(np.array(s["onset"], float)[idx]))
          else np.nan for _, idx in gs]
    ax[2].plot([b - data["beta_sp"][1] for b, _ in gs], so, "o-", label=r"softmax: $\beta - \beta_{sp}^+$ (median)")
    lo = [np.nanmedian(np.array(ln["onset"], float)[idx]) if np.any(np.isfinite(np.array(ln["onset"], float)[idx]))
          else np.nan for _, idx in gl]
    ax[2].plot([(b - data["beta_c_linear"]) / data["beta_c_linear"] for b, _ in gl], lo, "s-",
               label=r"linear: $(\beta - \beta_c)/\beta_c$ (median)")
    ax[2].set(xlabel="distance to the threshold", ylabel="onset time", title="(c) delays grow near threshold")
    ax[2].legend(fontsize=7)
    m = data["map"]
    ax[3].plot(m["betas"], m["map_theory_c"], "k-", lw=1.2, label="MAP theory: best copy state")
    ax[3].plot(m["betas"], m["adam_map_c"], "o", label="Adam, weight decay = prior")
    ax[3].plot(m["betas"], m["adam_mse_c"], "s", mfc="none", label="Adam, bare MSE")
    ax[3].axvline(m["beta_local"], color="C3", ls=":", label=fr"$\beta_{{local}}$ = {m['beta_local']:.2f}")
    ax[3].axvline(m["beta_switch"], color="C1", ls="--", label=fr"MAP switch {m['beta_switch']:.2f}")
    ax[3].axvline(data["beta_c"], color="0.4", ls="-.", label=fr"Bayes $\beta_c$ = {data['beta_c']:.2f}")
    ax[3].set(xlabel=r"$\beta$", ylabel="final copy weight c", title="(d) MAP / Adam vs Bayes (N = 64)")
    ax[3].legend(fontsize=6)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="figures/fig_attention_dynamics.png")
    ap.add_argument("--runs", default="runs", help="parent folder of the presets' sweep stores")
    ap.add_argument("--recompute", action="store_true", help="run the missing sweep points (minutes)")
    args = ap.parse_args(argv)
    data = compute(args.runs, recompute=args.recompute)
    data = data or stored_numbers(args.out, "fig_attention_dynamics")
    if not data:
        print("fig_attention_dynamics: skipped, no sweep results and no stored numbers (see --recompute)")
        return []
    return draw(data, args.out)


if __name__ == "__main__":
    script_main(main)
