"""Split experiments: test-pair categories and ceilings against the closed forms, and few-step smoke
runs of the point function that check what can fail (category breakdown, the decay law)."""

import dataclasses
import json

import numpy as np
import pytest

from grokphase.numerics.uniformity import strip_ceiling, untrained_row_factor
from grokphase.sweep import Plan
from grokphase.validation.experiments import uniformity_presets as presets
from grokphase.validation.experiments.uniformity_splits import (SplitRun, config_key, point, point_random,
                                                               run_split)
from grokphase.validation.tasks import modular_dataset
from grokphase.validation.tasks.split_categories import (CATEGORIES, collapsed_ceiling, never_seen_ids,
                                                         pair_categories)


@pytest.mark.parametrize("k", [40, 67])
def test_categories_and_ceilings_of_the_strip_split(k):
    ds = modular_dataset(97, "add", 0.3, split="strip", k=k, offset=60)
    cats = pair_categories(ds)
    counts = np.bincount(cats, minlength=3)
    assert list(never_seen_ids(ds)) == list(range(min(k + 1, 60)))
    assert counts[2] == 97 * min(k + 1, 60)                 # a below d: never seen
    assert counts[1] == 97 * max(0, k - 59)                 # a in 60..k: seen only as a second operand
    assert (counts[0] + counts[1]) / cats.size == pytest.approx(ds.ceiling(), abs=1e-15)
    n_train = int(0.3 * 97 * 97)
    assert collapsed_ceiling(ds) == pytest.approx(strip_ceiling(97, k, 60, n_train, collapsed=True), abs=1e-12)


def test_rectangle_d0_has_every_id_seen():
    ds = modular_dataset(31, "add", 0.3, split="rectangle", k=10, offset=0)
    assert never_seen_ids(ds).size == 0 and set(pair_categories(ds)) == {0}
    assert collapsed_ceiling(ds) == ds.ceiling() == 1.0


TINY = dict(p=11, k=4, offset=6, d_model=8, n_heads=2, d_mlp=16, mlp_hidden=(16, 16), steps=6, log_every=1,
            lr=0.05, warmup_steps=2, dtype="float64", frac=0.5)


def _rows(run_dir):
    return [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines() if ln]


@pytest.mark.parametrize("kw", [dict(model="transformer"), dict(model="mlp", loss="mse"),
                                dict(model="mlp", one_hot=True)])
def test_smoke_run_categories_and_decay_law(tmp_path, kw):
    run = SplitRun(**TINY, **kw)
    s = run_split(run, tmp_path)
    rows = _rows(tmp_path)
    counts = s["category_counts"]
    n_test = sum(counts.values())
    for r in rows:
        total = sum(counts[f"n_{c}"] * (r[f"acc_{c}"] or 0.0) for c in CATEGORIES)
        assert total / n_test == pytest.approx(r["test_acc"], abs=1e-12)
        assert r["rms_adjacent_from_spectrum"] == pytest.approx(r["rms_adjacent"], rel=1e-10)
    # never-trained rows: zero gradient, so norm / initial = F(step) exactly (float64)
    assert s["never_seen_ids"] == [0, 1, 2, 3, 4]
    assert s["decay_law_max_rel_err"] < 1e-6
    F = untrained_row_factor(np.array([r["step"] for r in rows]), run.lr, run.weight_decay, run.warmup_steps)
    assert F[-1] < 0.85                                      # the law is not trivially 1 here
    assert s["ceiling"] == pytest.approx(strip_ceiling(11, 4, 6, int(0.5 * 121)), abs=1e-12)


def test_decay_law_check_detects_a_gradient(tmp_path):
    """Ids seen in training do not follow the law: treating them as untrained gives a large error."""
    run = SplitRun(**TINY, model="mlp")
    s = run_split(run, tmp_path)
    rows = _rows(tmp_path)
    F = untrained_row_factor(np.array([r["step"] for r in rows]), run.lr, run.weight_decay, run.warmup_steps)
    seen = [t for t in range(11 + 6) if t not in s["never_seen_ids"]]
    n0 = np.array(rows[0]["token_norms"])[seen]
    nT = np.array(rows[-1]["token_norms"])[seen]
    assert np.max(np.abs(nT / n0 / F[-1] - 1)) > 1e-2


def test_rerun_with_another_config_is_an_error_and_resume_is_exact(tmp_path):
    run = SplitRun(**TINY)
    s1 = run_split(run, tmp_path)
    s2 = run_split(run, tmp_path)          # resume: nothing left to train, same numbers
    assert s2["final"] == s1["final"]
    with pytest.raises(ValueError, match="run.lr: 0.05 != 0.1"):
        run_split(dataclasses.replace(run, lr=0.1), tmp_path)
    longer = dataclasses.replace(run, steps=run.steps + 2)        # more steps extend the same folder
    assert config_key(longer) == config_key(run)
    assert run_split(longer, tmp_path)["steps"] == run.steps + 2


