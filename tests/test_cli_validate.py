"""``grokphase attention validate``: presets run as resumable sweeps; a stored sweep is reused only
for the same configuration; options that do not apply are errors; --config/--write-config."""

import json

import pytest

from grokphase.cli import main

TINY = ["attention", "validate", "hysteresis", "--N", "8", "--set", "alphas=[11.0, 13.0]"]


def test_validate_json_and_stores_keyed_by_configuration(tmp_path, capsys):
    assert main(TINY + ["--n-iter", "30", "--runs", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plan"]["design"]["n_iter"] == 30 and out["plan"]["grid"] == {"N": [8], "seed": [0]}
    assert out["summary"]["data_vars"]["n_switching"]["data"] == [[4 - out["summary"]["data_vars"]["n_settled"]["data"][0][0]]]
    # another n_iter never reads the first sweep's points: it gets its own store folder
    assert main(TINY + ["--n-iter", "40", "--runs", str(tmp_path), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["store"] != out["store"] and len(list(tmp_path.iterdir())) == 2
    # an explicit --store made by another design is refused, naming the field
    assert main(TINY + ["--n-iter", "40", "--store", out["store"], "--json"]) == 2
    assert "n_iter: 30 != 40" in capsys.readouterr().err


def test_validate_rejects_options_that_do_not_apply(capsys):
    assert main(["attention", "validate", "dynamics-softmax", "--n-iter", "30"]) == 2
    assert "'n_iter' is neither a field of Dynamics nor a grid axis" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(TINY + ["--workers", "2"])
    assert e.value.code == 2
    assert "--workers: does not apply with --executor serial" in capsys.readouterr().err


def test_validate_config_round_trip(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    assert main(TINY + ["--n-iter", "30", "--write-config", str(cfg)]) == 0
    capsys.readouterr()
    assert main(["attention", "validate", "hysteresis", "--config", str(cfg), "--runs", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plan"]["design"]["alphas"] == [11.0, 13.0] and out["plan"]["design"]["n_iter"] == 30


def test_validate_choices_are_the_presets():
    """The command line's preset names (kept literal so that --help does not import the experiments)
    are exactly the presets' names."""
    from grokphase.cli.attention import VALIDATE_PRESETS
    from grokphase.validation.experiments import presets

    assert sorted(VALIDATE_PRESETS) == sorted(presets.PRESETS)
