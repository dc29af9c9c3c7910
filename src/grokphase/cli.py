"""Command line interface: ``grokphase <subcommand> --help``.

Subcommands
-----------
linear-vi   milestones of the linear-VI model for one or more lam; optional Fig. 6 plot.
attention   copy-task attention: ``transition`` (order, beta_c, spinodals, jumps) and
            ``phase-diagram`` (order parameters on a (beta, L) grid, optional plot).
train       train the NumPy transformer: ``modular`` (grokking mod p) or ``icl`` (in-context
            modular arithmetic); resumable runs in --run-dir.
uncertainty the grokking / epistemic-uncertainty study (issue 6): ``study`` (everything, then
            the figures), ``train`` one run (modular or icl, adamw or ivon, a seed),
            ``evaluate`` the posteriors of every run, ``sweeps``, ``diversity``.
figs        regenerate every paper figure into a folder.
"""

from __future__ import annotations

import argparse
import json
import sys


def _linear_vi(args) -> int:
    from grokphase.linear_vi import LinearVIModel

    rows = []
    for lam in args.lam:
        m = LinearVIModel(lam, args.n_over_sigma2, inv_tau2=args.inv_tau2, eps=args.eps, C0=args.C0)
        t_emp, t_gen = m.grokking_times()
        e_emp, e_gen = m.eu_peak_times()
        delay = t_gen - t_emp
        rows.append(dict(lam=lam, n_over_sigma2=args.n_over_sigma2, inv_tau2=args.inv_tau2,
                         eps=args.eps, C0=args.C0, kappa=m.kappa, K_emp=m.K_emp, K_gen=m.K_gen,
                         t95_emp=t_emp, t95_gen=t_gen, eu_peak_emp=e_emp, eu_peak_gen=e_gen,
                         delay=delay, eu_peak_delay=e_gen - e_emp,
                         delay_asymptotic=m.delay_asymptotic(),
                         ratio_exact_over_asymptotic=delay / m.delay_asymptotic()))
    out = {"models": rows}
    if args.plot:
        from grokphase.paper_figs import fig_linear_vi as fig

        data = fig.compute(tuple(args.lam), n_over_sigma2=args.n_over_sigma2,
                           inv_tau2=args.inv_tau2, eps=args.eps)
        out["figure"] = [str(p) for p in fig.draw(data, args.plot)]
    if args.json:
        json.dump(out, sys.stdout, indent=2)
        print()
    else:
        hdr = f"{'lam':>6} {'t95_emp':>11} {'t95_gen':>11} {'delay':>11} {'asympt[80]':>11} {'ratio':>7} {'EU-peak delay':>13}"
        print(hdr)
        for r in rows:
            print(f"{r['lam']:>6g} {r['t95_emp']:>11.4e} {r['t95_gen']:>11.4e} {r['delay']:>11.4e} "
                  f"{r['delay_asymptotic']:>11.4e} {r['ratio_exact_over_asymptotic']:>7.3f} "
                  f"{r['eu_peak_delay']:>13.4e}")
        for p in out.get("figure", []):
            print(f"wrote {p}")
    return 0


def _attention_transition(args) -> int:
    from dataclasses import asdict

    from grokphase import attention

    rows = []
    for L in args.L:
        t = attention.transition(L=L, kind=args.kind, s_qk=args.s_qk, s_uv=args.s_uv)
        rows.append(asdict(t))
    if args.kind == "softmax" and args.end_point:
        cep = attention.critical_end_point(s_qk=args.s_qk, s_uv=args.s_uv)
        out = {"transitions": rows, "critical_end_point": asdict(cep)}
    else:
        out = {"transitions": rows}
    if args.json:
        json.dump(out, sys.stdout, indent=2, default=float)
        print()
        return 0
    print(f"{'L':>6} {'order':>11} {'beta_c':>10} {'beta_sp_lo':>10} {'beta_sp_hi':>10} {'dc':>8} {'dg':>8} {'deps':>8} {'exponent':>8}")
    for r in rows:
        sp = r["beta_spinodal"] or (float("nan"),) * 2
        jump = r["jump"] or (float("nan"),) * 3
        ex = r["exponent"] if r["exponent"] is not None else float("nan")
        print(f"{r['L']:>6g} {r['order']:>11} {r['beta_c']:>10.6f} {sp[0]:>10.6f} {sp[1]:>10.6f} "
              f"{jump[0]:>8.4f} {jump[1]:>8.4f} {jump[2]:>8.4f} {ex:>8.4f}")
    if "critical_end_point" in out:
        c = out["critical_end_point"]
        print(f"critical end point: L_c = {c['x_c']:.6f}, beta* = {c['beta_star']:.6f} "
              f"(jump exponent {c['jump_exponent']:.3f}, spinodal-width exponent {c['width_exponent']:.3f})")
    return 0


