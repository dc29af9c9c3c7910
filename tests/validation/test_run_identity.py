"""Training runs are identified by their full configuration: resume only the same run, extend only
when the length does not enter the configuration, refuse damaged files by name, stop at the first
non-finite loss, and reject NaN hyper-parameters up front."""

import dataclasses
import json
import logging
import math
import zipfile

import numpy as np
import pytest


def updated(cfg, changes):
    return design_from_config(type(cfg), changes, base=cfg)

from grokphase.sweep.design import design_from_config, read_toml, resolved_config, write_toml
from grokphase.validation.bayes import SWAG
from grokphase.validation.bayes.ivon import IVON, IVONSettings
from grokphase.validation.experiments import icl_training, modular_grokking
from grokphase.validation.experiments.modular_grokking import ModularRun, run_modular
from grokphase.validation.nn import Transformer, TransformerConfig
from grokphase.validation.optim import AdamW, WarmupCosine
from grokphase.validation.tasks import copy_batch
from grokphase.validation.training import NonFiniteError, TrainConfig, config_hash, log_steps, read_metrics, train

TINY = ModularRun(p=11, frac=0.5, d_model=16, n_heads=2, d_mlp=32, steps=20, log_every=5, checkpoint_every=7,
                  warmup=2, lr=3e-3)
TINY_ICL = dataclasses.replace(icl_training.PRESETS["smoke"], steps=30, warmup=5, log_every=10, batch=16,
                               d_model=16, n_heads=2)   # batch 16: 1 sequence x the 16 tasks


def _ckpt(run_dir):
    with np.load(run_dir / "checkpoint.npz") as z:
        return {k: z[k] for k in z.files if k.startswith("param/") or k.startswith("opt/")}


def _rows(run_dir):
    return [{k: v for k, v in r.items() if k != "time"} for r in read_metrics(run_dir)]


def test_config_json_records_the_resolved_configuration(tmp_path):
    s = run_modular(TINY, tmp_path, progress=False)
    rec = json.loads((tmp_path / "config.json").read_text())
    cfg = rec["config"]
    assert rec["steps"] == 20 and rec["config_hash"] == s["config_hash"] == modular_grokking.config_id(TINY)
    assert rec["config_hash"] == config_hash(cfg)
    assert cfg["run"]["frac"] == 0.5 and cfg["run"]["seed"] == 0 and "steps" not in cfg["run"]
    assert cfg["optimizer"] == {"name": "AdamW", "lr": 3e-3, "betas": [0.9, 0.98], "eps": 1e-8, "weight_decay": 1.0}
    assert cfg["model"]["d_model"] == 16 and cfg["model"]["vocab_size"] == 12
    assert cfg["schedule"] == {"name": "WarmupCosine", "warmup": 2, "total": None, "start": 0.0, "final": 1.0}
    assert cfg["train"] == {"log_every": 5, "clip": None, "seed": 0, "snapshots": False}
    assert "ivon" not in cfg["run"] and "k" not in cfg["run"]            # do not apply to this run
    assert s["run"] == resolved_config(TINY) and s["run"]["steps"] == 20
    # the checkpoint stores the same configuration
    with np.load(tmp_path / "checkpoint.npz") as z:
        assert json.loads(str(z["config"])) == cfg and str(z["config_hash"]) == rec["config_hash"]


def test_other_learning_rate_is_refused_naming_the_field(tmp_path):
    run_modular(TINY, tmp_path, progress=False)
    before = (tmp_path / "summary.json").read_text()
    with pytest.raises(ValueError, match=r"\(stored != requested\): run\.lr: 0\.003 != 0\.01; optimizer\.lr.*--fresh"):
        run_modular(dataclasses.replace(TINY, lr=0.01), tmp_path, progress=False)
    assert (tmp_path / "summary.json").read_text() == before                 # nothing recorded
    assert modular_grokking.config_id(dataclasses.replace(TINY, lr=0.01)) != modular_grokking.config_id(TINY)
    s = run_modular(dataclasses.replace(TINY, lr=0.01), tmp_path, resume=False, progress=False)
    assert s["run"]["lr"] == 0.01 and json.loads((tmp_path / "config.json").read_text())["config"]["optimizer"]["lr"] == 0.01


