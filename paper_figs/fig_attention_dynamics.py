"""Figure: training dynamics of the finite-N copy network (``docs/attention_copy.md`` §8-§9).

(a) softmax, Langevin (N = 256, eta = 5e-4) from a prior draw: c(t) for beta around the upper
    spinodal: no precursor, an abrupt jump past beta_sp^+ after a delay that grows towards it;
(b) linear (sigma^2 = 10): w(t) rises sigmoidally to a plateau that grows continuously with beta;
(c) onset time vs beta (softmax: distance to beta_sp^+; linear: to beta_c);
(d) Adam from small init with weight decay = prior (MAP) and on the bare MSE: final c vs beta against
    the MAP theory (local threshold beta_local = L/s_qk + 1/s_uv, learned state, global switch) and the
    Bayesian beta_c.
Computed by ``grokphase.validation.experiments.attention_dynamics`` and ``attention_map_training``
(a few minutes); the plotted numbers are written as JSON beside the figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import save_figure, script_main, stored_numbers

from grokphase import attention


def compute(N: int = 256, T_softmax: float = 20.0, T_linear: float = 60.0, n_rep: int = 3) -> dict:
    from grokphase.validation.experiments import attention_dynamics as D
    from grokphase.validation.experiments import attention_map_training as M

    t = attention.transition(L=8, s_qk=0.25, s_uv=9.0)
    tl = attention.transition(L=8, kind="linear", s_qk=0.25, s_uv=9.0)
    soft = D.run([13.5, 14.0, 14.4, 14.5, 14.75, 15.0, 16.0], N=N, T=T_softmax, n_rep=n_rep)
    lin = D.run([r * tl.beta_c for r in (1.25, 1.5, 2.0, 3.0)], kind="linear", N=N, T=T_linear, n_rep=n_rep)
    scan = M.threshold_scan([10.0, 17.0, 20.0, 25.0, 28.0, 31.0, 32.0, 32.5, 33.0, 36.0, 40.0, 45.0], N=64)
    scan.pop("trajectories")
    return {"softmax": soft, "linear": lin, "map": scan, "beta_sp": list(t.beta_spinodal), "beta_c": t.beta_c,
            "beta_c_linear": tl.beta_c}


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
    ap.add_argument("--recompute", action="store_true", help="rerun the experiments (minutes) even if numbers exist")
    args = ap.parse_args(argv)
    data = None if args.recompute else stored_numbers(args.out, "fig_attention_dynamics")
    data = data or compute()
    return draw(data, args.out)


if __name__ == "__main__":
    script_main(main)