def _attention_phase_diagram(args) -> int:
    import numpy as np

    from grokphase import attention

    lo, hi = (0.5, 40.0) if args.kind == "softmax" else (0.01, 1.0)
    args.beta_min = lo if args.beta_min is None else args.beta_min
    args.beta_max = hi if args.beta_max is None else args.beta_max
    betas = np.linspace(args.beta_min, args.beta_max, args.n_beta)
    xs = np.linspace(args.x_min, args.x_max, args.n_x)
    pd = attention.phase_diagram(betas, xs, kind=args.kind, s_qk=args.s_qk, s_uv=args.s_uv,
                                 vary=args.vary, L=args.L)
    out = {"axis": pd.axis, "params": pd.params, "converged": pd.converged,
           "x": pd.xs.tolist(), "order": pd.order.tolist(), "beta_c": pd.beta_c.tolist(),
           "beta_sp_lo": pd.beta_sp_lo.tolist(), "beta_sp_hi": pd.beta_sp_hi.tolist()}
    if args.save:
        out["saved"] = str(pd.save(args.save))
    if args.plot:
        from grokphase.paper_figs import fig_attention_phase_diagram as fig

        cep = None
        if args.kind == "softmax" and {"first", "crossover"} <= set(out["order"]):
            cep = attention.critical_end_point(s_qk=args.s_qk, s_uv=args.s_uv, vary=args.vary, L=args.L,
                                               bracket=(args.x_min, args.x_max), fit_exponents=False)
            out["critical_end_point"] = {"x_c": cep.x_c, "beta_star": cep.beta_star}
        out["figure"] = [str(p) for p in fig.plot_phase_diagram(pd, args.plot, cep)]
    if args.json:
        json.dump(out, sys.stdout, indent=2, default=float)
        print()
        return 0
    first = [i for i, o in enumerate(out["order"]) if o == "first"]
    print(f"{args.kind} attention, {pd.axis} in [{args.x_min}, {args.x_max}] ({args.n_x}) x beta in "
          f"[{args.beta_min}, {args.beta_max}] ({args.n_beta}); all points converged: {pd.converged}")
    for i in sorted({first[0], first[-1]} if first else set()):
        print(f"first order on grid {pd.axis} in [{pd.xs[first[0]]:.4g}, {pd.xs[first[-1]]:.4g}]; at {pd.axis} = "
              f"{pd.xs[i]:.4g}: beta_c = {pd.beta_c[i]:.5g}, spinodals ({pd.beta_sp_lo[i]:.5g}, {pd.beta_sp_hi[i]:.5g})")
    if "critical_end_point" in out:
        c = out["critical_end_point"]
        print(f"critical end point: {pd.axis}_c = {c['x_c']:.6g}, beta* = {c['beta_star']:.6g}")
    for key in ("saved", "figure"):
        for p in np.atleast_1d(out.get(key, [])):
            print(f"wrote {p}")
    return 0


def _train(args) -> int:
    import dataclasses

    if args.task == "modular":
        from grokphase.validation.experiments import modular_grokking as exp

        run = exp.PRESETS[args.preset]
        run_fn = exp.run_modular
        overrides = {k: getattr(args, k) for k in ("p", "op", "frac", "seed", "steps", "lr", "weight_decay")
                     if getattr(args, k, None) is not None}
    else:
        from grokphase.validation.experiments import icl_training as exp

        run = exp.PRESETS[args.preset]
        run_fn = exp.run_icl
        overrides = {k: getattr(args, k) for k in ("p", "n_task", "alpha", "n_ctx", "seed", "steps", "lr",
                                                   "weight_decay") if getattr(args, k, None) is not None}
    run = dataclasses.replace(run, **overrides)
    run_dir = args.run_dir or f"runs/{args.task}_{args.preset}_seed{run.seed}"
    summary = run_fn(run, run_dir, resume=not args.fresh, progress=not args.json)
    if args.json:
        json.dump(summary, sys.stdout, indent=2, default=float)
        print()
    else:
        print(json.dumps({k: v for k, v in summary.items() if k != "run"}, indent=1, default=float))
        print(f"run directory: {run_dir}")
    return 0