def test_point_places_the_run_by_its_configuration(tmp_path):
    design = SplitRun(**TINY, run_root=str(tmp_path))
    out = point(design, k=4, weight_decay=1.0, seed=1)
    assert (tmp_path / config_key(dataclasses.replace(design, seed=1)) / "summary.json").exists()
    assert 0.0 <= out["final_test_acc"] <= 1.0 and out["ceiling"] < 1.0
    assert all(isinstance(v, float) for v in out.values())          # None -> NaN for the sweep store
    assert config_key(design) != config_key(dataclasses.replace(design, weight_decay=0.1))
    with pytest.raises(ValueError, match="point_random"):
        point(dataclasses.replace(design, split="random", k=None), k=4, weight_decay=1.0, seed=0)


def test_presets_sweep_through_run_sweep_and_resume_from_the_store(tmp_path):
    design = SplitRun(**{**TINY, "k": None, "offset": 0}, split="random", model="mlp", run_root=str(tmp_path / "runs"))
    plan = Plan(point_random, design, (("weight_decay", (0.0, 1.0)), ("init_noise", (0.0,)), ("seed", (0,))))
    ds = presets.run("uniformity-mlp", tmp_path / "store", plan=plan)
    assert ds["final_test_acc"].dims == ("weight_decay", "init_noise", "seed")
    runs = presets.runs_of("uniformity-mlp", plan)
    assert [r.weight_decay for r in runs] == [0.0, 1.0]
    summary = json.loads((tmp_path / "runs" / config_key(runs[1]) / "summary.json").read_text())
    assert float(ds["final_test_acc"].sel(weight_decay=1.0).item()) == summary["final"]["test_acc"]
    assert np.isnan(float(ds["decay_law_max_rel_err"].sel(weight_decay=1.0).item()))   # no never-seen ids
    again = presets.run("uniformity-mlp", tmp_path / "store", plan=plan, compute=False)   # store only
    assert again["final_test_acc"].equals(ds["final_test_acc"])


def test_presets_cover_the_claims_and_validate():
    strip = presets.runs_of("uniformity-strip")
    assert len(strip) == 12 and {r.k for r in strip} == {40, 50, 60, 67} and {r.offset for r in strip} == {60}
    assert all(r.split == "random" for r in presets.runs_of("uniformity-weight-decay"))
    assert {r.weight_decay for r in presets.runs_of("uniformity-weight-decay")} == {0.0, 0.1, 1.0}
    assert len(presets.runs_of("uniformity-quadratic-perturbed")) == 6
    assert set(presets.PRESETS) >= {"uniformity-rectangle", "uniformity-mlp-strip", "uniformity-mse",
                                    "uniformity-one-hot", "polygon-symbolic", "polygon-rendered"}
    with pytest.raises(ValueError, match="name must be one of"):
        presets.runs_of("nope")
    with pytest.raises(ValueError, match="need model='mlp'"):
        SplitRun(loss="mse")
    with pytest.raises(ValueError, match="k must be None for the random split"):
        SplitRun(split="random", k=4)


def test_quadratic_analytic_solution_is_exact_and_uniform(tmp_path):
    run = SplitRun(**{**TINY, "offset": 0, "steps": 2, "lr": 0.0, "k": None}, model="quadratic", init="analytic",
                   width=18, freqs=(1, 4), split="random")
    run_split(run, tmp_path)
    r = _rows(tmp_path)[-1]
    assert r["train_acc"] == r["test_acc"] == 1.0
    assert r["spacing_spread"] < 1e-12 and r["token_norm_spread"] < 1e-12
    assert r["med"] == pytest.approx(r["rms_adjacent"], rel=1e-12)
    assert sorted(r["key_frequencies"][:2]) == [1, 4]
    with pytest.raises(ValueError, match="width = 9 len"):
        SplitRun(model="quadratic", init="analytic", width=10, offset=0)


def test_quadratic_strip_rows_follow_the_decay_law(tmp_path):
    run = SplitRun(**{**TINY, "offset": 0, "k": 3}, model="quadratic", width=16, split="strip")
    s = run_split(run, tmp_path)
    assert s["untrained_ids"] == [0, 1, 2, 3] and s["never_seen_ids"] == []
    assert s["decay_law_max_rel_err"] < 1e-6
