"""``grokphase attention``: copy-task attention transitions, phase diagrams and finite-N experiments."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    """Add the ``attention`` subcommand group (transition, phase-diagram, validate) to ``sub``."""
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
    q.set_defaults(func=transition)

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
    q.set_defaults(func=phase_diagram)

    q = asub.add_parser("validate", help="finite-N sampling / training experiments (REF parameters)",
                        description="Resumable finite-N experiments: HMC hysteresis, umbrella+MBAR equilibrium, "
                                    "linear attention (reduced posterior), Langevin dynamics, Adam/MAP thresholds.")
    q.add_argument("experiment", choices=("hysteresis", "equilibrium", "linear", "dynamics", "map"))
    q.add_argument("--N", type=int, nargs="+", help="widths (defaults per experiment)")
    q.add_argument("--n-iter", type=int, default=2000, help="HMC iterations (first half discarded)")
    q.add_argument("--out-dir", help="results folder (default runs/attention_<experiment>)")
    q.add_argument("--json", action="store_true", help="compact JSON")
    q.set_defaults(func=validate)


def transition(args) -> int:
    """``attention transition``: one row per ``--L``; with ``--end-point`` also the critical end point."""
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


def phase_diagram(args) -> int:
    """``attention phase-diagram``: the grid summary; optionally saved (``--save``) and drawn (``--plot``)."""
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


def validate(args) -> int:
    """``attention validate``: finite-N validation experiments of the attention theory; results in runs/."""
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


