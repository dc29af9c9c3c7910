"""``grokphase attention``: copy-task attention transitions, phase diagrams and finite-N experiments."""

from __future__ import annotations

from grokphase.cli._args import add_json, reject
from grokphase.cli._output import emit, field_table, record


def add_parser(sub) -> None:
    """Add the ``attention`` subcommand group (transition, phase-diagram, validate) to ``sub``."""
    p = sub.add_parser("attention", help="Bayesian attention on a copy task: transitions and phase diagrams",
                       description="Large-N saddle points of single-layer softmax/linear attention "
                                   "(docs/attention_copy.md; one-hot tokens: --tokens onehot --V V, "
                                   "docs/attention_onehot.md).")
    asub = p.add_subparsers(dest="attention_command", required=True)

    def common(q):
        q.add_argument("--kind", choices=("softmax", "linear"), default="softmax", help="attention type")
        q.add_argument("--s-qk", type=float, default=0.25, help="query-key prior scale s_q s_k > 0 (default 0.25)")
        q.add_argument("--s-uv", type=float, default=9.0, help="value prior scale s_u s_v > 0 (default 9)")
        q.add_argument("--tokens", default="gaussian",
                       help="token model, one of grokphase.attention.TOKENS: gaussian (default, "
                            "docs/attention_copy.md) or onehot over V symbols (docs/attention_onehot.md)")
        q.add_argument("--V", type=float, help="vocabulary size of the one-hot model, in [2, 1e8] (needs --tokens onehot)")
        q.add_argument("--score-prior", default="product",
                       help="prior of the attention scores, one of grokphase.attention.SCORE_PRIORS: product "
                            "Q K^T / N (default) or gaussian logits (one-hot tokens only)")
        add_json(q)

    q = asub.add_parser("transition", help="order, beta_c, spinodals, jumps, exponents",
                        description="Classify and locate the transition for one or more L.")
    q.add_argument("--L", type=float, nargs="+", default=[8.0], help="sequence length(s) >= 2 (default 8)")
    q.add_argument("--end-point", action="store_true",
                   help="also locate the end point in L: Gaussian tokens, the critical end point of softmax; "
                        "one-hot tokens, L_c(V) (softmax) or L_c2(V) (linear)")
    common(q)
    q.set_defaults(func=transition, parser=q)

    q = asub.add_parser("phase-diagram", help="order parameters on a (beta, L) or (beta, s_qk) grid",
                        description="Equilibrium order parameters, spinodals and beta_c on a grid.")
    q.add_argument("--vary", choices=("L", "s_qk", "V"), default="L",
                   help="second axis (default L; V with --tokens onehot, then leave --V out)")
    q.add_argument("--x-min", type=float, default=2.0, help="smallest L (or s_qk, V) (default 2)")
    q.add_argument("--x-max", type=float, default=24.0, help="largest L (or s_qk, V) (default 24)")
    q.add_argument("--n-x", type=int, default=89, help="points on the second axis (default 89)")
    q.add_argument("--beta-min", type=float, help="smallest beta (default 0.5 softmax, 0.01 linear)")
    q.add_argument("--beta-max", type=float, help="largest beta (default 40 softmax, 1 linear)")
    q.add_argument("--n-beta", type=int, default=200, help="points in beta (default 200)")
    q.add_argument("--L", type=float, help="fixed L (only with --vary s_qk or V; default 8)")
    q.add_argument("--save", metavar="PATH", help="save the labelled Dataset as netCDF (.nc, atomic; "
                   "read it with grokphase.results.load_dataset)")
    q.add_argument("--plot", metavar="PATH", help="draw the diagram to PATH (PNG; PDF and JSON beside it)")
    common(q)
    q.set_defaults(func=phase_diagram, parser=q)

    q = asub.add_parser("validate", help="finite-N sampling / training experiments (named presets)",
                        description="Finite-N experiments as resumable sweeps (one stored file per point, keyed by the "
                                    "full configuration): HMC hysteresis, umbrella+MBAR equilibrium, linear attention "
                                    "(reduced posterior), Langevin dynamics, Adam/MAP thresholds, the transformer copy "
                                    "task under SGLD.  The presets are the paper figures' designs; change them with "
                                    "--config run.toml and --set key=value (design fields or grid axes).")
    q.add_argument("experiment", choices=VALIDATE_PRESETS, help="preset name")
    q.add_argument("--config", metavar="TOML", help="plan file ([design], [grid] tables; see --write-config)")
    q.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                   help="override a design field or grid axis, value as TOML (n_iter=100, N=[64,128]); repeatable")
    q.add_argument("--N", type=int, nargs="+", help="widths: shorthand for --set N=[...]")
    q.add_argument("--n-iter", type=int, help="HMC iterations: shorthand for --set n_iter=...")
    q.add_argument("--seed", type=int, nargs="+", help="seeds: shorthand for --set seed=[...]")
    q.add_argument("--runs", default="runs", help="parent folder of the stores (default runs): runs/<preset>-<key>")
    q.add_argument("--store", help="store folder (instead of the one under --runs); refused if made by another design")
    q.add_argument("--executor", default="serial",
                   help="serial (default), dask (a LocalCluster of --workers processes) or a scheduler address")
    q.add_argument("--workers", type=int, help="LocalCluster workers (default: one per core)")
    q.add_argument("--chunk", type=int, default=1, help="grid points per task (default 1)")
    q.add_argument("--retries", type=int, default=0, help="resubmissions of a failed task (default 0)")
    q.add_argument("--write-config", metavar="TOML", help="write the resolved plan to TOML and exit")
    add_json(q)
    q.set_defaults(func=validate, parser=q)