def _attention_validate(args) -> int:
    """Finite-N validation experiments of the attention theory (issue 4); results in runs/."""
    if args.experiment == "hysteresis":
        from grokphase.validation.experiments import attention_hysteresis as exp

        res = exp.run(tuple(args.N or (64, 128, 256, 512)), out_dir=args.out_dir or "runs/attention_hysteresis",
                      n_iter=args.n_iter)
        out = [{k: r[k] for k in ("N", "rms_dc", "max_abs_dc", "n_settled", "n_switching")} for r in res]
    elif args.experiment == "equilibrium":
        from grokphase.validation.experiments import attention_equilibrium as exp

        res = exp.run(tuple(args.N or (64, 128, 256)), out_dir=args.out_dir or "runs/attention_equilibrium",
                      n_iter=args.n_iter)
        out = {k: v for k, v in res.items() if k != "rows"} | {
            "alpha_c": {r["N"]: r["alpha_c"] for r in res["rows"]}, "barrier": {r["N"]: r["barrier"] for r in res["rows"]}}
    elif args.experiment == "linear":
        from grokphase.validation.experiments import attention_linear as exp

        plan = ((64, "hmc"), (128, "hmc")) + tuple((N, "reduced") for N in (args.N or (64, 128, 256, 1024, 4096)))
        res = exp.run(plan, out_dir=args.out_dir or "runs/attention_linear", n_iter=args.n_iter)
        out = [{"N": r["N"], "sampler": r["sampler"], "w": {x["ratio"]: x["w"] for x in r["rows"]}} for r in res]
    elif args.experiment == "dynamics":
        from grokphase.validation.experiments import attention_dynamics as exp

        from grokphase import attention

        bc = attention.transition(L=8, kind="linear", s_qk=0.25, s_uv=9.0).beta_c
        out = {"softmax": exp.run([13.5, 14.0, 14.5, 15.0, 16.0], N=args.N[0] if args.N else 256, n_rep=1),
               "linear": exp.run([r * bc for r in (1.5, 2.0, 3.0)], kind="linear",
                                 N=args.N[0] if args.N else 256, T=40.0, n_rep=1)}
        out = {k: {"betas": v["betas"], "onset": v["onset"], "final": v["final"]} for k, v in out.items()}
    else:
        from grokphase.validation.experiments import attention_map_training as exp

        res = exp.threshold_scan([20.0, 28.0, 31.0, 33.0, 36.0, 45.0], N=args.N[0] if args.N else 64)
        out = {k: v for k, v in res.items() if k != "trajectories"}
    json.dump(out, sys.stdout, indent=None if args.json else 1, default=float)
    print()
    return 0


def _uncertainty(args) -> int:
    from grokphase.validation.experiments import uncertainty_runs as ur

    if args.uncertainty_command == "study":
        ur.run_full_study(args.root, progress=not args.json)
        return _figs(argparse.Namespace(out=args.out, json=args.json))
    if args.uncertainty_command == "train":
        summary = ur.train_study_run(args.task, args.optimizer, args.seed, args.root, steps=args.steps,
                                     progress=not args.json)
        print(json.dumps({k: v for k, v in summary.items() if k != "run"}, indent=1, default=float))
        return 0
    if args.uncertainty_command == "sweeps":
        res = ur.context_noise_sweeps(tuple(args.seeds), args.root, samples=args.samples)
    elif args.uncertainty_command == "diversity":
        res = ur.diversity_grid(tuple(args.n_task), tuple(args.alpha), args.seed, args.root, steps=args.steps,
                                train=args.train, samples=args.samples, progress=not args.json)
    else:
        res = ur.evaluate_study(args.task, tuple(args.seeds), args.root, samples=args.samples, every=args.every)
    if args.out:
        from pathlib import Path

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, default=float))
    if args.uncertainty_command != "evaluate":
        json.dump(res, sys.stdout, default=float)
        print()
        return 0
    table = [{"optimizer": r["optimizer"], "seed": r["seed"], **{k: v for k, v in r["summary"].items() if k != "estimators"},
              "estimators": r["summary"]["estimators"]} for r in res["runs"]]
    json.dump(table, sys.stdout, indent=1, default=float)
    print()
    return 0


