"""The uniformity figure scripts draw what the designs computed: tiny real runs -> compute -> draw."""

import dataclasses
import json

import pytest

from grokphase.paper_figs import (fig_uniformity_ablations, fig_uniformity_fourier, fig_uniformity_measures,
                                  fig_uniformity_polygon, fig_uniformity_quadratic, fig_uniformity_splits,
                                  fig_uniformity_weight_decay)
from grokphase.validation.experiments.fourier_identity import FourierIdentity, compute
from grokphase.validation.experiments.polygon_sum import PolygonRun
from grokphase.validation.experiments.polygon_sum import point as polygon_point
from grokphase.validation.experiments.uniformity_splits import SplitRun, point, point_random

TINY = dict(p=11, d_model=8, n_heads=2, d_mlp=16, mlp_hidden=(16, 16), steps=4, log_every=1, lr=0.05,
            dtype="float64", frac=0.5)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("runs"))
    strip = SplitRun(**TINY, split="strip", k=4, offset=6, run_root=root)
    rand = SplitRun(**TINY, split="random", k=None, offset=0, model="mlp", run_root=root)
    quad = SplitRun(**{**TINY, "lr": 0.0}, split="random", k=None, offset=0, model="quadratic", init="analytic",
                    width=18, freqs=(1, 3), run_root=root)
    made = [dataclasses.replace(strip, seed=s) for s in (0, 1)] + [dataclasses.replace(rand, weight_decay=w)
                                                                  for w in (0.0, 1.0)] + [quad]
    for r in made:
        if r.split == "random":
            point_random(r, weight_decay=r.weight_decay, init_noise=r.init_noise, seed=r.seed)
        else:
            point(r, k=r.k, weight_decay=r.weight_decay, seed=r.seed)
    poly = PolygonRun(steps=2, log_every=1, d_embed=4, hidden=(8,), run_root=root)
    polygon_point(poly, weight_decay=poly.weight_decay, seed=poly.seed)
    return {"split": made, "polygon": [poly], "root": root}


def test_fourier_identity_figure(tmp_path):
    data = compute(FourierIdentity(primes=(5, 13), dims=(1, 4), n_random=2, clock_k=(2,), noise=(0.0, 0.1),
                                   exact_primes=(3,)))
    assert max(r["rel_err"] for r in data["rows"]) < 1e-12 and data["exact"] == {"3": True}
    clock = [r for r in data["rows"] if r["kind"] == "clock" and r["sigma"] == 0.0]
    assert clock and all(r["spread"] < 1e-12 for r in clock)
    out = fig_uniformity_fourier.draw(data, tmp_path / "f.png")
    assert [p.suffix for p in out] == [".png", ".pdf", ".json"]


def test_split_figures_draw_from_runs(tmp_path, runs):
    out = fig_uniformity_splits.main(["--out", str(tmp_path / "s.png")], runs=runs["split"][:2])
    table = json.loads((tmp_path / "s.json").read_text())["runs"]
    assert len(out) == 3 and {r["seed"] for r in table} == {0, 1}
    assert all(r["ceiling"] < 1 and r["decay_law_max_rel_err"] < 1e-6 for r in table)
    assert fig_uniformity_weight_decay.main(["--out", str(tmp_path / "w.png")], runs=runs["split"][2:4])
    assert fig_uniformity_ablations.main(["--out", str(tmp_path / "a.png")], runs=runs["split"][2:4])
    assert fig_uniformity_quadratic.main(["--out", str(tmp_path / "q.png")], runs=runs["split"][4:])
    assert fig_uniformity_polygon.main(["--out", str(tmp_path / "p.png")], runs=runs["polygon"])


def test_measures_figure_table(tmp_path, runs):
    fig_uniformity_measures.main(["--out", str(tmp_path / "m.png")], runs=runs["split"])
    table = json.loads((tmp_path / "m.json").read_text())["table"]
    assert table and {t["measure"] for t in table} >= {"med", "weight_norm", "excluded_loss"}
    assert all(t["run"].startswith("quadratic") for t in table)    # the only run that memorised


def test_figures_skip_without_runs(tmp_path, monkeypatch):
    """No finished runs: redrawn from the stored numbers (figures/<name>.json) if there are any,
    else skipped."""
    missing = [SplitRun(**TINY, split="random", k=None, offset=0, run_root=str(tmp_path / "none"))]
    work = tmp_path / "work"
    (work / "figures").mkdir(parents=True)
    monkeypatch.chdir(work)                          # no committed figures/<name>.json here
    assert fig_uniformity_weight_decay.main(["--out", str(tmp_path / "x.png")], runs=missing) == []
    assert not (tmp_path / "x.png").exists()
    stored = {"runs": [{"label": "wd 1, seed 0", "weight_decay": 1.0, "summary": {},
                        "curves": {"step": [1, 10], **{k: [0.5, 0.4] for k in fig_uniformity_weight_decay.KEYS}}}]}
    (work / "figures" / "fig_uniformity_weight_decay.json").write_text(json.dumps(stored))
    drawn = fig_uniformity_weight_decay.main(["--out", str(tmp_path / "y.png")], runs=missing)
    assert (tmp_path / "y.png").exists() and json.loads((tmp_path / "y.json").read_text())["runs"] == stored["runs"]
    assert len(drawn) == 3