def test_other_split_with_more_steps_is_refused(tmp_path):
    run_modular(dataclasses.replace(TINY, frac=0.5), tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"run\.frac: 0\.5 != 0\.3"):
        run_modular(dataclasses.replace(TINY, frac=0.3, steps=40), tmp_path, progress=False)


def test_refused_before_the_first_checkpoint_too(tmp_path):
    """A folder with config.json but no checkpoint yet still belongs to its configuration."""
    run_modular(TINY, tmp_path, progress=False)
    (tmp_path / "checkpoint.npz").unlink()
    with pytest.raises(ValueError, match=r"config\.json belongs to a run with a different configuration \(stored != requested\): run\.seed"):
        run_modular(dataclasses.replace(TINY, seed=1), tmp_path, progress=False)


def test_more_steps_extend_the_run_exactly(tmp_path):
    """Constant schedule after warm-up: 20 steps, then resumed to 40, equals a fresh 40-step run."""
    run_modular(TINY, tmp_path / "ext", progress=False)
    s = run_modular(dataclasses.replace(TINY, steps=40), tmp_path / "ext", progress=False)
    run_modular(dataclasses.replace(TINY, steps=40), tmp_path / "fresh", progress=False)
    a, b = _ckpt(tmp_path / "ext"), _ckpt(tmp_path / "fresh")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert _rows(tmp_path / "ext") == _rows(tmp_path / "fresh")
    assert s["steps"] == 40 and json.loads((tmp_path / "ext" / "config.json").read_text())["steps"] == 40
    with pytest.raises(ValueError, match=r"at step 40, past the requested steps = 30"):
        run_modular(dataclasses.replace(TINY, steps=30), tmp_path / "ext", progress=False)


def test_decaying_schedule_makes_other_steps_a_new_run(tmp_path):
    """The in-context cosine spans the run's steps: another length is another configuration."""
    assert icl_training.config_id(TINY_ICL) != icl_training.config_id(dataclasses.replace(TINY_ICL, steps=40))
    assert modular_grokking.config_id(TINY) == modular_grokking.config_id(dataclasses.replace(TINY, steps=40))
    icl_training.run_icl(TINY_ICL, tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"schedule\.total: 30 != 40.*a different run, not an extension"):
        icl_training.run_icl(dataclasses.replace(TINY_ICL, steps=40), tmp_path, progress=False)


def test_checkpoint_without_configuration_is_refused(tmp_path):
    run_modular(TINY, tmp_path, progress=False)
    (tmp_path / "config.json").unlink()
    z = dict(np.load(tmp_path / "checkpoint.npz"))
    del z["config"]
    np.savez(tmp_path / "checkpoint.npz", **z)
    with pytest.raises(ValueError, match=r"checkpoint\.npz: it stores no run configuration.*--fresh"):
        run_modular(TINY, tmp_path, progress=False)


@pytest.mark.parametrize("damage", ["truncated", "crc", "garbage", "pickled"])
def test_damaged_checkpoint_is_refused_naming_the_file(tmp_path, damage):
    run_modular(TINY, tmp_path, progress=False)
    path = tmp_path / "checkpoint.npz"
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "crc":                     # flip a byte inside the first stored member's data
        with zipfile.ZipFile(path) as zf:
            info = zf.infolist()[0]
        off = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
        path.write_bytes(data[:off] + bytes([data[off] ^ 0xFF]) + data[off + 1:])
    elif damage == "garbage":
        path.write_bytes(b"\x00not a checkpoint" * 10)
    else:
        np.save(path.with_suffix(".npy"), np.array([{"a": 1}], dtype=object), allow_pickle=True)
        path.write_bytes(path.with_suffix(".npy").read_bytes())
    with pytest.raises(ValueError, match=rf"checkpoint {path} is corrupted or not an .npz archive.*--fresh"):
        run_modular(TINY, tmp_path, progress=False)
    run_modular(TINY, tmp_path, resume=False, progress=False)              # the remedy works


