"""The exposure study's criteria (delay, exposure rise, control, R2 paired change, R3 heads) on
constructed summaries whose verdicts are known, the counting rules, and one tiny study end to
end through the sweep layer (store reuse, a changed design refused)."""

import json

import numpy as np
import pytest
import xarray as xr

from grokphase.validation.experiments.lm_study import (PHENOMENA, R2_MEASURES, LMStudy, concept_change,
                                                       phenomenon_verdicts, run_study, study_verdicts)


def _geometry(level, n=8, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    obs = {m: (level + noise * rng.standard_normal(n)).tolist() for m in R2_MEASURES}
    return {"observed_draws": obs, "shuffled_draws": {m: [0.5] * n for m in R2_MEASURES}}


def _summary(t_train, t_val, acc_val_at, delta_ci, shares, *, rho=0.5, p=0.01, n_ckpt=6):
    tokens = [0, 100, 200, 400, 800, 1600][:n_ckpt]
    conc = [{"top_k_share": s, "uniform_top_k_share": 0.125} for s in shares]
    ph = {"delays": {"0.8": {"t_train": t_train, "t_val": t_val, "acc_val_at_t_train": acc_val_at,
                             "delta_ci": delta_ci}},
          "exposure_trend": {"rho": rho, "p_value": p},
          "splits": {"fixed": {"train": {"acc": [0.9] * n_ckpt}, "val": {"acc": [0.85] * n_ckpt}}},
          "head_concentration": conc,
          "ablation": {"drop_top": 0.3, "acc_full": 0.9, "acc_random": [0.88, 0.85, 0.9]}}
    return {"tokens": tokens, "phenomena": {"u": ph}}


def _records(levels):
    return [{"heads_concepts": {"u": {"concepts": [None, _geometry(lv, seed=i)]}}} for i, lv in enumerate(levels)]


def test_delayed_phenomenon_passes_every_criterion():
    s = _summary(100.0, 400.0, 0.3, (100.0, 700.0), [0.2, 0.3, 0.4, 0.6, 0.7, 0.7])
    v = phenomenon_verdicts(s, _records([0.5, 0.5, 0.5, 0.9, 0.9, 0.9]), "u")
    assert v["delayed"] and v["exposure_rises"]
    assert v["r2_testable"] and v["r2_pass"] and not v["dimension_falls"]
    assert v["auc_D"] == pytest.approx(0.4, abs=0.02)                  # 0.9 at t_val = 400 vs 0.5 at 200
    assert v["top2_share_after"] == 0.6 and v["r3_pass"]


@pytest.mark.parametrize("change, field", [
    (dict(t_val=150.0), "delayed"),                   # t_val < 2 t_train
    (dict(acc_val_at=0.65), "delayed"),               # proxy-val already >= 0.6 at t_train
    (dict(delta_ci=(0.0, 700.0)), "delayed"),         # interval of Delta touches 0
    (dict(t_val=float("inf")), "delayed"),            # proxy-val never reaches theta
])
def test_delay_criterion_fails(change, field):
    kw = dict(t_train=100.0, t_val=400.0, acc_val_at=0.3, delta_ci=(100.0, 700.0))
    kw.update(change)
    s = _summary(kw["t_train"], kw["t_val"], kw["acc_val_at"], kw["delta_ci"], [0.2] * 6)
    assert not phenomenon_verdicts(s, _records([0.5] * 6), "u")[field]


def test_r2_fall_and_r3_failures():
    s = _summary(100.0, 400.0, 0.3, (100.0, 700.0), [0.6, 0.6, 0.6, 0.6, 0.6, 0.6], rho=0.2, p=0.2)
    v = phenomenon_verdicts(s, _records([0.9, 0.9, 0.9, 0.4, 0.4, 0.4]), "u")
    assert v["r2_testable"] and not v["r2_pass"] and v["dimension_falls"]
    assert not v["r3_pass"]                                              # no rise from step 0
    assert not v["exposure_rises"]
    s["phenomena"]["u"]["ablation"]["acc_random"] = [0.5]               # a random ablation hurts more
    s["phenomena"]["u"]["head_concentration"][0]["top_k_share"] = 0.2
    assert not phenomenon_verdicts(s, _records([0.5] * 6), "u")["r3_pass"]


def test_concept_change_is_paired():
    # subsets whose levels vary a lot but move together: the paired interval is narrow and above 0
    spread = np.linspace(0.2, 0.8, 10)
    before = {"observed_draws": {m: spread.tolist() for m in R2_MEASURES},
              "shuffled_draws": {m: [0.5] * 10 for m in R2_MEASURES}}
    after = {"observed_draws": {m: (spread + 0.05).tolist() for m in R2_MEASURES},
             "shuffled_draws": {m: [0.5] * 10 for m in R2_MEASURES}}
    ch = concept_change(before, after)
    assert ch["auc"]["D"] == pytest.approx(0.05) and ch["auc"]["lo"] == pytest.approx(0.05)
    after["shuffled_draws"] = {m: [0.6] * 10 for m in R2_MEASURES}      # the baseline rose as much
    assert concept_change(before, after)["pr_unbiased"]["D"] == pytest.approx(-0.05)


def _ds(delayed, control=True, rises=True):
    runs, ph = delayed.shape
    v = lambda a: (("run", "phenomenon"), a)
    return xr.Dataset({"delayed": v(delayed), "exposure_rises": v(np.full(delayed.shape, rises)),
                       "r2_pass": v(delayed), "r2_testable": v(delayed), "dimension_falls": v(np.zeros_like(delayed)),
                       "r3_pass": v(np.zeros_like(delayed)), "control_at_chance": ("run", np.full(runs, control))},
                      coords={"preset": ("run", ["small"] * runs), "seed": ("run", np.arange(runs)),
                              "phenomenon": list(PHENOMENA[:ph])})


def test_counting_rules():
    d = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [0, 0, 0, 0, 0]], bool)
    v = study_verdicts(_ds(d))["small"]
    assert v["delayed_phenomena_per_seed"] == [3, 4, 0] and v["R1"] and v["R2"] and not v["R3"]
    assert not study_verdicts(_ds(d, control=False))["small"]["R1"]
    assert not study_verdicts(_ds(d, rises=False))["small"]["R1"]
    d[1, 2:] = False                                                     # only one seed with 3 of 5
    assert not study_verdicts(_ds(d))["small"]["R1"]


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory, toy_lexicon):
    from grokphase.validation.exposure.corpus import GrammarConfig, generate_corpus, write_corpus

    d = tmp_path_factory.mktemp("study")
    write_corpus(generate_corpus(toy_lexicon, GrammarConfig(n_tokens=16_000, seed=0, pairs_per_group=12, block=8,
                                                            rare_counts=(1,))), d / "corpus")
    return d


