"""``grokphase train``: run identity on the command line (the cases found by trying it as a user)."""

import json

import pytest

from grokphase.cli import main

SMOKE = ["train", "modular", "--preset", "smoke31", "--steps", "6", "--json"]


def _run(capsys, *args):
    code = main([*SMOKE, *args])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if code == 0 and out.out.strip() else None), out.err


def test_other_lr_trains_in_its_own_folder(tmp_path, monkeypatch, capsys):
    """Before: the folder was named by task, preset and seed, so --lr 0.01 retrained nothing while
    summary.json recorded lr 0.01."""
    monkeypatch.chdir(tmp_path)
    _, a, _ = _run(capsys)
    _, b, _ = _run(capsys, "--lr", "0.01")
    assert a["run_dir"] != b["run_dir"] and a["config_hash"] != b["config_hash"]
    assert a["run_dir"].startswith("runs/modular_smoke31_seed0_") and b["run_dir"].endswith(b["config_hash"])
    for s, lr in ((a, 3e-3), (b, 0.01)):
        cfg = json.loads((tmp_path / s["run_dir"] / "config.json").read_text())["config"]
        assert s["run"]["lr"] == cfg["optimizer"]["lr"] == lr and s["steps"] == 6
    _, again, _ = _run(capsys, "--lr", "0.01")                     # same configuration: resumed, finished
    assert again["run_dir"] == b["run_dir"] and again["final"] == b["final"]


def test_explicit_folder_with_another_configuration_is_refused(tmp_path, capsys):
    d = ["--run-dir", str(tmp_path / "r")]
    assert _run(capsys, *d, "--frac", "0.5")[0] == 0
    code, _, err = _run(capsys, *d, "--frac", "0.3", "--steps", "12")
    assert code == 2 and "run.frac: 0.5 != 0.3" in err and "--fresh" in err
    code, _, err = _run(capsys, *d, "--frac", "0.5", "--lr", "0.01")
    assert code == 2 and "run.lr: 0.003 != 0.01" in err
    code, s, _ = _run(capsys, *d, "--frac", "0.3", "--steps", "12", "--fresh")
    assert code == 0 and s["run"]["frac"] == 0.3 and s["steps"] == 12


@pytest.mark.parametrize("args, message", [
    (["--lr", "nan"], "lr must be finite and > 0; got nan"),
    (["--weight-decay", "inf"], "weight_decay must be finite and >= 0; got inf"),
    (["--steps", "-5"], "steps must be an integer >= 1; got -5"),
    (["--preset", "grok97-ivon", "--lr", "0.01"], "option --lr: lr does not apply: optimizer is 'ivon', "
                                                  "whose learning rate is ivon.lr"),
    (["--set", "ivon.lr=1"], "--set: ivon does not apply: optimizer is 'adamw'"),
    (["--set", "learning_rate=1"], "--set: ModularRun has no field(s) ['learning_rate']; valid fields: ['betas',"),
    (["--set", "steps=0.5"], "--set: steps must be int, got 0.5"),
    (["--set", "lr"], "--set expects key=value"),
    (["--set", "lr=0.1", "--lr", "0.2"], "['lr'] given both as options and with --set"),
    (["--lr", "1e30"], "stopped at step"),
])
def test_bad_input_exits_2_with_a_named_error(tmp_path, capsys, args, message):
    code, _, err = _run(capsys, "--run-dir", str(tmp_path / "r"), *args)
    assert code == 2 and message in err, err


def test_config_file_set_and_write_config_round_trip(tmp_path, capsys):
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    assert _run(capsys, "--set", "lr=1e-3", "--set", "frac=0.5", "--write-config", str(first))[0] == 0
    text = first.read_text()
    assert "lr = 0.001" in text and "frac = 0.5" in text and "steps = 6" in text
    assert main(["train", "modular", "--config", str(first), "--write-config", str(second)]) == 0
    assert second.read_text() == text and capsys.readouterr().out.strip() == f"wrote {second}"
    code, s, _ = _run(capsys, "--config", str(first), "--run-dir", str(tmp_path / "r"))
    assert code == 0 and s["run"]["lr"] == 1e-3 and s["run"]["frac"] == 0.5
    (tmp_path / "bad.toml").write_text("[design]\nfrac = 0.5\nlearning_rate = 1\n")
    code, _, err = _run(capsys, "--config", str(tmp_path / "bad.toml"))
    assert code == 2 and "bad.toml: ModularRun has no field(s) ['learning_rate']" in err
    (tmp_path / "flat.toml").write_text("frac = 0.5\n")
    code, _, err = _run(capsys, "--config", str(tmp_path / "flat.toml"))
    assert code == 2 and "expected one [design] table" in err


def test_damaged_checkpoint_and_unwritable_folder_are_named(tmp_path, capsys):
    d = tmp_path / "r"
    assert _run(capsys, "--run-dir", str(d))[0] == 0
    (d / "checkpoint.npz").write_bytes(b"garbage")
    code, _, err = _run(capsys, "--run-dir", str(d))
    assert code == 2 and f"checkpoint {d / 'checkpoint.npz'} is corrupted" in err and "--fresh" in err
    assert _run(capsys, "--run-dir", str(d), "--fresh")[0] == 0
    (tmp_path / "file").write_text("")
    code, _, err = _run(capsys, "--run-dir", str(tmp_path / "file" / "run"))
    assert code == 1 and f"cannot create the run folder {tmp_path / 'file' / 'run'}" in err


def test_uncertainty_workers_need_dask(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["uncertainty", "diversity", "--workers", "2", "--root", str(tmp_path)])
    assert e.value.code == 2
    assert "--workers: does not apply with --executor serial" in capsys.readouterr().err