VALIDATE_PRESETS = ("hysteresis", "equilibrium", "linear", "dynamics-softmax", "dynamics-linear", "map",
                    "transformer-copy-langevin", "onehot-hysteresis", "onehot-hysteresis-random",
                    "onehot-linear", "onehot-equilibrium",
                    "transformer-onehot-softmax",
                    "transformer-onehot-linear", "transformer-onehot-softmax-adam", "transformer-onehot-linear-adam")


def _variant(args):
    """The model variant (``grokphase.attention.Variant``) of ``--kind``, ``--tokens``, ``--V``,
    ``--score-prior``.  An invalid value is a ValueError naming the option; an option the token
    model does not have (a vocabulary size, another score prior) is a usage error."""
    from grokphase import _checks as chk
    from grokphase import attention

    chk.choice("--tokens", args.tokens, attention.TOKENS)
    chk.choice("--score-prior", args.score_prior, attention.SCORE_PRIORS)

    def applies(**kw) -> bool:
        try:
            attention.Variant(args.kind, tokens=args.tokens, **kw)
        except ValueError:
            return False
        return True

    if args.V is not None and not applies(V=attention.V_RANGE[0]):
        reject(args, "--V", f"with --tokens {args.tokens} (this token model has no vocabulary size)")
    if args.score_prior != "product" and not applies(score_prior=args.score_prior):
        reject(args, "--score-prior", f"{args.score_prior} with --tokens {args.tokens} (this token model has "
                                      "only the product prior)")
    return attention.Variant(args.kind, tokens=args.tokens, V=args.V, score_prior=args.score_prior)


def transition(args) -> int:
    """``attention transition``: one column per ``--L``; with ``--end-point`` also the end point in L."""
    from grokphase import attention

    v = _variant(args)
    if args.end_point and "L" not in v.end_point_axes():
        reject(args, "--end-point", f"to --kind {args.kind} with --tokens {args.tokens} (this variant has no end "
                                    "point of a first-order line in L)")
    rows = [record(attention.transition(L=L, kind=v, s_qk=args.s_qk, s_uv=args.s_uv)) for L in args.L]
    out = {"transitions": rows}
    if args.end_point:
        out["critical_end_point"] = record(attention.critical_end_point(kind=v, s_qk=args.s_qk, s_uv=args.s_uv))
    if args.json:
        emit(out, args)
        return 0
    print(f"{args.kind} attention, {v.task}" + ("" if args.score_prior == "product" else
                                                f", {args.score_prior} score prior"))
    print(field_table(rows))
    if "critical_end_point" in out:
        print("end point in L (critical_end_point):")
        print(field_table([out["critical_end_point"]]))
    return 0