def _figs(args) -> int:
    from grokphase.paper_figs import FIGURES, load

    written = []
    for name in FIGURES:
        written += [str(p) for p in load(name).main(["--out", f"{args.out}/{name}.png"])]
    if args.json:
        json.dump({"figures": written}, sys.stdout, indent=2)
        print()
    else:
        print("\n".join(f"wrote {p}" for p in written))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="grokphase", description="Physics of grokking and of attention phase transitions.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("linear-vi", help="Bayesian linear model of grokking under Gaussian VI (arXiv 2604.12434 §5)",
                       description="Grokking times, EU-peak times and delays (exact vs eq. [80]) of the MP-limit model.")
    p.add_argument("--lam", type=float, nargs="+", default=[0.2, 0.6, 0.99], help="aspect ratio(s) d/n in (0, 1)")
    p.add_argument("--n-over-sigma2", type=float, default=5e7, help="n / sigma^2 > 0 (default 5e7)")
    p.add_argument("--inv-tau2", type=float, default=0.0, help="prior precision 1/tau^2 >= 0 (default 0: flat)")
    p.add_argument("--eps", type=float, default=1e-3, help="success threshold on the squared residual (default 1e-3)")
    p.add_argument("--C0", type=float, default=1.0, help="initial generalisation excess risk (default 1)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--plot", metavar="PATH", help="draw the Fig. 6 panels to PATH (PNG; PDF and JSON beside it)")
    p.set_defaults(func=_linear_vi)

    p = sub.add_parser("attention", help="Bayesian attention on a copy task: transitions and phase diagrams",
                       description="Large-N saddle points of single-layer softmax/linear attention (spec attention_copy.md).")
    asub = p.add_subparsers(dest="attention_command", required=True)

    def common(q):
        q.add_argument("--kind", choices=("softmax", "linear"), default="softmax", help="attention type")
        q.add_argument("--s-qk", type=float, default=0.25, help="query-key prior scale s_q s_k > 0 (default 0.25)")
        q.add_argument("--s-uv", type=float, default=9.0, help="value prior scale s_u s_v > 0 (default 9)")
        q.add_argument("--json", action="store_true", help="machine-readable output")

    q = asub.add_parser("transition", help="order, beta_c, spinodals, jumps, exponents",
                        description="Classify and locate the transition for one or more L.")
    q.add_argument("--L", type=float, nargs="+", default=[8.0], help="sequence length(s) >= 2 (default 8)")
    q.add_argument("--end-point", action="store_true", help="also locate the softmax critical end point in L")
    common(q)
    q.set_defaults(func=_attention_transition)

    q = asub.add_parser("phase-diagram", help="order parameters on a (beta, L) or (beta, s_qk) grid",
                        description="Equilibrium order parameters, spinodals and beta_c on a grid.")
    q.add_argument("--vary", choices=("L", "s_qk"), default="L", help="second axis (default L)")
    q.add_argument("--x-min", type=float, default=2.0, help="smallest L (or s_qk) (default 2)")
    q.add_argument("--x-max", type=float, default=24.0, help="largest L (or s_qk) (default 24)")
    q.add_argument("--n-x", type=int, default=89, help="points on the second axis (default 89)")
    q.add_argument("--beta-min", type=float, help="smallest beta (default 0.5 softmax, 0.01 linear)")
    q.add_argument("--beta-max", type=float, help="largest beta (default 40 softmax, 1 linear)")
    q.add_argument("--n-beta", type=int, default=200, help="points in beta (default 200)")
    q.add_argument("--L", type=float, default=8.0, help="fixed L when --vary s_qk (default 8)")
    q.add_argument("--save", metavar="PATH", help="save the labelled arrays (.npz, atomic)")
    q.add_argument("--plot", metavar="PATH", help="draw the diagram to PATH (PNG; PDF and JSON beside it)")
    common(q)
    q.set_defaults(func=_attention_phase_diagram)

    q = asub.add_parser("validate", help="finite-N sampling / training experiments (REF parameters)",
                        description="Resumable finite-N experiments: HMC hysteresis, umbrella+MBAR equilibrium, "
                                    "linear attention (reduced posterior), Langevin dynamics, Adam/MAP thresholds.")
    q.add_argument("experiment", choices=("hysteresis", "equilibrium", "linear", "dynamics", "map"))
    q.add_argument("--N", type=int, nargs="+", help="widths (defaults per experiment)")
    q.add_argument("--n-iter", type=int, default=2000, help="HMC iterations (first half discarded)")
    q.add_argument("--out-dir", help="results folder (default runs/attention_<experiment>)")
    q.add_argument("--json", action="store_true", help="compact JSON")
    q.set_defaults(func=_attention_validate)

    p = sub.add_parser("train", help="train the NumPy transformer (resumable, logged runs)",
                       description="Train the PyTorch-free NumPy transformer on a task; metrics in RUN_DIR/metrics.jsonl.")
    tsub = p.add_subparsers(dest="task", required=True)
    from grokphase.validation.experiments.icl_training import PRESETS as ICL_PRESETS
    from grokphase.validation.experiments.modular_grokking import PRESETS as MOD_PRESETS

    def train_common(q, presets, default):
        q.add_argument("--preset", choices=sorted(presets), default=default,
                       help=f"documented configuration (default {default})")
        q.add_argument("--seed", type=int, help="seed (data split, init, batches)")
        q.add_argument("--steps", type=int, help="optimiser steps")
        q.add_argument("--lr", type=float, help="AdamW learning rate")
        q.add_argument("--weight-decay", type=float, help="AdamW weight decay")
        q.add_argument("--run-dir", help="output folder (default runs/<task>_<preset>_seed<seed>)")
        q.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
        q.add_argument("--json", action="store_true", help="machine-readable summary, no progress lines")
        q.set_defaults(func=_train)

    q = tsub.add_parser("modular", help="grokking of a op b mod p (Nanda-style 1-layer model)")
    q.add_argument("--p", type=int, help="prime modulus")
    q.add_argument("--op", choices=("add", "sub", "mul", "quad"), help="operation")
    q.add_argument("--frac", type=float, help="training fraction of the p^2 pairs")
    train_common(q, MOD_PRESETS, "nanda97")
    q = tsub.add_parser("icl", help="in-context modular arithmetic (pre-LN, RoPE, tied embeddings)")
    q.add_argument("--p", type=int, help="modulus")
    q.add_argument("--n-task", type=int, help="parallelogram base tasks (T = 4 n_task)")
    q.add_argument("--alpha", type=float, help="fraction of input pairs used for training")
    q.add_argument("--n-ctx", type=int, help="examples per sequence")
    train_common(q, ICL_PRESETS, "p7-T40")

    p = sub.add_parser("uncertainty", help="epistemic uncertainty through grokking (IVON, Laplace, SWAG)",
                       description="Train the study's runs (parameter snapshots) and evaluate posteriors on them.")
    usub = p.add_subparsers(dest="uncertainty_command", required=True)
    q = usub.add_parser("study", help="train every study run (resumable, ~5 CPU-hours), then redraw all figures")
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--out", default="figures", help="figure folder (default ./figures)")
    q.add_argument("--json", action="store_true", help="no progress lines")
    q.set_defaults(func=_uncertainty)
    q = usub.add_parser("train", help="one study run (resumable)")
    q.add_argument("task", choices=("modular", "icl"))
    q.add_argument("--optimizer", choices=("adamw", "ivon"), default="adamw")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--steps", type=int, help="override the preset's steps (a longer run resumes)")
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--json", action="store_true", help="no progress lines")
    q.set_defaults(func=_uncertainty)
    q = usub.add_parser("evaluate", help="posteriors on every snapshot of the study's runs; summary table")
    q.add_argument("task", choices=("modular", "icl"))
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--samples", type=int, help="posterior samples per estimator (>= 2; default per task)")
    q.add_argument("--every", type=int, help="evaluate every k-th snapshot and the last (default per task)")
    q.add_argument("--out", help="write trajectories and summaries as JSON here")
    q.set_defaults(func=_uncertainty)
    q = usub.add_parser("sweeps", help="in-context runs: accuracy/AU/EU vs context examples and context noise")
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--samples", type=int, default=8, help="posterior samples per estimator (>= 2)")
    q.add_argument("--out", help="write the results as JSON here")
    q.set_defaults(func=_uncertainty)
    q = usub.add_parser("diversity", help="in-context task diversity T x training fraction alpha grid")
    q.add_argument("--n-task", type=int, nargs="+", default=[2, 6, 10], help="base tasks (T = 4 n_task)")
    q.add_argument("--alpha", type=float, nargs="+", default=[0.5, 0.8], help="training fractions of the pairs")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--steps", type=int, default=6000, help="steps per grid run")
    q.add_argument("--train", action="store_true", help="train missing grid runs first (resumable)")
    q.add_argument("--root", default="runs/study", help="parent folder of the run folders")
    q.add_argument("--samples", type=int, default=16, help="posterior samples per estimator (>= 2)")
    q.add_argument("--json", action="store_true", help="no progress lines")
    q.add_argument("--out", help="write the results as JSON here")
    q.set_defaults(func=_uncertainty)

    p = sub.add_parser("figs", help="regenerate every paper figure", description="Regenerate every figure script in paper_figs.")
    p.add_argument("--out", default="figures", help="output folder (default ./figures)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_figs)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"grokphase: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