def _copy_run(tmp, steps, resume=True, lr=3e-3, progress=False):
    cfg = TransformerConfig(vocab_size=11, d_model=16, n_layers=1, n_heads=2, d_mlp=32, max_len=6, seed=4)
    model = Transformer(cfg)
    opt = AdamW(model.params, lr=lr, weight_decay=0.1)
    res = train(model, opt, lambda step, rng: copy_batch(rng, 8, 6, 11),
                TrainConfig(steps=steps, log_every=5, checkpoint_every=7, seed=1), run_dir=tmp,
                schedule=WarmupCosine(warmup=3), resume=resume, progress=progress)
    return model, res


def test_partial_last_metrics_line_is_dropped_with_a_warning(tmp_path, caplog):
    full, _ = _copy_run(tmp_path / "full", 20)
    _copy_run(tmp_path / "part", 14)
    with open(tmp_path / "part" / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 15, "time": 0.1, "lr"')                     # a writer killed mid-line
    with caplog.at_level(logging.WARNING):
        resumed, res = _copy_run(tmp_path / "part", 20)
    assert "ignoring the partial last line" in caplog.text and "metrics.jsonl" in caplog.text
    assert all(np.array_equal(full.params[k], resumed.params[k]) for k in full.params)
    assert _rows(tmp_path / "part") == _rows(tmp_path / "full")


def test_corrupt_middle_metrics_line_is_an_error_naming_file_and_line(tmp_path):
    _copy_run(tmp_path, 14)
    path = tmp_path / "metrics.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:10]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"{path}, line 2: not valid JSON.*--fresh"):
        _copy_run(tmp_path, 20)


def test_metrics_are_strict_json(tmp_path):
    _copy_run(tmp_path, 10)
    first = (tmp_path / "metrics.jsonl").read_text().splitlines()[0]
    assert "NaN" not in first and json.loads(first)["batch_loss"] is None


def test_fresh_start_removes_stale_snapshots(tmp_path):
    run_modular(dataclasses.replace(TINY, snapshots=True), tmp_path, progress=False)
    stale = tmp_path / "snapshots" / "step_00000020.npz"
    assert stale.exists()
    run_modular(dataclasses.replace(TINY, snapshots=True, steps=10, log_every=10), tmp_path, resume=False,
                progress=False)
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == [
        f"step_{s:08d}.npz" for s in sorted(log_steps(10, 10))]
    assert max(log_steps(10, 10)) == 10


def test_diverging_run_stops_at_the_first_non_finite_loss(tmp_path):
    """lr = 1e30: the first update with a non-zero rate (step 2; the warm-up starts at 0) throws the
    float32 weights to ~1e30, so the loss of step 3 is not finite; the run stops there, before its
    first checkpoint (step 7), which is therefore never written with non-finite weights."""
    with pytest.raises(NonFiniteError, match=r"stopped at step 3 of 20: the loss is (nan|inf).*no checkpoint") as e:
        _copy_run(tmp_path, 20, lr=1e30)
    assert e.value.step == 3 and not (tmp_path / "checkpoint.npz").exists()
    assert [r["step"] for r in read_metrics(tmp_path)] == [0, 1, 2]


@pytest.mark.parametrize("make", [
    lambda: ModularRun(lr=math.nan), lambda: ModularRun(weight_decay=math.inf), lambda: ModularRun(steps=-5),
    lambda: ModularRun(frac=math.nan), lambda: ModularRun(steps=10.5),
    lambda: icl_training.ICLRun(lr=math.nan), lambda: icl_training.ICLRun(clip=math.nan),
    lambda: TrainConfig(steps=-5), lambda: TrainConfig(steps=10, clip=math.nan),
    lambda: TransformerConfig(vocab_size=5, init_std=math.nan), lambda: IVONSettings(lr=math.nan),
    lambda: IVONSettings(hess_init=math.inf), lambda: AdamW({}, lr=math.nan),
    lambda: AdamW({}, weight_decay=math.nan), lambda: WarmupCosine(warmup=5, final=0.1),
])
def test_non_finite_or_invalid_hyperparameters_are_rejected_up_front(make):
    with pytest.raises(ValueError, match=r"(lr|weight_decay|steps|frac|clip|init_std|hess_init|total) must"):
        make()


def test_ivon_and_swag_refuse_non_finite_inputs():
    params = {"w": np.zeros(3)}
    with pytest.raises(ValueError, match="ess must be a finite number"):
        IVON(params, lr=0.1, ess=math.nan)
    opt = IVON(params, lr=0.1, ess=10.0)
    opt.perturb(params, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"grads\['w'\] has non-finite entries"):
        opt.step(params, {"w": np.array([0.0, np.nan, 0.0])})
    sw = SWAG(rank=2)
    sw.collect(params)
    with pytest.raises(ValueError, match=r"params\['w'\] has non-finite entries"):
        sw.collect({"w": np.array([np.inf, 0.0, 0.0])})
    with pytest.raises(ValueError, match="keys and shapes"):
        sw.collect({"w": np.zeros(4)})


def test_unwritable_run_folder_names_the_users_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError, match=rf"cannot create the run folder {blocker}/run"):
        run_modular(TINY, blocker / "run", progress=False)