def test_tiny_study_through_the_sweep_layer(corpus_dir, monkeypatch):
    from grokphase.sweep import StoreError
    from grokphase.validation.experiments import lm_pretraining

    monkeypatch.setitem(lm_pretraining.PRESETS, "tiny", {"d_model": 16, "n_layers": 1, "n_heads": 2, "context": 16,
                                                          "batch": 4, "log_every": 8, "warmup": 2, "tokens": 512})
    design = LMStudy(corpus=str(corpus_dir / "corpus"), root=str(corpus_dir / "runs"), n_concept=4, n_boot=20,
                     n_random=2)
    ds = run_study(design, (("tiny", 0),), progress=False)
    assert ds.delayed.dims == ("run", "phenomenon") and ds.sizes["phenomenon"] == len(PHENOMENA)
    summary = json.loads((corpus_dir / "runs" / "lm_tiny_seed0" / "summary_eval.json").read_text())
    for u in PHENOMENA:                                                 # the row is the run's own summary
        t = summary["phenomena"][u]["delays"]["0.8"]["t_train"]
        assert ds.t_train.sel(phenomenon=u).item() == (np.inf if t is None else t)
    again = run_study(design, (("tiny", 0),), progress=False)           # from the store: identical
    xr.testing.assert_identical(ds, again)
    with pytest.raises(StoreError):
        run_study(LMStudy(corpus=design.corpus, root=design.root, n_concept=5), (("tiny", 0),), progress=False)

    from grokphase.paper_figs import fig_lm_exposure as fig

    data = fig.collect(design.root, runs=("lm_tiny_seed0",))
    p = data["lm_tiny_seed0"]["phenomena"]["grammar_det_noun"]
    assert p["t_train"] == summary["phenomena"]["grammar_det_noun"]["delays"]["0.8"]["t_train"]
    assert len(p["auc"]) == len(summary["steps"]) == len(p["top2_share"])
    out = corpus_dir / "fig" / "f.png"
    paths = fig.draw({"runs": data, "mirrors": {}}, out)
    assert [x.suffix for x in paths] == [".png", ".pdf", ".json"]
    again = fig.main(["--root", str(corpus_dir / "none"), "--out", str(out)])       # redrawn from the JSON
    assert json.loads(again[2].read_text())["runs"].keys() == data.keys()


