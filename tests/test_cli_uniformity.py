"""``grokphase uniformity``: a tiny preset run through the CLI (sweep store + run folder), its
table read back from the finished run, overrides that are not fields refused, reruns reused."""

import json

from grokphase.cli import main


def _sets(tmp_path):
    return ["--set", "p=11", "steps=30", "log_every=10", "checkpoint_every=30", "d_model=16", "d_mlp=32",
            "n_heads=2", "weight_decay=[1.0]", f"run_root='{tmp_path / 'runs'}'"]


def test_run_and_table(tmp_path, capsys):
    args = ["uniformity", "run", "uniformity-weight-decay", "--root", str(tmp_path), *_sets(tmp_path), "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["finished"] == out["points"] == 1
    (row,) = out["runs"]
    assert row["split"] == "random" and row["steps"] == 30 and row["weight_decay"] == 1.0
    summary = json.loads(next((tmp_path / "runs").glob("*/summary.json")).read_text())
    assert row["final_test_acc"] == summary["final"]["test_acc"]          # the table reads the run's summary
    assert main(["uniformity", "table", "uniformity-weight-decay", *_sets(tmp_path), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["runs"] == out["runs"]
    assert main(args) == 0                                                   # rerun: reused, same numbers
    assert json.loads(capsys.readouterr().out)["runs"] == out["runs"]


def test_bad_override(capsys):
    assert main(["uniformity", "table", "uniformity-strip", "--set", "widht=3"]) == 2
    assert "widht" in capsys.readouterr().err


def test_repeated_set_options_accumulate(capsys):
    """``--set a --set b`` applies both (argparse's nargs='+' alone would keep only the last one)."""
    assert main(["uniformity", "table", "uniformity-strip", "--set", "k=[40]", "--set", "seed=[1]", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["points"] == 1                # not 4 k x 1 seed, nor 1 k x 3 seeds
    assert main(["uniformity", "table", "uniformity-strip", "--set", "k=[40]", "--set", "k=[50]"]) == 2
    assert "twice" in capsys.readouterr().err
