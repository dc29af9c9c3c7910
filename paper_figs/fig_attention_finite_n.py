"""Figure: the attention theory against finite-N Bayesian sampling (``docs/attention_copy.md`` §7-§8).

(a) hysteresis: HMC branch means of c vs alpha (= beta, sigma^2 = 1) from the uniform and the copy
    start for N = 64 ... 1024, on the large-N stable branches and spinodals (softmax, REF);
(b) rms |c_HMC - c_branch| vs N (settled chains);
(c) equilibrium: alpha_c(N) from umbrella sampling + MBAR vs 1/N, its linear fit, and the one-loop
    prediction beta_c + a1/N; (d) the finite-N free-energy profiles at alpha_c(N);
(e) linear attention: w(beta/beta_c) from the exact reduced posterior (N up to 4096) and full HMC
    (N = 64, 128; sigma^2 = 10), against the large-N pitchfork curve.

Computed by the presets ``hysteresis``, ``equilibrium`` and ``linear`` of
``grokphase.validation.experiments.presets`` (the designs ``grokphase attention validate`` runs;
hours on 2 cores): ``--recompute`` runs what their stores under ``--runs`` lack; otherwise the
figure is drawn from complete stores, else from the committed numbers (the JSON beside the figure).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grokphase.paper_figs._output import save_figure, script_main, sweep_figure_main

from grokphase import attention


PLANS = ("hysteresis", "equilibrium", "linear")


def compute(runs="runs", *, recompute: bool = False, executor=None, progress=None) -> dict:
    """The plotted numbers from the three presets' sweeps (stored under ``runs``).

    recompute False: read the stores only ({} when one lacks points); True: run what is missing
    (on ``executor``, see ``grokphase.sweep.run_sweep``)."""
    from grokphase.validation.experiments import presets

    ds = presets.results(PLANS, runs, recompute=recompute, executor=executor, progress=progress)
    return {} if ds is None else numbers(*(ds[n] for n in PLANS))


def _records(ds, dims) -> list[dict]:
    """One dict of plain numbers per element over ``dims`` (C order), coordinates included."""
    flat = ds.stack(_row=dims)
    return [{k: flat[k].values[i].item() for k in (*dims, *ds.data_vars)} for i in range(flat.sizes["_row"])]


def numbers(hysteresis, equilibrium, linear) -> dict:
    """The figure's numbers (plain JSON) from the three sweeps' Datasets (first seed of each)."""
    from grokphase.validation.experiments import attention_equilibrium as E
    from grokphase.validation.experiments import attention_hysteresis as H

    from grokphase.results import flag_labels

    hy = hysteresis.isel(seed=0)
    hy = hy.assign(branch=flag_labels(hy.branch))
    summ = H.summarize(hysteresis).isel(seed=0)
    out_h = [{"N": int(N), "rows": _records(hy.sel(N=N).transpose("start", "alpha"), ("start", "alpha")),
              **{k: summ[k].sel(N=N).item() for k in ("rms_dc", "max_abs_dc", "n_settled", "n_switching")}}
             for N in hy.N.values]
    eq = equilibrium.isel(seed=0)
    es = E.summarize(equilibrium).isel(seed=0)
    rows = []
    for N in eq.N.values:
        r = eq.sel(N=N)
        ok = np.isfinite(r.profile.values)
        rows.append({"N": int(N), **{k: r[k].item() for k in E.SCALARS},
                     "profile_kappa": r.kappa_bin.values[ok].tolist(), "profile": r.profile.values[ok].tolist()})
    out_e = {"rows": rows, **{k: es[k].values.tolist() for k in es.data_vars}}
    lin = linear.isel(seed=0)
    out_l = [{"N": int(r.N), "sampler": r.sampler.item(), "w_large_n": r.w_large_n.values.tolist(),
              "rows": _records(r[["beta", "w", "w_se", "w_rhat", "acceptance"]], ("ratio",))}
             for r in (lin.isel(N_sampler=i) for i in range(lin.sizes["N_sampler"]))]
    L, s_qk, s_uv = int(hysteresis.attrs["L"]), float(hysteresis.attrs["s_qk"]), float(hysteresis.attrs["s_uv"])
    t = attention.transition(L=L, s_qk=s_qk, s_uv=s_uv)
    grid = np.linspace(10.0, 18.5, 200)
    br = attention.trace(grid, L=L, s_qk=s_qk, s_uv=s_uv)
    theory = {k: br.branches[k]["c"].tolist() for k in ("uniform", "unstable", "copy")}
    return {"hysteresis": out_h, "equilibrium": out_e, "linear": out_l, "theory_grid": grid.tolist(),
            "theory_c": theory, "beta_sp": list(t.beta_spinodal), "beta_c": t.beta_c}


def draw(data: dict, path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 5, figsize=(19, 4.0), constrained_layout=True)
    g = np.array(data["theory_grid"])
    for name, style in (("uniform", "-"), ("copy", "-"), ("unstable", "--")):
        ax[0].plot(g, np.array(data["theory_c"][name], float), style, color="k", lw=1.2,
                   label="large N" if name == "uniform" else None)
    for b in data["beta_sp"]:
        ax[0].axvline(b, color="0.5", ls=":", lw=0.8)
    ax[0].axvline(data["beta_c"], color="0.3", ls="-.", lw=0.8)
    for i, r in enumerate(data["hysteresis"]):
        for start, mk in (("uniform", "o"), ("copy", "s")):
            rows = [x for x in r["rows"] if x["start"] == start]
            ax[0].errorbar([x["alpha"] for x in rows], [x["c"] for x in rows], [x["c_se"] for x in rows], fmt=mk,
                           ms=3.5, color=f"C{i}", mfc="none" if start == "copy" else f"C{i}", lw=0.8,
                           label=f"N = {r['N']}" if start == "uniform" else None)
    ax[0].set(xlabel=r"$\alpha = \beta$ ($\sigma^2 = 1$)", ylabel="copy weight c",
              title="(a) hysteresis: HMC from uniform (filled) / copy (open)")
    ax[0].legend(fontsize=7)
    Ns = [r["N"] for r in data["hysteresis"]]
    ax[1].loglog(Ns, [r["rms_dc"] for r in data["hysteresis"]], "o-", label="rms")
    ax[1].loglog(Ns, [r["max_abs_dc"] for r in data["hysteresis"]], "s--", label="max")
    ax[1].axhline(0.005, color="0.5", ls=":", lw=0.8, label="0.005")
    ax[1].set(xlabel="N", ylabel=r"$|c_{HMC} - c_{branch}|$", title="(b) branch means vs large N")
    ax[1].legend(fontsize=7)
    eq = data["equilibrium"]
    inv = np.array([1 / r["N"] for r in eq["rows"]])
    ax[2].errorbar(inv, [r["alpha_c"] for r in eq["rows"]], [r.get("alpha_c_se", 0.0) for r in eq["rows"]], fmt="o",
                   capsize=2, label=r"umbrella + MBAR $\alpha_c(N)$")
    x = np.linspace(0, inv.max() * 1.1, 50)
    ax[2].plot(x, eq["alpha_c_extrapolated"] + eq["a1_fit"] * x, "-",
               label=f"fit: {eq['alpha_c_extrapolated']:.3f} + {eq['a1_fit']:.1f}/N")
    ax[2].plot(x, eq["beta_c"] + eq["a1_one_loop"] * x, "--", label=f"one loop: {eq['beta_c']:.3f} + {eq['a1_one_loop']:.1f}/N")
    ax[2].set(xlabel="1/N", ylabel=r"$\alpha_c(N)$", title="(c) equal-mass point")
    ax[2].legend(fontsize=7)
    for i, r in enumerate(eq["rows"]):
        ax[3].plot(r["profile_kappa"], np.array(r["profile"]) - min(r["profile"]), color=f"C{i}",
                   label=f"N = {r['N']}: barrier {r['barrier']:.3f}")
    ax[3].set(xlabel=r"$\hat\kappa$", ylabel=r"$-\log p_N(\hat\kappa)/N$ at $\alpha_c(N)$",
              title=f"(d) profiles (large-N barrier {eq['barrier_large_n']:.3f})")
    ax[3].legend(fontsize=7)
    big = max(data["linear"], key=lambda r: r["N"])
    ratios = [x["ratio"] for x in big["rows"]]
    ax[4].plot(ratios, big["w_large_n"], "k-", lw=1.5, label="large N")
    for i, r in enumerate(sorted(data["linear"], key=lambda r: (r["sampler"], r["N"]))):
        mk = "o-" if r["sampler"] == "reduced" else "x"
        ax[4].errorbar([x["ratio"] for x in r["rows"]], [x["w"] for x in r["rows"]], [x["w_se"] for x in r["rows"]],
                       fmt=mk, ms=4, lw=0.8, label=f"{r['sampler']} N = {r['N']}")
    ax[4].set(xlabel=r"$\beta/\beta_c$", ylabel=r"$w = g\hat\kappa$", title="(e) linear attention, finite N")
    ax[4].legend(fontsize=6)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    return sweep_figure_main(argv, "fig_attention_finite_n", __doc__, compute, draw, "hours")


if __name__ == "__main__":
    script_main(main)
