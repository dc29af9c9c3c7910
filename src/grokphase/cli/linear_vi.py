"""``grokphase linear-vi``: milestones of the Bayesian linear model of grokking under Gaussian VI."""

from __future__ import annotations

from grokphase.cli._args import add_json, reject
from grokphase.cli._output import emit


def add_parser(sub) -> None:
    """Add the ``linear-vi`` subcommand to the subparsers ``sub``."""
    p = sub.add_parser("linear-vi", help="Bayesian linear model of grokking under Gaussian VI (arXiv 2604.12434 §5)",
                       description="Grokking times, EU-peak times and delays (exact vs eq. [80]) of the MP-limit model.")
    p.add_argument("--lam", type=float, nargs="+", default=[0.2, 0.6, 0.99], help="aspect ratio(s) d/n in (0, 1)")
    p.add_argument("--n-over-sigma2", type=float, default=5e7, help="n / sigma^2 > 0 (default 5e7)")
    p.add_argument("--inv-tau2", type=float, default=0.0, help="prior precision 1/tau^2 >= 0 (default 0: flat)")
    p.add_argument("--eps", type=float, default=1e-3, help="success threshold on the squared residual (default 1e-3)")
    p.add_argument("--C0", type=float, help="initial generalisation excess risk (default 1; the figure uses 1)")
    add_json(p)
    p.add_argument("--plot", metavar="PATH", help="draw the Fig. 6 panels to PATH (PNG; PDF and JSON beside it)")
    p.set_defaults(func=run, parser=p)


def run(args) -> int:
    """Tabulate the milestones for every ``--lam`` (JSON with ``--json``); optionally draw Fig. 6."""
    if args.plot and args.C0 not in (None, 1.0):
        reject(args, "--C0", "to --plot (Fig. 6 is drawn at C0 = 1; drop --plot or --C0)")
    args.C0 = 1.0 if args.C0 is None else args.C0
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
        emit(out, args)
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