def test_real_blimp_pairs_summary(corpus_dir, blimp_dir, monkeypatch):
    """Real pairs scored at every checkpoint; their exposure over our stream agrees with a direct
    count (OOV words named by the tokenizer, critical phrases found by brute force)."""
    from grokphase.validation.experiments import lm_pretraining
    from grokphase.validation.experiments.lm_evaluation import LMEvaluation, evaluate_run, summarize_run
    from grokphase.validation.exposure.corpus import load_corpus
    from grokphase.validation.exposure.minimal_pairs import annotate_critical, load_blimp

    monkeypatch.setitem(lm_pretraining.PRESETS, "tiny", {"d_model": 16, "n_layers": 1, "n_heads": 2, "context": 16,
                                                          "batch": 4, "log_every": 8, "warmup": 2, "tokens": 256})
    run = lm_pretraining.LMRun(corpus=str(corpus_dir / "corpus"), **lm_pretraining.PRESETS["tiny"])
    run_dir = corpus_dir / "real"
    lm_pretraining.run_lm_pretraining(run, run_dir, progress=False)
    evaluate_run(LMEvaluation(run_dir=str(run_dir), blimp=str(blimp_dir), n_concept=4, n_repeats=2, n_real=30))
    s = summarize_run(run_dir, n_boot=10, n_random=2)
    tokens, tok, _ = load_corpus(run.corpus)
    stream = np.asarray(tokens)[: s["tokens"][-1]].tolist()
    for uid, r in s["blimp"].items():
        assert r["n"] == 30 and len(r["acc"]) == len(s["steps"])
        pairs = annotate_critical(load_blimp(blimp_dir / f"{uid}.jsonl"))[:30]
        phrases = [tok.encode(p.critical_phrase_good) for p in pairs]
        assert r["oov_fraction"] == pytest.approx(np.mean([tok.unk_id in ph for ph in phrases]))
        seen = [tok.unk_id not in ph and any(stream[i:i + len(ph)] == ph for i in range(len(stream) - len(ph) + 1))
                for ph in phrases]
        assert r["phrase_seen_fraction"] == pytest.approx(np.mean(seen))


def test_knob_design_is_a_valid_sweep_design():
    from grokphase.sweep import design_config
    from grokphase.validation.experiments.lm_study import run_folder

    d = LMStudy(corpus="c", root="r", weight_decay=1.0)
    assert design_config(d)["weight_decay"] == 1.0
    assert run_folder(d, "small", 2).name == "lm_small_wd1_seed2"
    assert run_folder(LMStudy(corpus="c", root="r"), "small", 2).name == "lm_small_seed2"
