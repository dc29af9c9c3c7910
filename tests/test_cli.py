"""CLI: JSON output equals the API; figures written; bad input exits with a named error."""

import json

import pytest

from grokphase import LinearVIModel
from grokphase.cli import main


def test_linear_vi_json_matches_api(capsys):
    assert main(["linear-vi", "--lam", "0.6", "0.9", "--n-over-sigma2", "1e6", "--inv-tau2", "2",
                 "--eps", "1e-4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for row, lam in zip(out["models"], (0.6, 0.9)):
        m = LinearVIModel(lam, 1e6, inv_tau2=2.0, eps=1e-4)
        assert row["delay"] == pytest.approx(m.delay(), rel=1e-14)
        assert row["delay_asymptotic"] == pytest.approx(m.delay_asymptotic(), rel=1e-14)
        assert row["t95_gen"] == pytest.approx(m.grokking_times()[1], rel=1e-14)


def test_linear_vi_plot_writes_png_pdf_json(tmp_path, capsys):
    target = tmp_path / "sub" / "fig.png"
    assert main(["linear-vi", "--lam", "0.3", "--plot", str(target)]) == 0
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / "sub" / f"fig.{ext}").stat().st_size > 1000
    data = json.loads((tmp_path / "sub" / "fig.json").read_text())
    row = data["sweep"][0]
    m = LinearVIModel(row["lam"], 5e7)
    assert row["delay_asymptotic"] == pytest.approx(m.delay_asymptotic(), rel=1e-14)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("args, word", [(["--lam", "1.5"], "lam"), (["--n-over-sigma2", "-1"], "n_over_sigma2"),
                                        (["--eps", "0"], "eps")])
def test_bad_input_exits_2_with_named_parameter(args, word, capsys):
    assert main(["linear-vi", *args]) == 2
    assert word in capsys.readouterr().err


def test_help_on_every_subcommand(capsys):
    for sub in ("linear-vi", "figs"):
        with pytest.raises(SystemExit) as exc:
            main([sub, "--help"])
        assert exc.value.code == 0
        assert "--json" in capsys.readouterr().out


def test_attention_transition_json_matches_api(capsys):
    from grokphase import attention

    assert main(["attention", "transition", "--L", "8", "16", "--end-point", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for row, L in zip(out["transitions"], (8, 16)):
        t = attention.transition(L=L, s_qk=0.25, s_uv=9.0)
        assert row["order"] == t.order == "first"
        assert row["beta_c"] == pytest.approx(t.beta_c, rel=1e-14)
        assert row["beta_spinodal"] == pytest.approx(list(t.beta_spinodal), rel=1e-14)
    assert 5.0 < out["critical_end_point"]["x_c"] < 6.0


def test_attention_phase_diagram_plot_and_save(tmp_path, capsys):
    target = tmp_path / "pd.png"
    assert main(["attention", "phase-diagram", "--n-x", "6", "--n-beta", "30", "--x-max", "12",
                 "--plot", str(target), "--save", str(tmp_path / "pd.npz"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["converged"] and out["order"][0] == "crossover" and out["order"][-1] == "first"
    assert 5.0 < out["critical_end_point"]["x_c"] < 6.0
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"pd.{ext}").stat().st_size > 1000
    from grokphase.attention import PhaseDiagram

    assert PhaseDiagram.load(tmp_path / "pd.npz").c.shape == (6, 30)


def test_attention_bad_parameter_exits_2(capsys):
    assert main(["attention", "transition", "--L", "1.5"]) == 2
    assert "L must be >= 2" in capsys.readouterr().err


def test_train_modular_cli_runs_and_resumes(tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["train", "modular", "--preset", "smoke31", "--steps", "30", "--run-dir", str(run_dir), "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["steps"] == 30 and (run_dir / "checkpoint.npz").exists()
    assert main(args[:5] + ["60"] + args[6:]) == 0   # resume to 60 steps
    second = json.loads(capsys.readouterr().out)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(ln)["step"] for ln in lines]
    assert second["steps"] == 60 and steps == sorted(set(steps)) and steps[-1] == 60


def test_uncertainty_evaluate_without_runs_and_bad_task(tmp_path, capsys):
    from grokphase.cli import main

    assert main(["uncertainty", "evaluate", "modular", "--root", str(tmp_path), "--out", str(tmp_path / "r.json")]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert json.loads((tmp_path / "r.json").read_text()) == {"task": "modular", "runs": []}
    with pytest.raises(SystemExit) as e:
        main(["uncertainty", "evaluate", "cifar"])
    assert e.value.code == 2


def test_parser_imports_only_the_standard_library():
    """Building the parser (what ``grokphase --help`` does) imports none of the heavy dependencies."""
    import subprocess
    import sys

    code = ("import sys, grokphase.cli; grokphase.cli.build_parser(); "
            "print(sorted(m for m in ('numpy', 'numba', 'scipy', 'sympy', 'matplotlib', 'xarray') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


def test_train_unknown_preset_exits_2_with_the_valid_names(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "modular", "--preset", "bogus", "--steps", "1"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "bogus" in err and "nanda97" in err and "smoke31" in err
