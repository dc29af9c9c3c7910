"""Deep ensembles (init seed apart from the data seed), checkpoint SWAG and the delay filter."""

import dataclasses
import hashlib
import math

import numpy as np
import pytest

from grokphase.sweep.design import OMIT_DEFAULT, resolved_config
from grokphase.validation.bayes import SWAG, uncertainty_decomposition
from grokphase.validation.bayes.grokking_times import event_times, timing_table
from grokphase.numerics.copy_loss import softmax
from grokphase.validation.experiments import checkpoint_swag as cs
from grokphase.validation.experiments import icl_training, modular_grokking
from grokphase.validation.experiments import uncertainty_ensembles as ue
from grokphase.validation.experiments import uncertainty_runs as ur
from grokphase.validation.nn import Transformer
from grokphase.validation.optim import SGD
from grokphase.validation.training import read_metrics


# ------------------------------------------------------------------ seeds and identities

def test_omit_default_fields_keep_recorded_identities():
    """init_seed / dropout at their defaults are left out of the identity (the study presets keep the
    hashes of their recorded runs); set, they are recorded and change the hash."""
    @dataclasses.dataclass(frozen=True)
    class D:
        a: int = 1
        b: int | None = dataclasses.field(default=None, metadata={OMIT_DEFAULT: True})

    assert resolved_config(D()) == {"a": 1} and resolved_config(D(b=0)) == {"a": 1, "b": 0}
    base = modular_grokking.PRESETS["grok97-adamw"]
    assert "init_seed" not in resolved_config(base) and "dropout" not in resolved_config(base)
    assert modular_grokking.config_id(base) == "d0b48911f8"          # the hash recorded before the fields existed
    assert icl_training.config_id(icl_training.PRESETS["study-p7-adamw"]) == "d1ba22f36b"
    same = dataclasses.replace(base, init_seed=base.seed)
    assert modular_grokking.config_id(same) != modular_grokking.config_id(base)
    w0 = modular_grokking._build(base)[0].params
    w1 = modular_grokking._build(same)[0].params
    assert all(np.array_equal(w0[k], w1[k]) for k in w0)           # init_seed = seed: the same weights
    with pytest.raises(ValueError, match="init_seed"):
        dataclasses.replace(base, init_seed=-1)
    with pytest.raises(ValueError, match="dropout"):
        dataclasses.replace(base, dropout=1.0)


def test_members_differ_in_initialisation_only_and_draw_identical_batches():
    """Two members of one data seed: different initial weights, same split, and the loop's batch
    stream (generator seeded by TrainConfig.seed, as in validation.training.train) is identical."""
    for task in ("modular", "icl"):
        (r0, d0), (r1, d1) = (ue.member_run(task, m, 3, "root") for m in (0, 1))
        assert d0 != d1 and d0.name.startswith(f"ens_{ur.TASKS[task][0]}_d3_i0_")
        module = ur.TASKS[task][1]
        b0, b1 = module._build(r0), module._build(r1)
        assert b0[3].seed == b1[3].seed == 3
        assert any(not np.array_equal(b0[0].params[k], b1[0].params[k]) for k in b0[0].params)
        g0, g1 = np.random.default_rng(b0[3].seed), np.random.default_rng(b1[3].seed)
        for step in range(4):
            x0, x1 = b0[2](step, g0), b1[2](step, g1)
            assert all(np.array_equal(a, b) for a, b in zip(x0, x1))
    # a different data seed draws another stream (the check above can fail)
    r2, _ = ue.member_run("icl", 0, 4, "root")
    b2 = icl_training._build(r2)
    assert not np.array_equal(b2[2](0, np.random.default_rng(4))[0], b0[2](0, np.random.default_rng(3))[0])
    # mod 97: the same training pairs
    s0, s1 = (modular_grokking.modular_dataset(r.p, r.op, r.frac, seed=r.seed) for r in
              (ue.member_run("modular", m, 3, "root")[0] for m in (0, 1)))
    assert np.array_equal(s0.split("train")[0], s1.split("train")[0])


# ------------------------------------------------------------------ ensembles