def phase_diagram(args) -> int:
    """``attention phase-diagram``: the grid summary; optionally saved (``--save``) and drawn (``--plot``)."""
    import numpy as np

    from grokphase import _checks as chk
    from grokphase import attention

    v = _variant(args)
    if args.L is not None and args.vary == "L":
        reject(args, "--L", "with --vary L (L is the second axis: use --x-min/--x-max/--n-x)")
    if args.vary not in v.axes():
        reject(args, f"--vary {args.vary}", f"with --tokens {args.tokens} (its axes: {', '.join(v.axes())})")
    args.L = 8.0 if args.L is None else args.L
    lo, hi = (0.5, 40.0) if args.kind == "softmax" else (0.01, 1.0)
    args.beta_min = chk.nonnegative("--beta-min", lo if args.beta_min is None else args.beta_min)
    args.beta_max = chk.real("--beta-max", hi if args.beta_max is None else args.beta_max, args.beta_min,
                             note="at least --beta-min")
    chk.real("--x-max", args.x_max, args.x_min, note="at least --x-min")
    chk.integer("--n-x", args.n_x, 1)
    chk.integer("--n-beta", args.n_beta, 1)
    check_axis = {"L": attention._L, "s_qk": attention._scale, "V": attention._V}[args.vary]
    for name, value in (("--x-min", args.x_min), ("--x-max", args.x_max)):  # the facade's range of the axis
        check_axis(f"{name} ({args.vary})", value)
    betas = np.linspace(args.beta_min, args.beta_max, args.n_beta)
    xs = np.linspace(args.x_min, args.x_max, args.n_x)
    pd = attention.phase_diagram(betas, xs, kind=v, s_qk=args.s_qk, s_uv=args.s_uv, vary=args.vary, L=args.L)
    from grokphase.results import flag_labels, save_dataset

    axis, converged = pd.attrs["varied"], pd.attrs["converged"]
    out = {"axis": axis, "params": {k: v for k, v in pd.attrs.items()
                                    if k in ("kind", "s_qk", "s_uv", "L", "V", "tokens", "score_prior")},
           "converged": converged, "x": pd[axis].values.tolist(), "order": flag_labels(pd.order).values.tolist(),
           **{k: pd[k].values.tolist() for k in ("beta_c", "beta_sp_lo", "beta_sp_hi")}}
    if args.save:
        try:
            out["saved"] = str(save_dataset(pd, args.save))
        except OSError as err:
            raise ValueError(f"--save: cannot write {args.save!r} ({err.strerror or err}: {err.filename or args.save})") from None
    if args.plot:
        from grokphase.paper_figs import fig_attention_phase_diagram as fig

        cep = None
        if args.vary in v.end_point_axes() and {"first", "crossover"} <= set(out["order"]):
            cep = attention.critical_end_point(kind=v, s_qk=args.s_qk, s_uv=args.s_uv, vary=args.vary, L=args.L,
                                               bracket=(args.x_min, args.x_max), fit_exponents=False)
            out["critical_end_point"] = {"x_c": cep.x_c, "beta_star": cep.beta_star}
        out["figure"] = [str(p) for p in fig.plot_phase_diagram(pd, args.plot, cep)]
    if args.json:
        emit(out, args)
        return 0
    first = [i for i, o in enumerate(out["order"]) if o == "first"]
    x, bc, lo_, hi_ = (out[k] for k in ("x", "beta_c", "beta_sp_lo", "beta_sp_hi"))
    what = f"{args.kind} attention, {v.task}" + ("" if args.score_prior == "product" else
                                                 f", {args.score_prior} score prior")
    print(f"{what}, {axis} in [{args.x_min}, {args.x_max}] ({args.n_x}) x beta in "
          f"[{args.beta_min}, {args.beta_max}] ({args.n_beta}); all points converged: {converged}")
    for i in sorted({first[0], first[-1]} if first else set()):
        print(f"first order on grid {axis} in [{x[first[0]]:.4g}, {x[first[-1]]:.4g}]; at {axis} = "
              f"{x[i]:.4g}: beta_c = {bc[i]:.5g}, spinodals ({lo_[i]:.5g}, {hi_[i]:.5g})")
    if "critical_end_point" in out:
        c = out["critical_end_point"]
        print(f"critical end point: {axis}_c = {c['x_c']:.6g}, beta* = {c['beta_star']:.6g}")
    for key in ("saved", "figure"):
        for p in np.atleast_1d(out.get(key, [])):
            print(f"wrote {p}")
    return 0


def validate(args) -> int:
    """``attention validate``: run (or resume) a finite-N experiment preset; print its summary."""
    import importlib

    from grokphase.sweep import Dask
    from grokphase.validation.experiments import presets

    shorthands = [f"{k}={v}" for k, v in (("N", args.N), ("n_iter", args.n_iter), ("seed", args.seed))
                  if v is not None]
    plan = presets.plan(args.experiment, args.config, shorthands + args.overrides)
    if args.write_config:
        print(plan.to_toml(args.write_config))
        return 0
    store = args.store or presets.store(args.experiment, plan, args.runs)
    executor = Dask(n_workers=args.workers) if args.executor == "dask" else args.executor
    if args.workers is not None and args.executor != "dask":
        reject(args, "--workers", f"with --executor {args.executor} (only with --executor dask)")
    ds = plan.run(store=store, executor=executor, chunk=args.chunk, retries=args.retries,
                  progress=False if args.json else None)
    summary = importlib.import_module(plan.point.__module__).summarize(ds)
    if args.json:
        emit({"experiment": args.experiment, "store": str(store), "plan": plan.config(),
              "summary": summary.drop_attrs().to_dict(data="list")}, args)
    else:
        print(summary.drop_attrs())
        print(f"store: {store}")
    return 0
