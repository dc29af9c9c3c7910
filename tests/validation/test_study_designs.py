"""The study's training runs and the diversity grid as designs run through grokphase.sweep.run_sweep."""

import concurrent.futures as cf
import json

import numpy as np
import pytest

from grokphase.validation.experiments import uncertainty_runs as ur
from grokphase.validation.experiments.uncertainty_study import evaluate_final, icl_setup
from grokphase.validation.nn import Transformer


def test_study_training_sweep_trains_each_point_once_and_reads_it_back(tmp_path):
    ds = ur.train_study("modular", seeds=(0,), root=tmp_path, steps=2)
    assert ds.steps.dims == ("optimizer", "seed") and ds.optimizer.values.tolist() == ["adamw", "ivon"]
    assert ds.attrs["task"] == "modular" and ds.attrs["steps"] == 2
    for opt in ("adamw", "ivon"):
        run, run_dir = ur.study_run("modular", opt, 0, tmp_path, steps=2)
        summary = json.loads((run_dir / "summary.json").read_text())
        point = ds.sel(optimizer=opt, seed=0)
        assert str(point.config_hash.values) == summary["config_hash"] and run_dir.name.endswith(summary["config_hash"])
        assert float(point.final_test_acc) == summary["final"]["test_acc"] and int(point.steps) == 2
        assert sorted(p.name for p in (run_dir / "snapshots").iterdir()) == [f"step_{s:08d}.npz" for s in (0, 1, 2)]
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/checkpoint.npz")}
    with cf.ThreadPoolExecutor(2) as ex:                 # another executor: the finished runs are only read
        again = ur.train_study("modular", seeds=(0,), root=tmp_path, steps=2, executor=ex)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/checkpoint.npz")} == mtimes
    assert again.drop_vars("wall_time").identical(ds.drop_vars("wall_time"))


def test_diversity_grid_through_the_sweep_equals_the_direct_evaluation(tmp_path):
    """One fabricated grid run (snapshots at initialisation), one absent: the cell of the first is
    exactly evaluate_final's numbers; the absent one is skipped."""
    run, run_dir = ur.diversity_run(2, 0.5, 0, tmp_path, steps=600)
    params = Transformer(icl_setup(run).config).params
    (run_dir / "snapshots").mkdir(parents=True)
    for step in (0, 250):
        np.savez(run_dir / "snapshots" / f"step_{step:08d}.npz", step=np.asarray(step),
                 **{"param/" + k: v + np.float32(0.01 * step / 250) for k, v in params.items()})
    (run_dir / "summary.json").write_text("{}")
    res = ur.diversity_grid((2,), (0.5, 0.8), 0, tmp_path, steps=600, samples=2)
    setup = icl_setup(run)
    direct = evaluate_final(setup, run_dir, setup.sets, samples=2, seed=0)
    assert len(res["cells"]) == 1
    cell = res["cells"][0]
    assert (cell["T"], cell["alpha"], cell["step"]) == (8, 0.5, direct.pop("step"))
    assert cell["sets"] == direct
    ds = ur.diversity_dataset((2,), (0.5, 0.8), (0,), tmp_path, steps=600, samples=2)
    assert int(ds.step.sel(n_task=2, alpha=0.8, seed=0)) == -1 and np.isnan(ds.eu.sel(alpha=0.8)).all()
    assert ds.eu.dims == ("n_task", "alpha", "seed", "set", "estimator")


def test_diversity_run_positive_control_base(tmp_path):
    """base='positive-control' varies the settings that learn in context (snapshots on for the
    posteriors), keeps one batch per input sequence a multiple of T, and names the base in its errors."""
    from grokphase.validation.experiments import icl_training

    pc = icl_training.PRESETS["positive-control"]
    run, run_dir = ur.diversity_run(2, 0.6, 1, tmp_path, steps=45000, base="positive-control")
    assert (run.lr, run.weight_decay, run.n_ctx, run.d_model, run.warmup) == (pc.lr, pc.weight_decay, pc.n_ctx,
                                                                             pc.d_model, pc.warmup)
    assert run.snapshots and run.seed == 1 and run.n_task == 2 and run.batch % 8 == 0
    assert run.batch == 8 * round(pc.batch / 8)
    study, study_dir = ur.diversity_run(2, 0.6, 1, tmp_path, steps=45000)
    assert study_dir != run_dir and study != run
    with pytest.raises(ValueError, match="base"):
        ur.diversity_run(2, 0.6, 1, tmp_path, base="nope")
    with pytest.raises(ValueError, match="base"):
        ur.DiversityGrid(base="nope")


def test_p11_base_and_the_cli_offer_the_same_bases(tmp_path):
    """positive-control-p11: p = 11, 16 context examples, the positive control's optimiser; the
    command line's --base choices are DIVERSITY_BASES; context sweeps refuse the p = 11 base (their
    T = 40 cell is a p = 7 cell)."""
    from grokphase.cli import build_parser
    from grokphase.validation.experiments import icl_training

    run, _ = ur.diversity_run(24, 0.6, 0, tmp_path, steps=30000, base="positive-control-p11")
    pc = icl_training.PRESETS["positive-control"]
    assert (run.p, run.n_ctx, run.n_task, run.batch) == (11, 16, 24, 192)
    assert (run.lr, run.weight_decay, run.warmup, run.alpha) == (pc.lr, pc.weight_decay, pc.warmup, pc.alpha)
    parser = build_parser()
    args = parser.parse_args(["uncertainty", "diversity", "--base", "positive-control-p11"])
    assert args.base == "positive-control-p11"
    action = next(a for a in args.parser._actions if a.dest == "base")
    assert tuple(action.choices) == ur.DIVERSITY_BASES
    with pytest.raises(ValueError, match="base"):
        ur.ContextSweeps(base="positive-control-p11")