def test_ensemble_eu_is_the_mutual_information_and_zero_for_identical_members(tmp_path):
    ds = ue.train_ensemble("modular", members=(0, 1), root=tmp_path, steps=2)
    assert ds.steps.values.tolist() == [2, 2] and ds.member.values.tolist() == [0, 1]
    same = ue.ensemble_dataset("modular", members=(0,) * 5, root=tmp_path, steps=2, store=False)
    assert same.step.values.tolist() == [0, 1, 2]
    assert float(same.eu.max()) < 1e-12 and float(same.tu.min()) > 1.0
    two = ue.ensemble_dataset("modular", members=(0, 1), root=tmp_path, steps=2)
    assert (two.eu > 1e-4).all()
    # independent computation at step 1: softmax of each member's logits at the scored position
    setup = ur._setup("modular", ue.member_run("modular", 0, 0, tmp_path, steps=2)[0])
    s = setup.sets["test"]
    probs = []
    for m in (0, 1):
        _, d = ue.member_run("modular", m, 0, tmp_path, steps=2)
        z = np.load(d / "snapshots" / "step_00000001.npz")
        model = Transformer(setup.config, params={k[6:]: z[k] for k in z.files if k.startswith("param/")})
        probs.append(softmax(model.logits(s.tokens)[:, -1].astype(np.float64)))
    tu, au, eu = uncertainty_decomposition(np.stack(probs))
    point = two.sel(step=1, set="test", estimator="ensemble")
    np.testing.assert_allclose([float(point.tu), float(point.eu)], [tu.mean(), eu.mean()], rtol=1e-6)
    assert float(two.member_acc.sel(step=1, set="test", member=1)) == float((probs[1].argmax(-1) == s.labels).mean())
    res = ue.evaluate_ensemble("modular", members=(0, 1), root=tmp_path, steps=2)
    assert len(res["trajectory"]) == 3 and res["timing"]["runs"]["ensemble"]["qualified"] is False
    assert res["run_ids"] == [ue.member_run("modular", m, 0, tmp_path, steps=2)[1].name[-10:] for m in (0, 1)]


# ------------------------------------------------------------------ checkpoint SWAG

@dataclasses.dataclass(frozen=True)
class _QuadCfg:
    P: int = 400
    dropout: float = 0.0


class _NoisyQuadratic:
    """Loss (a/2) |w - c|^2 + xi . w with the batch xi ~ N(0, sigma^2 I): SGD at step lr is an AR(1)
    process with stationary mean c and variance lr sigma^2 / (a (2 - lr a))."""

    a, c = 2.0, 0.7

    def __init__(self, cfg):
        self.config = cfg
        self.params = {"w": np.full(cfg.P, self.c)}

    def loss_and_grad(self, tokens, targets, mask=None, *, rng=None):
        w = self.params["w"]
        return float(0.5 * self.a * np.sum((w - self.c) ** 2) + tokens @ w), {"w": self.a * (w - self.c) + tokens}


