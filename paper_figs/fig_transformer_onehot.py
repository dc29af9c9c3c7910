"""Figure: the package's NumPy transformer on one-hot copy data against the one-hot attention model.

One layer, one head, position-only attention, V = 4, L = 8, d = 64, Gaussian likelihood (MLP held
at zero; the presets ``transformer-onehot-{softmax,linear}[-adam]`` of
``grokphase.validation.experiments.presets``), P swept through beta = P / (d sigma^2), from a
near-uniform and a planted-copy start, SGLD (posterior) and Adam (MAP).  Beside it the large-N
states of ``docs/attention_onehot.md`` (REF priors s_qk = 0.25, s_uv = 9; a different
parametrisation, so the comparison is of phenomena: where and how the copy appears, not numbers):

(a) softmax: copy weight c = mean_l A_{l,l-1} against beta, both starts; the model's beta_c and
    spinodal window shaded, its two branches' c (cyclic, uniform value 1/L; right axis);
(b) softmax: held-out copy accuracy;
(c) linear: copy channel w_c = g kappa and mean channel w_m = a m against beta, both starts; the
    model's w_c, w_m (thin), onset beta_c and steepest copy rise marked;
(d) linear: held-out copy accuracy and the mean the residual path emits (m_direct).

``--recompute`` runs what the sweeps' stores under ``--runs`` lack (about 25 minutes on one core);
otherwise the figure is drawn from complete stores, else from the committed numbers.
"""

from __future__ import annotations

from pathlib import Path


from grokphase.paper_figs._output import save_figure, script_main, sweep_figure_main

PLANS = ("transformer-onehot-softmax", "transformer-onehot-softmax-adam", "transformer-onehot-linear",
         "transformer-onehot-linear-adam")
REF = dict(L=8, s_qk=0.25, s_uv=9.0, tokens="onehot", V=4)
FIELDS = ("c_final", "w_c_final", "w_m_final", "g_final", "m_final", "kappa_final", "a_final", "m_direct_final",
          "test_acc", "train_loss")


def theory(betas_softmax, betas_linear) -> dict:
    """The model's predictions at REF: transition summaries and the states at the given betas
    (softmax c, g from both inits; linear w_c, w_m of the ordered state)."""
    from grokphase import attention

    ts = attention.transition(kind="softmax", **REF)
    tl = attention.transition(kind="linear", **REF)
    soft = {init: [attention.solve(float(b), kind="softmax", init=init, **REF) for b in betas_softmax]
            for init in ("uniform", "copy")}
    lin = [attention.solve(float(b), kind="linear", init="copy", **REF) for b in betas_linear]
    return {"softmax": {"order": ts.order, "beta_c": ts.beta_c, "beta_spinodal": list(ts.beta_spinodal),
                        "beta": list(map(float, betas_softmax)),
                        **{f"c_{i}": [s.c for s in soft[i]] for i in soft}},
            "linear": {"order": tl.primary_order, "beta_c": tl.beta_c, "onset_channel": tl.onset_channel,
                       "secondary": tl.secondary, "beta_steepest": tl.beta_steepest, "beta": list(map(float, betas_linear)),
                       "w_c": [s.w_c for s in lin], "w_m": [s.w_m for s in lin]}}


def numbers(results: dict, theory_betas=None) -> dict:
    """{plan: {"P", "beta", start: {field: [...] per P}}, "theory": ...} from the sweeps' Datasets
    (seed 0); theory_betas (softmax, linear) default to the sweeps' own betas."""
    out = {}
    for name, ds in results.items():
        ds = ds.isel(kind=0, seed=0)
        out[name] = {"P": ds.P.values.tolist(), "beta": ds.beta.isel(start=0).values.tolist(),
                     **{s: {f: ds[f].sel(start=s).values.tolist() for f in FIELDS} for s in ds.start.values.tolist()}}
    if theory_betas is None:
        theory_betas = (out[PLANS[0]]["beta"], out[PLANS[2]]["beta"])
    out["theory"] = theory(*theory_betas)
    return out


