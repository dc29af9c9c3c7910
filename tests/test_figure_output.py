"""paper_figs._output.sweep_figure_main: the shared main of the sweep-store figures."""

import pytest

from grokphase.paper_figs._output import FigureUnavailable, sweep_figure_main


def test_sweep_figure_main_draws_results_else_stored_numbers_else_raises(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                      # no figures/<name>.json here
    seen = {}

    def compute(runs, recompute):
        seen["args"] = (runs, recompute)
        return {"x": 1} if recompute else {}

    def draw(data, out):
        return [(data, out)]

    out = str(tmp_path / "f.png")
    assert sweep_figure_main(["--out", out, "--runs", "r", "--recompute"], "fig_x", "Doc.", compute, draw, "1 s") \
        == [({"x": 1}, out)]
    assert seen["args"] == ("r", True)
    with pytest.raises(FigureUnavailable, match="fig_x.*no sweep results in r"):
        sweep_figure_main(["--out", out, "--runs", "r"], "fig_x", "Doc.", compute, draw, "1 s")
    (tmp_path / "f.json").write_text('{"y": 2}')     # the numbers saved beside --out are redrawn
    assert sweep_figure_main(["--out", out, "--runs", "r"], "fig_x", "Doc.", compute, draw, "1 s") == [({"y": 2}, out)]