def test_toml_round_trip_and_overrides(tmp_path):
    for module, name, other in ((modular_grokking, "grok97-ivon", "smoke31"), (icl_training, "study-p7-ivon", "smoke")):
        run = module.PRESETS[name]
        write_toml(tmp_path / "run.toml", {"design": resolved_config(run)})
        stored = read_toml(tmp_path / "run.toml")["design"]
        back = updated(module.PRESETS[other], stored)
        assert resolved_config(back) == resolved_config(run) and module.config_id(back) == module.config_id(run)
        assert updated(run, stored) == run
    assert icl_training.PRESETS["study-p7-ivon"].clip is None                # None survived (as "none")
    run = updated(modular_grokking.PRESETS["smoke31"], {"lr": 1e-3, "frac": 0.5, "betas": [0.9, 0.99]})
    assert (run.lr, run.frac, run.betas) == (1e-3, 0.5, (0.9, 0.99))
    run = updated(icl_training.PRESETS["smoke"], {"clip": "none", "ivon.lr": 2, "optimizer": "ivon"})
    assert run.clip is None and run.ivon.lr == 2.0 and type(run.ivon.lr) is float


@pytest.mark.parametrize("changes, message", [
    ({"lr": 0.01}, r"lr does not apply: optimizer is 'ivon', whose learning rate is ivon\.lr"),
    ({"betas": [0.9, 0.9]}, r"betas does not apply"),
    ({"lr_": 0.01}, r"ModularRun has no field\(s\) \['lr_'\]; valid fields: \['betas', 'checkpoint_every', "),
    ({"ivon.eta": 0.01}, r"IVONSettings has no field\(s\) \['ivon\.eta'\]; valid fields: \['ivon\.beta1'"),
    ({"ivon": {"eta": 0.01}}, r"IVONSettings has no field\(s\) \['ivon\.eta'\]"),
    ({"steps": 0.5}, r"steps must be int, got 0\.5"),
    ({"frac": "half"}, r"frac must be float, got 'half'"),
    ({"ivon": 1.0}, r"ivon is a table of settings; set its keys \['ivon\.lr'"),
    ({"ivon.lr": math.nan}, r"lr must be a finite number > 0; got nan"),
])
def test_inapplicable_unknown_and_mistyped_keys_are_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        updated(modular_grokking.PRESETS["grok97-ivon"], changes)


def test_ivon_settings_do_not_apply_to_adamw():
    with pytest.raises(ValueError, match=r"ivon does not apply: optimizer is 'adamw'"):
        updated(modular_grokking.PRESETS["smoke31"], {"ivon.lr": 2.0})
    with pytest.raises(ValueError, match=r"k does not apply: split is 'random'"):
        updated(modular_grokking.PRESETS["smoke31"], {"k": 3})
    ivon = updated(modular_grokking.PRESETS["smoke31"], {"optimizer": "ivon", "ivon.lr": 2.0, "weight_decay": 1e-3})
    assert ivon.ivon.lr == 2.0 and "lr" not in resolved_config(ivon)