def compute(runs="runs", *, recompute: bool = False, executor=None, progress=None) -> dict:
    """The plotted numbers from the presets' sweeps under ``runs`` ({} when a store lacks points
    and recompute is False)."""
    from grokphase.validation.experiments import presets

    res = presets.results(PLANS, runs, recompute=recompute, executor=executor, progress=progress)
    return {} if res is None else numbers(res)


def draw(data: dict, path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    th = data["theory"]
    styles = {"uniform": ("C0", "o"), "copy": ("C3", "s")}
    ts = th["softmax"]
    for a in (ax[0, 0], ax[0, 1]):
        a.axvspan(*ts["beta_spinodal"], color="0.9")
        a.axvline(ts["beta_c"], color="0.5", ls=":", lw=0.8)
    tl = th["linear"]
    for a in (ax[1, 0], ax[1, 1]):
        a.axvline(tl["beta_c"], color="0.5", ls=":", lw=0.8)
        a.axvline(tl["beta_steepest"], color="0.5", ls="--", lw=0.8)
    for name, ls in ((PLANS[0], "-"), (PLANS[1], "--")):
        if name not in data:
            continue
        d, opt = data[name], "Adam" if name.endswith("adam") else "SGLD"
        for s, (col, mk) in styles.items():
            ax[0, 0].plot(d["beta"], d[s]["c_final"], mk + ls, color=col, ms=4, label=f"{opt}, {s} start")
            ax[0, 1].plot(d["beta"], d[s]["test_acc"], mk + ls, color=col, ms=4, label=f"{opt}, {s} start")
    twin = ax[0, 0].twinx()
    for i, col in (("uniform", "C0"), ("copy", "C3")):
        twin.plot(ts["beta"], ts[f"c_{i}"], color=col, lw=0.8, alpha=0.6)
    twin.set_ylabel("model c (thin; cyclic, uniform 1/L)")
    for name, ls in ((PLANS[2], "-"), (PLANS[3], "--")):
        if name not in data:
            continue
        d, opt = data[name], "Adam" if name.endswith("adam") else "SGLD"
        for s, (col, mk) in styles.items():
            ax[1, 0].plot(d["beta"], d[s]["w_c_final"], mk + ls, color=col, ms=4, label=f"w_c {opt}, {s}")
            ax[1, 0].plot(d["beta"], d[s]["w_m_final"], mk + ls, color=col, ms=4, mfc="none", label=f"w_m {opt}, {s}")
            ax[1, 1].plot(d["beta"], d[s]["test_acc"], mk + ls, color=col, ms=4, label=f"acc {opt}, {s}")
            ax[1, 1].plot(d["beta"], d[s]["m_direct_final"], mk + ls, color=col, ms=4, mfc="none",
                          label=f"m_direct {opt}, {s}")
    ax[1, 0].plot(tl["beta"], tl["w_c"], color="k", lw=1.0, label="model w_c")
    ax[1, 0].plot(tl["beta"], tl["w_m"], color="k", lw=1.0, ls=":", label="model w_m")
    ax[0, 0].set(ylabel=r"copy weight $\overline{A_{l,l-1}}$", title="(a) softmax: copy weight")
    ax[0, 1].set(ylabel="held-out copy accuracy", title="(b) softmax: generalisation")
    ax[1, 0].set(ylabel="order parameter", title="(c) linear: copy (filled) and mean (open) channels")
    ax[1, 1].set(ylabel="accuracy (filled), m_direct (open)", title="(d) linear: accuracy, residual-path mean")
    for a in ax.ravel():
        a.set_xscale("log")
        a.set_xlabel(r"$\beta = P/(d\,\sigma^2)$")
        a.legend(fontsize=6)
    return save_figure(fig, data, path)


def main(argv=None) -> list[Path]:
    return sweep_figure_main(argv, "fig_transformer_onehot", __doc__, compute, draw, "about 25 minutes")


if __name__ == "__main__":
    script_main(main)
