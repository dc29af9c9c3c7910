"""CLI: JSON output equals the API and is strict; figures written or refused with a reason; bad input
and options that do not apply exit 2 with a named error; building the parser imports no NumPy."""

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
                 "--plot", str(target), "--save", str(tmp_path / "pd.nc"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["converged"] and out["order"][0] == "crossover" and out["order"][-1] == "first"
    assert 5.0 < out["critical_end_point"]["x_c"] < 6.0
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"pd.{ext}").stat().st_size > 1000
    from grokphase.results import flag_labels, load_dataset

    back = load_dataset(tmp_path / "pd.nc")
    assert back.c.shape == (6, 30) and back.attrs["s_uv"] == 9.0 and type(back.attrs["s_uv"]) is float
    assert flag_labels(back.order).values.tolist() == out["order"] and back.L.values.tolist() == out["x"]


def test_attention_onehot_options_match_api(tmp_path, capsys):
    """--tokens onehot --V: the one-hot transition (spec §9 anchor beta_c = 17.3121 at L 8, V 4), its
    end point L_c(V) and a (beta, V) phase diagram; Gaussian tokens refuse --V and --vary V."""
    from grokphase import attention

    assert main(["attention", "transition", "--tokens", "onehot", "--V", "4", "--L", "8", "--end-point",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    t = attention.transition(L=8, s_qk=0.25, s_uv=9.0, tokens="onehot", V=4)
    assert out["transitions"][0]["beta_c"] == pytest.approx(t.beta_c, rel=1e-14) and round(t.beta_c, 4) == 17.3121
    assert out["critical_end_point"]["x_c"] == pytest.approx(
        attention.critical_end_point(s_qk=0.25, s_uv=9.0, tokens="onehot", V=4).x_c, rel=1e-12)
    assert main(["attention", "transition", "--tokens", "onehot", "--V", "4", "--kind", "linear", "--L", "8"]) == 0
    assert "mean" in capsys.readouterr().out                       # the onset channel of linear attention
    assert main(["attention", "phase-diagram", "--tokens", "onehot", "--vary", "V", "--x-min", "2", "--x-max", "8",
                 "--n-x", "3", "--n-beta", "20", "--plot", str(tmp_path / "v.png"), "--json"]) == 0
    pd = json.loads(capsys.readouterr().out)
    assert pd["axis"] == "V" and pd["x"] == [2.0, 5.0, 8.0] and pd["params"]["tokens"] == "onehot"
    assert (tmp_path / "v.png").stat().st_size > 1000
    for argv, name in ((["attention", "transition", "--V", "4"], "--V"),
                       (["attention", "phase-diagram", "--vary", "V"], "--vary V")):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2 and name in capsys.readouterr().err


@pytest.mark.parametrize("tokens, kind", [("gaussian", "softmax"), ("gaussian", "linear"),
                                          ("onehot", "softmax"), ("onehot", "linear")])
def test_attention_transition_text_table_has_every_scalar_field(tokens, kind, capsys):
    """The text table is generic over the variant: each scalar field of the API result is one line,
    its value in the column of its L (no per-token-model table in the CLI)."""
    from grokphase import attention
    from grokphase.cli._output import _scalars, record

    extra = ["--tokens", tokens] + (["--V", "4"] if tokens == "onehot" else [])
    assert main(["attention", "transition", "--kind", kind, "--L", "8", "16", *extra]) == 0
    lines = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[1:]}
    rows = [record(attention.transition(L=L, kind=kind, s_qk=0.25, s_uv=9.0, tokens=tokens,
                                        V=4 if tokens == "onehot" else None)) for L in (8, 16)]
    shown = 0
    for name in rows[0]:
        values = [r[name] for r in rows]
        if any(isinstance(x, dict) for x in values) or all(x is None for x in values):
            continue
        if any(isinstance(x, tuple) for x in values):
            continue                                     # split into name[i]; checked through beta_c etc.
        assert lines[name] == [_scalars(x) if x is not None else "-" for x in values], name
        shown += 1
    assert shown >= 8 and "beta_c" in lines
    if (tokens, kind) != ("gaussian", "linear"):                 # the jump (a property of one-hot softmax)
        assert ("jump[0]" in lines) == (kind == "softmax") and ("order" in lines)


@pytest.mark.parametrize("argv, message", [
    (["--tokens", "onehot", "--V", "1"], "V must be a finite number in [2, 1e+08]"),
    (["--score-prior", "foo"], "--score-prior must be one of 'product', 'gaussian'"),
    (["--tokens", "foo"], "--tokens must be one of 'gaussian', 'onehot'"),
])
def test_attention_invalid_token_options_name_the_option_and_range(argv, message, capsys):
    """An invalid value is an error naming it and the valid values (status 2), not a 'does not apply'."""
    assert main(["attention", "transition", "--L", "8", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "does not apply" not in err


def test_attention_bad_parameter_exits_2(capsys):
    assert main(["attention", "transition", "--L", "1.5"]) == 2
    assert "L must be a finite number in [2, 1e+10]" in capsys.readouterr().err


def test_train_modular_cli_runs_and_resumes(tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["train", "modular", "--preset", "smoke31", "--steps", "30", "--run-dir", str(run_dir), "--json"]
    assert main(args) == 0
    first = _strict_loads(capsys.readouterr().out)
    assert first["steps"] == 30 and (run_dir / "checkpoint.npz").exists()
    assert main(args[:5] + ["60"] + args[6:]) == 0   # resume to 60 steps
    second = _strict_loads(capsys.readouterr().out)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(ln)["step"] for ln in lines]
    assert second["steps"] == 60 and steps == sorted(set(steps)) and steps[-1] == 60


def test_uncertainty_evaluate_without_runs_and_bad_task(tmp_path, capsys):
    from grokphase.cli import main

    assert main(["uncertainty", "evaluate", "modular", "--root", str(tmp_path), "--out", str(tmp_path / "r.json"),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert json.loads((tmp_path / "r.json").read_text()) == {"task": "modular", "runs": []}
    with pytest.raises(SystemExit) as e:
        main(["uncertainty", "evaluate", "cifar"])
    assert e.value.code == 2


def test_uncertainty_evaluate_and_sweeps_run_through_the_sweep_store(tmp_path, capsys):
    """``uncertainty evaluate`` on a fabricated run: the table's summary is the API's, the points go
    to a store under ROOT/sweeps and options that need Dask are refused without it."""
    import numpy as np

    from grokphase.validation.experiments.uncertainty_runs import evaluate_study, study_run
    from grokphase.validation.experiments.uncertainty_study import modular_setup
    from grokphase.validation.nn import Transformer

    run, run_dir = study_run("modular", "adamw", 0, tmp_path)
    (run_dir / "snapshots").mkdir(parents=True)
    params = Transformer(modular_setup(run).config).params
    for step in (0, 50):
        np.savez(run_dir / "snapshots" / f"step_{step:08d}.npz", step=np.asarray(step),
                 **{"param/" + k: v + np.float32(step / 5000) for k, v in params.items()})
    argv = ["uncertainty", "evaluate", "modular", "--seeds", "0", "--root", str(tmp_path), "--samples", "2", "--json"]
    assert main(argv) == 0
    table = json.loads(capsys.readouterr().out)
    api = evaluate_study("modular", (0,), tmp_path, samples=2)["runs"][0]["summary"]
    assert len(table) == 1 and table[0]["estimators"] == json.loads(json.dumps(api["estimators"]))
    assert [p.name.split("-")[0] for p in (tmp_path / "sweeps").iterdir()] == ["evaluate_modular"]
    with pytest.raises(SystemExit) as e:
        main(argv + ["--workers", "2"])
    assert e.value.code == 2 and "--workers" in capsys.readouterr().err


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


def _strict_loads(text):
    """json.loads that refuses NaN / Infinity (which Python's json accepts by default)."""
    def bad(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=bad)


def test_strict_parser_refuses_bare_nan():
    with pytest.raises(ValueError, match="NaN"):
        _strict_loads('{"a": NaN}')


@pytest.mark.parametrize("argv", [
    ["linear-vi", "--lam", "0.5"],
    ["attention", "transition", "--L", "8", "--kind", "linear"],
    ["attention", "transition", "--L", "3", "8"],
    ["attention", "phase-diagram", "--n-x", "3", "--n-beta", "12", "--x-max", "12"],
    ["attention", "phase-diagram", "--kind", "linear", "--n-x", "3", "--n-beta", "12"],
    ["figs", "--list"],
], ids=lambda a: " ".join(a[:3]))
def test_json_output_is_strict_and_alone_on_stdout(argv, capsys):
    assert main([*argv, "--json"]) == 0
    out = _strict_loads(capsys.readouterr().out)   # the whole of stdout is one strict JSON document
    assert out


def test_phase_diagram_json_has_null_where_there_is_no_spinodal(capsys):
    """Crossover columns have no spinodals: NaN in the API, null (not a bare NaN) in the JSON."""
    assert main(["attention", "phase-diagram", "--n-x", "3", "--n-beta", "12", "--x-max", "12", "--json"]) == 0
    out = _strict_loads(capsys.readouterr().out)
    assert out["order"][0] == "crossover" and out["beta_sp_lo"][0] is None
    assert isinstance(out["beta_sp_lo"][-1], float)


def test_text_output_without_json_is_not_json(capsys):
    assert main(["attention", "transition", "--L", "8"]) == 0
    out = capsys.readouterr().out
    assert "beta_c" in out and "first" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


@pytest.mark.parametrize("argv, option", [
    (["attention", "transition", "--kind", "linear", "--end-point"], "--end-point"),
    (["attention", "phase-diagram", "--L", "12"], "--L"),
    (["attention", "validate", "map", "--n-iter", "10"], "'n_iter' is neither a field"),
    (["attention", "validate", "dynamics-softmax", "--set", "out_dir=x"], "'out_dir' is neither a field"),
    (["attention", "validate", "hysteresis", "--workers", "2"], "--workers"),
    (["linear-vi", "--C0", "2", "--plot", "x.png"], "--C0"),
    (["train", "modular", "--preset", "grok97-ivon", "--lr", "0.01"], "--lr"),
], ids=lambda a: " ".join(a) if isinstance(a, list) else a)
def test_options_that_do_not_apply_are_usage_errors(argv, option, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                      # nothing may be written, but if it were: not here
    try:
        rc = main(argv)                              # a ValueError from the design: status 2, reported
    except SystemExit as e:                          # an argparse usage error
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err
    assert option in err and ("does not apply" in err or "neither a field" in err)
    assert not any(tmp_path.iterdir())


def test_phase_diagram_L_applies_with_vary_s_qk(capsys):
    assert main(["attention", "phase-diagram", "--vary", "s_qk", "--L", "6", "--x-min", "0.2", "--x-max", "0.3",
                 "--n-x", "2", "--n-beta", "10", "--json"]) == 0
    out = _strict_loads(capsys.readouterr().out)
    assert out["axis"] == "s_qk" and out["params"]["L"] == 6.0


def test_figs_reports_drawn_and_not_drawn_and_exits_1(tmp_path, monkeypatch, capsys):
    """Run where there are no runs and no stored numbers: the Langevin figure cannot be drawn."""
    monkeypatch.chdir(tmp_path)
    out_dir = tmp_path / "out"
    assert main(["figs", "linear_vi", "fig_transformer_copy_langevin", "--out", str(out_dir), "--json"]) == 1
    res = _strict_loads(capsys.readouterr().out)
    assert set(res["drawn"]) == {"fig_linear_vi"} and set(res["not_drawn"]) == {"fig_transformer_copy_langevin"}
    assert "no sweep results" in res["not_drawn"]["fig_transformer_copy_langevin"]
    assert sorted(p.rsplit(".", 1)[1] for p in res["drawn"]["fig_linear_vi"]) == ["json", "pdf", "png"]
    assert (out_dir / "fig_linear_vi.png").stat().st_size > 1000
    assert not (out_dir / "fig_transformer_copy_langevin.png").exists()

    assert main(["figs", "transformer_copy_langevin", "--out", str(out_dir)]) == 1
    text = capsys.readouterr().out
    assert "could not draw fig_transformer_copy_langevin" in text and "drew 0 of 1" in text


def test_figs_draws_a_named_figure_and_exits_0(tmp_path, capsys):
    assert main(["figs", "fig_linear_vi", "--out", str(tmp_path)]) == 0
    assert "drew fig_linear_vi" in capsys.readouterr().out and (tmp_path / "fig_linear_vi.pdf").exists()


def test_figs_unknown_name_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["figs", "fig_nope"])
    assert e.value.code == 2
    assert "fig_nope" in capsys.readouterr().err


def test_configure_logging_follows_sys_stderr_and_adds_one_handler(monkeypatch):
    """The handler writes to the sys.stderr of the moment: after the stream it started with is
    replaced and closed (what pytest's capture does), messages reach the new one, with no
    "Logging error" report; a second call adds no second handler."""
    import io
    import logging
    import sys

    from grokphase.cli._output import _HANDLER_FLAG, configure_logging

    log = logging.getLogger("grokphase")
    before = list(log.handlers)
    first, second = io.StringIO(), io.StringIO()
    try:
        monkeypatch.setattr(sys, "stderr", first)
        configure_logging()
        configure_logging()
        ours = [h for h in log.handlers if getattr(h, _HANDLER_FLAG, False)]
        assert len(ours) == 1
        logging.getLogger("grokphase.test").info("one")
        assert first.getvalue() == "grokphase: one\n"
        monkeypatch.setattr(sys, "stderr", second)
        first.close()
        logging.getLogger("grokphase.test").info("two")
        assert second.getvalue() == "grokphase: two\n"
    finally:
        for h in log.handlers:
            if h not in before:
                log.removeHandler(h)