def test_phase_swag_recovers_the_iterate_moments_and_the_stationary_variance(tmp_path):
    sigma, lr = 0.5, 0.25
    model = _NoisyQuadratic(_QuadCfg())
    phase = cs.SWAGPhase(K=400, c=4, lr=lr, optimizer="sgd", rank=5)
    sw = cs.run_phase(model, SGD(model.params, lr=lr), lambda step, rng: (sigma * rng.standard_normal(400), None, None),
                      phase, tmp_path / "phase", config={"case": "quadratic"})
    it = np.stack([np.load(tmp_path / "phase" / "snapshots" / f"step_{s:08d}.npz")["param/w"]
                   for s in phase.collected()])
    assert it.shape == (100, 400)
    np.testing.assert_allclose(sw.mean, it.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sw.diag_var, it.var(axis=0), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(sw.deviations[:, -1], it[-1] - it.mean(axis=0), rtol=1e-10)
    theory = lr * sigma**2 / (model.a * (2 - lr * model.a))
    assert abs(sw.diag_var.mean() / theory - 1) < 0.05
    assert abs(sw.mean.mean() - model.c) < 4 * math.sqrt(theory / it.size)


def test_swag_samples_have_the_stated_covariance():
    rng = np.random.default_rng(0)
    snaps = [{"x": rng.standard_normal(3) * [1.0, 0.3, 2.0]} for _ in range(6)]
    sw = SWAG.from_snapshots(snaps, rank=4)
    for diag in (False, True):
        draws = np.stack([sw.sample(rng, diag_only=diag)["x"] for _ in range(40000)])
        np.testing.assert_allclose(np.cov(draws.T), sw.covariance(diag), atol=0.05 * np.abs(sw.covariance(diag)).max())
    assert np.allclose(np.diag(sw.covariance(True)), np.stack([s["x"] for s in snaps]).var(axis=0))


def _hashes(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_checkpoint_swag_leaves_the_run_alone_and_keys_its_folder_by_the_config(tmp_path):
    ur.train_study_run("modular", "adamw", 0, tmp_path, steps=4, progress=False)
    _, run_dir = ur.study_run("modular", "adamw", 0, tmp_path, steps=4)
    before = _hashes(run_dir)
    phase = cs.SWAGPhase(K=4, c=2, lr=1e-3, batch=300)
    sw, out = cs.checkpoint_swag("modular", run_dir, 2, phase)
    assert _hashes(run_dir) == before and run_dir not in out.parents
    assert out.name.startswith("s2_K4_c2_lr0.001_")
    it = [np.load(out / "snapshots" / f"step_{s:08d}.npz") for s in (2, 4)]
    flat = [np.concatenate([z["param/" + k].astype(np.float64).ravel() for k, _, _ in sw._keys]) for z in it]
    np.testing.assert_allclose(sw.mean, np.mean(flat, axis=0), rtol=1e-12)
    start = np.load(run_dir / "snapshots" / "step_00000002.npz")
    assert np.array_equal(np.load(out / "snapshots" / "step_00000000.npz")["param/embed"], start["param/embed"])
    stamp = (out / "checkpoint.npz").stat().st_mtime_ns
    again, out2 = cs.checkpoint_swag("modular", run_dir, 2, phase)
    assert out2 == out and (out / "checkpoint.npz").stat().st_mtime_ns == stamp      # read, not retrained
    np.testing.assert_array_equal(again.mean, sw.mean)
    others = {cs.checkpoint_swag("modular", run_dir, 2, dataclasses.replace(phase, **kw))[1]
              for kw in ({"lr": 2e-3}, {"K": 6}, {"c": 1}, {"batch": None})}
    others.add(cs.checkpoint_swag("modular", run_dir, 4, phase)[1])
    assert len(others) == 5 and out not in others
    assert _hashes(run_dir) == before
    assert [r["step"] for r in read_metrics(out)] == [0, 1, 2, 4]      # log_steps(4, c = 2)
    ds = cs.checkpoint_swag_dataset("modular", run_dir, phase, every=2, samples=2)
    assert ds.step.values.tolist() == [0, 2, 4] and ds.estimator.values.tolist() == list(cs.ESTIMATORS)
    assert (ds.eu > 0).all() and _hashes(run_dir) == before
    with pytest.raises(ValueError, match="K // c"):
        cs.SWAGPhase(K=4, c=3)


# ------------------------------------------------------------------ delay filter and timing table

def _logistic(t, t0, lo, hi, width=5.0):
    return lo + (hi - lo) / (1 + np.exp(-(t - t0) / width))


def test_timing_table_qualifies_delayed_runs_only_and_times_the_eu_peak():
    steps = np.arange(0, 2001, 50)
    chance = 0.01
    eu = 0.02 + np.exp(-0.5 * ((steps - 750) / 100.0) ** 2)
    delayed = {"steps": steps, "train_acc": _logistic(steps, 210, chance, 1.0),
               "test_acc": _logistic(steps, 1010, chance, 0.99), "eu": eu}
    prompt = {"steps": steps, "train_acc": _logistic(steps, 210, chance, 1.0),
              "test_acc": _logistic(steps, 260, chance, 0.99), "eu": eu}
    flat = {"steps": steps, "train_acc": _logistic(steps, 210, chance, 1.0), "test_acc": np.full(steps.size, chance),
            "eu": eu}
    tab = timing_table({"delayed": delayed, "prompt": prompt, "no_grok": flat}, chance=chance, interval=50)
    assert tab.qualified.values.tolist() == [True, False, False]
    assert tab.memorisation_time.values.tolist() == [250.0, 250.0, 250.0]
    assert tab.grokking_time.sel(run="delayed") == 1050 and tab.delay.sel(run="delayed") == 800
    assert tab.delay_intervals.sel(run="prompt") == 1 and np.isnan(tab.grokking_time.sel(run="no_grok"))
    d = tab.sel(run="delayed")
    assert d.eu_peak_step == 750 and d.eu_peak_lead == 300
    assert float(d.eu_collapse_factor) == pytest.approx(eu.max() / eu[-1])
    assert np.isnan(tab.eu_peak_lead.sel(run="prompt")) and np.isnan(tab.eu_collapse_factor.sel(run="prompt"))
    # the monitor: EU <= peak / 2 from step 900 on (three evaluations), detected at 900, 150 before grokking
    assert d.detected_step == 900 and d.detection_lag == -150
    assert tab.attrs["n_qualified"] == 1 and tab.attrs["eu_peak_lead_median"] == 300
    assert tab.attrs["eu_peak_leads_fraction"] == 1.0
    # the filter is in logging intervals: at interval 10 the prompt run's delay is 5 intervals
    assert timing_table({"prompt": prompt}, chance=chance, interval=10).qualified.item()
    assert event_times(steps, flat["train_acc"], flat["test_acc"], chance)["delay"] is None
    assert event_times(steps, delayed["train_acc"], delayed["test_acc"], chance, min_gain=1.0)["grokking_time"] is None
    with pytest.raises(ValueError, match="interval"):
        timing_table({"d": delayed}, chance=chance)


# ------------------------------------------------------------------ command line

def test_cli_ensemble_checkpoint_swag_and_timing(tmp_path, capsys):
    import json

    from grokphase.cli import main

    root = str(tmp_path)
    with pytest.raises(SystemExit) as e:                      # members not trained: a usage error naming the fix
        main(["uncertainty", "ensemble", "modular", "--members", "0", "1", "--steps", "2", "--root", root])
    assert e.value.code == 2 and "--train" in capsys.readouterr().err
    argv = ["uncertainty", "ensemble", "modular", "--members", "0", "1", "--steps", "2", "--root", root, "--json"]
    assert main(argv + ["--train", "--out", str(tmp_path / "ens.json")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == json.loads((tmp_path / "ens.json").read_text())
    api = ue.evaluate_ensemble("modular", (0, 1), 0, tmp_path, steps=2)
    assert out["summary"] == json.loads(json.dumps(api["summary"])) and len(out["trajectory"]) == 3
    with pytest.raises(SystemExit) as e:
        main(["uncertainty", "checkpoint-swag", "modular", "--root", root])
    assert e.value.code == 2 and "train it first" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["uncertainty", "checkpoint-swag", "modular", "--run-dir", str(tmp_path / "x"), "--K", "4", "--c", "3"])
    assert e.value.code == 2 and "K // c must be >= 2" in capsys.readouterr().err
    assert main(["uncertainty", "timing", "modular", "--root", root, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"task": "modular", "runs": {}, "statistics": {}}


def test_mc_dropout_on_a_dropout_run(tmp_path, capsys):
    """The dropout preset trains (dropout masks from the loop's generator); MC dropout gives EU > 0
    with passes that differ, equal to a direct mc_dropout_probs call; a run without dropout is refused."""
    import json

    from grokphase.cli import main
    from grokphase.sweep import point_rng
    from grokphase.validation.bayes.sampling import mc_dropout_probs

    assert main(["uncertainty", "mc-dropout", "--steps", "2", "--train", "--samples", "3", "--root", str(tmp_path),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    run, run_dir = ue.dropout_run(0, tmp_path, steps=2)
    assert out["run_dir"] == str(run_dir) and [r["step"] for r in out["trajectory"]] == [0, 1, 2]
    ds = ue.dropout_dataset("modular", run_dir, samples=3)
    assert (ds.eu > 0).all()
    setup = ur._setup("modular", run)
    z = np.load(run_dir / "snapshots" / "step_00000001.npz")
    model = Transformer(setup.config, params={k[6:]: z[k] for k in z.files if k.startswith("param/")})
    s = setup.sets["train"]
    rng = point_rng(0, 1)
    mc_dropout_probs(model, s.tokens, s.pos, rng, 3)                  # the sets are drawn in order: train, test
    _, _, eu = uncertainty_decomposition(mc_dropout_probs(model, setup.sets["test"].tokens, setup.sets["test"].pos,
                                                          rng, 3))
    assert float(ds.eu.sel(step=1, set="test", estimator="mc_dropout")) == pytest.approx(eu.mean(), rel=1e-9)
    ur.train_study_run("modular", "adamw", 0, tmp_path, steps=1, progress=False)
    with pytest.raises(ValueError, match="without dropout"):
        ue.dropout_dataset("modular", ur.study_run("modular", "adamw", 0, tmp_path)[1], samples=2, store=False)
