"""Figure: the one-hot attention model (``docs/attention_onehot.md``) against finite-N Bayesian sampling.

REF priors (s_qk = 0.25, s_uv = 9), L = 8, V = 4; beta = alpha / sigma^2:

(a) softmax hysteresis: HMC posterior means of the copy weight c from the prior-draw ('uniform',
    filled) and the large-N copy-state start (open) for N = 64 ... 1024 (whitened count tensor),
    on the large-N stable branches (spinodals dotted, beta_c dash-dotted);
(b) rms |c_HMC - c_theory| over all points and over the settled ones (split R-hat < 1.1) against
    N, whitened data and P random sequences per point, with 1/N and 1/sqrt(N) guides;
(c) umbrella + MBAR beta_c(N): seed means with between-seed errors against 1/N, the weighted fit
    beta_c + a1/N and the one-loop prediction (``validation.one_loop``);
(d) linear attention (sigma^2 = 10): w_c, w_a, w_m at beta = 0.5 and 1.0 against 1/N with the
    large-N ordered state at 1/N = 0.

Computed by the presets ``onehot-hysteresis``, ``onehot-hysteresis-random``, ``onehot-linear`` and
``onehot-equilibrium`` of ``grokphase.validation.experiments.presets`` (``grokphase attention
validate <preset>``; about 3 CPU-hours in all): ``--recompute`` runs what their stores under
``--runs`` lack; otherwise the figure is drawn from complete stores, else from the committed
numbers (the JSON beside the figure).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import save_figure, script_main, sweep_figure_main

PLANS = ("onehot-hysteresis", "onehot-hysteresis-random", "onehot-linear", "onehot-equilibrium")
#: linear-attention betas drawn in (d)
LINEAR_BETAS = (0.5, 1.0)


def compute(runs="runs", *, recompute: bool = False, executor=None, progress=None) -> dict:
    """The plotted numbers from the four presets' sweeps (stored under ``runs``).

    recompute False: read the stores only ({} when one lacks points); True: run what is missing
    (on ``executor``, see ``grokphase.sweep.run_sweep``)."""
    from grokphase.validation.experiments import presets

    ds = presets.results(PLANS, runs, recompute=recompute, executor=executor, progress=progress)
    return {} if ds is None else numbers(*(ds[n] for n in PLANS))


def _nan_none(x) -> list:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(x, dtype=float)]


def _hysteresis(ds) -> list[dict]:
    """Per N: the points (start, beta, c, c_se, c_theory, branch, c_rhat) and the summary of
    ``attention_onehot_finite_n.summarize`` over the settled points (split R-hat < 1.1) and, as
    ``*_all``, over every point."""
    from grokphase.results import flag_labels
    from grokphase.validation.experiments import attention_onehot_finite_n as E

    s, everything = E.summarize(ds), E.summarize(ds, rhat_max=np.inf)
    d = ds.isel(seed=0)
    labels = flag_labels(d.branch)
    out = []
    for N in d.N.values:
        rows = [{"start": str(st), "beta": float(b), "c": float(d.c.sel(N=N, start=st, beta=b)),
                 "c_se": float(d.c_se.sel(N=N, start=st, beta=b)),
                 "c_theory": float(d.c_theory.sel(N=N, start=st, beta=b)),
                 "c_rhat": float(d.c_rhat.sel(N=N, start=st, beta=b)),
                 "branch": str(labels.sel(N=N, start=st, beta=b).item())}
                for st in d.start.values for b in d.beta.values]
        out.append({"N": int(N), "rows": rows,
                    **{k: float(s[k].sel(N=N)) for k in ("rms_dc", "max_abs_dc", "rms_dg", "rms_deps")},
                    **{k + "_all": float(everything[k].sel(N=N)) for k in ("rms_dc", "max_abs_dc", "rms_dg")},
                    "n_settled": int(s.n_settled.sel(N=N)), "n_points": len(rows),
                    "c_rhat_max": float(d.c_rhat.sel(N=N).max())})
    return out


def numbers(hysteresis, random, linear, equilibrium) -> dict:
    """The figure's numbers (plain JSON) from the four sweeps' Datasets."""
    from grokphase.numerics import attention_onehot as oh_n
    from grokphase.sweep.design import design_of
    from grokphase.validation.experiments import attention_equilibrium as Eq
    from grokphase.validation.experiments import attention_onehot_finite_n as E

    d = design_of(hysteresis)
    t = oh_n.softmax_transition(d.L, d.V, d.s_qk, d.s_uv)
    grid = np.linspace(14.5, 21.5, 141)
    branch_c = {"uniform": [], "copy": []}
    for b in grid:
        st = E.theory_states(d, float(b))
        for name in branch_c:
            branch_c[name].append(st[name].c if name in st else np.nan)
    lin = linear.isel(seed=0, start=0)
    out_l = [{"beta": float(b),
              **{o: lin[o].sel(beta=b).values.tolist() for o in ("w_c", "w_a", "w_m")},
              **{o + "_se": lin[o + "_se"].sel(beta=b).values.tolist() for o in ("w_c", "w_a", "w_m")},
              **{o + "_theory": float(lin[o + "_theory"].sel(beta=b).isel(N=-1)) for o in ("w_c", "w_a", "w_m")},
              "rhat_max": float(max(lin[o + "_rhat"].sel(beta=b).max() for o in ("w_c", "w_a", "w_m")))}
             for b in LINEAR_BETAS if b in lin.beta.values]
    es = Eq.summarize(equilibrium)
    eq = {"N": equilibrium.N.values.tolist(), "alpha_c_seed_mean": es.alpha_c_seed_mean.values.tolist(),
          "alpha_c_seed_se": es.alpha_c_seed_se.values.tolist(), "n_seeds": int(equilibrium.sizes["seed"]),
          **{k: float(es[k]) for k in ("beta_c", "a1_one_loop", "pooled_alpha_c_extrapolated",
                                       "pooled_alpha_c_extrapolated_se", "pooled_a1_fit", "pooled_a1_fit_se",
                                       "pooled_chi2", "pooled_z_limit", "pooled_z_a1", "pooled_p_claim")},
          "pooled_dof": int(es.pooled_dof)}
    return {"params": {"L": d.L, "V": d.V, "s_qk": d.s_qk, "s_uv": d.s_uv},
            "hysteresis": _hysteresis(hysteresis), "hysteresis_random": _hysteresis(random),
            "linear": {"N": lin.N.values.tolist(), "sigma2": float(design_of(linear).sigma2), "rows": out_l},
            "equilibrium": eq, "theory_grid": grid.tolist(),
            "theory_c": {k: _nan_none(v) for k, v in branch_c.items()},
            "beta_sp": [float(b) for b in t.beta_spinodal], "beta_c": float(t.beta_c)}


def draw(data: dict, path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(17, 4.0), constrained_layout=True)
    g = np.array(data["theory_grid"])
    for name in ("uniform", "copy"):
        ax[0].plot(g, np.array(data["theory_c"][name], float), "-", color="k", lw=1.2,
                   label="large N" if name == "uniform" else None)
    for b in data["beta_sp"]:
        ax[0].axvline(b, color="0.5", ls=":", lw=0.8)
    ax[0].axvline(data["beta_c"], color="0.3", ls="-.", lw=0.8)
    for i, r in enumerate(data["hysteresis"]):
        for start, mk, dx in (("uniform", "o", -0.04), ("copy", "s", 0.04)):
            rows = [x for x in r["rows"] if x["start"] == start]
            ax[0].errorbar([x["beta"] + dx * (i - 2) for x in rows], [x["c"] for x in rows],
                           [x["c_se"] for x in rows], fmt=mk, ms=3.5, color=f"C{i}", lw=0.8,
                           mfc="none" if start == "copy" else f"C{i}",
                           label=f"N = {r['N']}" if start == "uniform" else None)
    ax[0].set(xlabel=r"$\beta$", ylabel="copy weight c",
              title="(a) one-hot softmax: HMC from prior (filled) / copy (open)")
    ax[0].legend(fontsize=7)
    for i, (key, mk, lab) in enumerate((("hysteresis", "o", "whitened C"), ("hysteresis_random", "s", "random sequences"))):
        rs = data[key]
        Ns = [r["N"] for r in rs]
        ax[1].loglog(Ns, np.array([r["rms_dc_all"] for r in rs], float), mk + "-", color=f"C{i}", label=f"{lab}: all points")
        ax[1].loglog(Ns, np.array([r["rms_dc"] for r in rs], float), mk + ":", color=f"C{i}", mfc="none",
                     label=r"settled ($\hat R$ < 1.1)")
    n0 = np.array([64.0, 1024.0])
    ref = data["hysteresis"][0]["rms_dc_all"]
    ax[1].loglog(n0, ref * 64 / n0, ":", color="0.4", lw=0.8, label=r"$\propto 1/N$")
    ax[1].loglog(n0, ref * np.sqrt(64 / n0), "-.", color="0.6", lw=0.8, label=r"$\propto N^{-1/2}$")
    ax[1].set(xlabel="N", ylabel=r"rms $|c_{HMC} - c_{theory}|$", title="(b) branch means vs large N")
    ax[1].legend(fontsize=7)
    eq = data["equilibrium"]
    inv = 1.0 / np.array(eq["N"], float)
    ax[2].errorbar(inv, eq["alpha_c_seed_mean"], eq["alpha_c_seed_se"], fmt="o", capsize=2,
                   label=fr"umbrella + MBAR, mean of {eq['n_seeds']} seeds")
    x = np.linspace(0, inv.max() * 1.1, 50)
    ax[2].plot(x, eq["pooled_alpha_c_extrapolated"] + eq["pooled_a1_fit"] * x, "-",
               label=f"fit: {eq['pooled_alpha_c_extrapolated']:.3f} + {eq['pooled_a1_fit']:.1f}/N")
    ax[2].plot(x, eq["beta_c"] + eq["a1_one_loop"] * x, "--",
               label=f"one loop: {eq['beta_c']:.3f} + {eq['a1_one_loop']:.1f}/N")
    ax[2].set(xlabel="1/N", ylabel=r"$\beta_c(N)$", title="(c) equal-mass point")
    ax[2].legend(fontsize=7)
    lin = data["linear"]
    invl = 1.0 / np.array(lin["N"], float)
    for j, row in enumerate(lin["rows"]):
        for k, (o, mk) in enumerate((("w_c", "o"), ("w_a", "s"), ("w_m", "^"))):
            col = f"C{3 * j + k}"
            ax[3].errorbar(invl, row[o], row[o + "_se"], fmt=mk + "-", ms=4, lw=0.8, color=col,
                           label=fr"${o[0]}_{o[2]}$, $\beta$ = {row['beta']:g}")
            ax[3].plot([0.0], [row[o + "_theory"]], "*", ms=9, color=col)
    ax[3].set(xlabel="1/N", ylabel="order parameter",
              title=fr"(d) linear ($\sigma^2$ = {lin['sigma2']:g}); stars: large N")
    ax[3].legend(fontsize=6, ncol=2)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    return sweep_figure_main(argv, "fig_attention_onehot_finite_n", __doc__, compute, draw, "about 3 CPU-hours")


if __name__ == "__main__":
    script_main(main)
