"""``grokphase uniformity``: the token-uniformity / MED experiments (``docs/uniformity_med.md``).

``list`` the presets (grids of ``validation.experiments.uniformity_presets``) with how many of
their runs have finished; ``run NAME`` sweeps a preset through the sweep layer (resumable: every
run keeps its own folder, every finished point is stored), with ``--set key=value`` overrides of
design fields or grid axes (e.g. ``--set 'k=[40, 67]' 'seed=[0]'``); ``table NAME`` prints, from
the finished runs, the split table (ceiling, final accuracy per pair category, memorisation and
grokking steps) and the progress-measure table (correlation with log test loss after
memorisation, lead times of the half-change points).
"""

from __future__ import annotations

from grokphase.cli._args import add_json, show_progress
from grokphase.cli._output import emit


def add_parser(sub) -> None:
    """Add the ``uniformity`` subcommand group (list, run, table) to ``sub``."""
    p = sub.add_parser("uniformity", help="token uniformity and MED: split, weight-decay and ablation runs",
                       description=__doc__)
    usub = p.add_subparsers(dest="uniformity_command", required=True)
    q = usub.add_parser("list", help="the presets and their finished runs")
    q.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="overrides applied to every preset (repeatable)")
    add_json(q)
    q.set_defaults(func=list_presets, parser=q)
    for name, func, hlp in (("run", run, "sweep one preset (resumable)"),
                            ("table", table, "tables of a preset's finished runs")):
        r = usub.add_parser(name, help=hlp)
        r.add_argument("preset", help="preset name (see `grokphase uniformity list`)")
        r.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                       help="override design fields or grid axes (TOML values)")
        r.add_argument("--root", default="runs", help="folder of the point stores (default runs)")
        if name == "run":
            r.add_argument("--dask", action="store_true", help="run the points on a local Dask cluster")
        add_json(r)
        r.set_defaults(func=func, parser=r)


def _plan(name: str, sets):
    from grokphase.validation.experiments.uniformity_presets import PRESETS

    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}; got {name!r}")
    return PRESETS[name].with_overrides(sets)


def _finished(name: str, plan) -> list[tuple]:
    """(run configuration, loaded run) for every finished run of the plan."""
    from grokphase.validation.experiments import polygon_sum, uniformity_splits
    from grokphase.validation.experiments.uniformity_presets import runs_of

    load = polygon_sum.load_run if name.startswith("polygon") else uniformity_splits.load_run
    return [(r, got) for r in runs_of(name, plan) if (got := load(r)) is not None]


def list_presets(args) -> int:
    """Print every preset, its grid size and finished runs."""
    from grokphase.validation.experiments.uniformity_presets import PRESETS

    rows = []
    for name in PRESETS:
        plan = PRESETS[name].with_overrides(args.set) if args.set else PRESETS[name]
        n = len(plan.grid)
        rows.append({"preset": name, "points": n, "finished": len(_finished(name, plan)),
                     "axes": {k: list(v) for k, v in plan.axes}})
    if args.json:
        emit({"presets": rows}, args)
        return 0
    for r in rows:
        print(f"{r['preset']:<32} {r['finished']:>3}/{r['points']:<3} finished  {r['axes']}")
    return 0


def run(args) -> int:
    """Sweep a preset; print its table."""
    from grokphase.validation.experiments.uniformity_presets import run as run_preset

    plan = _plan(args.preset, args.set)
    run_preset(args.preset, args.root, plan=plan, executor="dask" if args.dask else None,
               progress=show_progress(args))
    return table(args)


def _row(name: str, run, got: dict) -> dict:
    s = got["summary"]
    cfg = s.get("config", {})
    final = s.get("final", {})
    return {"preset": name, "key": s.get("key"), "model": cfg.get("model") or cfg.get("version"),
            "split": cfg.get("split"), "k": cfg.get("k"), "d": cfg.get("offset"), "seed": cfg.get("seed"),
            "weight_decay": cfg.get("weight_decay"), "loss": cfg.get("loss"), "one_hot": cfg.get("one_hot"),
            "ceiling": s.get("ceiling"), "memorisation_step": s.get("memorisation_step"),
            "grokking_step": s.get("grokking_step"), "steps": s.get("steps"),
            "final_test_acc": final.get("test_acc"),
            **{k: v for k, v in final.items() if k.startswith("acc_")}}


def table(args) -> int:
    """Print the split table and the progress-measure table of the finished runs."""
    from grokphase.validation.progress_compare import compare_run

    plan = _plan(args.preset, args.set)
    done = _finished(args.preset, plan)
    rows = [_row(args.preset, r, got) for r, got in done]
    measures = [{"key": got["summary"].get("key"), **m} for _, got in done for m in compare_run(got["rows"])]
    if args.json:
        emit({"preset": args.preset, "finished": len(done), "points": len(plan.grid), "runs": rows,
              "progress_measures": measures}, args)
        return 0
    print(f"{args.preset}: {len(done)} of {len(plan.grid)} runs finished")
    fmt = lambda v: "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))  # noqa: E731
    if rows:
        cols = list(dict.fromkeys(k for r in rows for k in r if k not in ("preset", "key")))
        print("  ".join(cols))
        for r in rows:
            print("  ".join(fmt(r.get(c)) for c in cols))
    if measures:
        print("\nprogress measure vs log test loss (after memorisation): correlation, lead of half-change (steps)")
        for m in measures:
            print(f"{m['key']:<48} {m['measure']:<18} {fmt(m['correlation']):>7} {fmt(m['lead_half']):>7}")
    return 0
